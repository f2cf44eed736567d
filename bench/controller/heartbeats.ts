import type { HeartbeatRequest } from '../../lib/wire/api.js'
import type { ApiClient, RegisteredNode } from './client.js'

/**
 * Heartbeats of every simulated node at the controller's own interval, spread evenly over the interval:
 * with n nodes and interval I the load is a steady n / I requests per ms, sent round-robin, rather than n
 * requests in a burst every I ms. Nodes can be added while it runs (joins).
 */

/** Figures of the heartbeat load since the last reset. */
export interface HeartbeatFigures {
  sent: number
  ok: number
  /** Non-2xx answers and transport errors, by status (or 'error'). */
  failed: Record<string, number>
  /** Due heartbeats not sent because `maxInFlight` requests were already waiting: the controller fell behind. */
  skipped: number
  /** Round-trip times of answered heartbeats, ms. */
  latenciesMs: number[]
}

/** The figures of several loads (one per controller) as one. */
export function mergeHeartbeatFigures (all: readonly HeartbeatFigures[]): HeartbeatFigures {
  const m: HeartbeatFigures = { sent: 0, ok: 0, failed: {}, skipped: 0, latenciesMs: [] }
  for (const f of all) {
    m.sent += f.sent
    m.ok += f.ok
    m.skipped += f.skipped
    for (const [k, v] of Object.entries(f.failed)) m.failed[k] = (m.failed[k] ?? 0) + v
    for (const l of f.latenciesMs) m.latenciesMs.push(l)
  }
  return m
}

/** Tuning of the load generator. */
export interface HeartbeatLoadOptions {
  intervalMs: number
  /** Scheduler tick, ms. Default 10: fine enough that 10,000 nodes at a 10 s interval go out 10 at a time. */
  tickMs?: number
  /** Cap on outstanding requests. Default 4000: beyond that the controller is seconds behind and more queueing only hides it. */
  maxInFlight?: number
  /** The netmap version node `i` reports having applied (its channel's version), or undefined. */
  versionOf: (node: RegisteredNode) => number | undefined
}

/** The running heartbeat load. */
export class HeartbeatLoad {
  private readonly nodes: RegisteredNode[] = []
  private cursor = 0
  private owed = 0
  private inFlight = 0
  private lastTickMs = 0
  private timer: NodeJS.Timeout | null = null
  private figures: HeartbeatFigures = HeartbeatLoad.empty()
  /** The newest netmap version any heartbeat answer named (-1 before the first); a fresh channel asks `since` it. */
  latestVersion = -1

  constructor (private readonly client: ApiClient, private readonly opts: HeartbeatLoadOptions) {}

  private static empty (): HeartbeatFigures {
    return { sent: 0, ok: 0, failed: {}, skipped: 0, latenciesMs: [] }
  }

  /** Adds a node to the rotation; the rate grows to (nodes / interval). */
  add (node: RegisteredNode): void {
    this.nodes.push(node)
  }

  /**
   * Adds a node and sends its first heartbeat at once, as a daemon's control link does when it starts; resolves
   * when that one is answered (or failed). On etcd the endpoint a first heartbeat reports reaches the other
   * controllers as a netmap change, which then falls in the phase that added the node.
   */
  async addNow (node: RegisteredNode): Promise<void> {
    this.add(node)
    await this.send(node)
  }

  get size (): number { return this.nodes.length }

  /** Starts ticking (idempotent). */
  start (): void {
    if (this.timer !== null) return
    this.lastTickMs = performance.now()
    this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? 10)
  }

  /** Stops sending; requests already out still complete. */
  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** Returns the figures since the last call and starts counting afresh. */
  takeFigures (): HeartbeatFigures {
    const f = this.figures
    this.figures = HeartbeatLoad.empty()
    return f
  }

  /** Resolves once no heartbeat is outstanding, or after `timeoutMs`. */
  async drain (timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs
    while (this.inFlight > 0 && performance.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
  }

  private tick (): void {
    const now = performance.now()
    const n = this.nodes.length
    if (n === 0) { this.lastTickMs = now; return }
    // Fractional heartbeats carry over, so the long-run rate is exactly n per interval whatever the tick jitter.
    this.owed += ((now - this.lastTickMs) * n) / this.opts.intervalMs
    this.lastTickMs = now
    const maxInFlight = this.opts.maxInFlight ?? 4000
    while (this.owed >= 1) {
      this.owed -= 1
      const node = this.nodes[this.cursor]!
      this.cursor = (this.cursor + 1) % n
      if (this.inFlight >= maxInFlight) { this.figures.skipped++; continue }
      void this.send(node)
    }
  }

  private async send (node: RegisteredNode): Promise<void> {
    const req: HeartbeatRequest = {
      endpoints: node.endpoints,
      listenPort: node.listenPort,
      netmapVersion: this.opts.versionOf(node),
      agentVersion: 'weft-bench',
      swim: { incarnation: 0, suspect: [], dead: [] }
    }
    const figures = this.figures
    const t0 = performance.now()
    this.inFlight++
    figures.sent++
    await this.client.heartbeat(node, req).then(res => {
      if (res.version > this.latestVersion) this.latestVersion = res.version
      figures.ok++
      figures.latenciesMs.push(performance.now() - t0)
    }, (err: unknown) => {
      const key = typeof (err as { statusCode?: unknown }).statusCode === 'number' ? String((err as { statusCode: number }).statusCode) : 'error'
      figures.failed[key] = (figures.failed[key] ?? 0) + 1
    }).finally(() => { this.inFlight-- })
  }
}
