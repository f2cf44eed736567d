/**
 * The daemon's routes, both ways: what this node advertises (sent to the controller each time the update
 * channel opens, forwarded and source-NATed on this host) and which node carries each route it uses (chosen
 * at every reconcile from its own SWIM view: route-choice.ts). The Daemon calls it; it owns no SWIM and no device.
 */
import type { Clock, Timer } from '../clock.js'
import type { Logger } from '../log.js'
import type { AdvertiseRequest } from '../wire/api.js'
import type { NodeRecord } from '../wire/netmap.js'
import type { DesiredConfig } from './desired.js'
import { enableForwarding } from './forwarding.js'
import { KernelRoutes } from './kernel-routes.js'
import { acceptedRoutes, choosePrimaries, withRoutes } from './route-choice.js'
import type { Netns } from './wg/exec.js'

/** A failed advertisement is sent again after this long (while the update channel stays open). */
const ADVERTISE_RETRY_MS = 5000

/** Options of DaemonRoutes. */
export interface DaemonRoutesOptions {
  selfId: string
  ifname: string
  /** What this node advertises (config). */
  advertise: AdvertiseRequest
  acceptRoutes: boolean
  snat: boolean
  /** The interface was created by this start (not adopted): it has no routes to find. */
  freshInterface: boolean
  holdDownMs: number
  /** Sends the advertisement to the controller (`PUT /v1/node/routes`). */
  send: (req: AdvertiseRequest) => Promise<void>
  /** Asks for a reconcile: a waiting router's hold-down ended. */
  reconcile: () => void
  clock: Clock
  log: Logger
  netns?: Netns
}

/** What DaemonRoutes has done; all monotonic. */
export interface RouteCounters {
  primaryChanges: number
  advertisements: number
  advertiseFailures: number
  kernelErrors: number
}

/** Routes this node advertises and uses; see the file comment. */
export class DaemonRoutes {
  readonly counters: RouteCounters = { primaryChanges: 0, advertisements: 0, advertiseFailures: 0, kernelErrors: 0 }
  private primaries = new Map<string, string>()
  private readonly aliveSince = new Map<string, number>()
  private lastDown: ReadonlySet<string> = new Set()
  private readonly kernel: KernelRoutes
  private recheck: Timer | undefined
  private retry: Timer | undefined
  private stopped = false

  constructor (private readonly o: DaemonRoutesOptions) {
    this.kernel = new KernelRoutes({ ifname: o.ifname, netns: o.netns, log: o.log, fresh: o.freshInterface })
  }

  /** Which node carries each route now (route -> node id). */
  get current (): ReadonlyMap<string, string> { return this.primaries }

  /** The routes the kernel sends into the interface now. */
  get kernelRoutes (): string[] { return this.kernel.routes }

  /** On a router: forwarding and NAT on. Throws DeviceError when nft fails. */
  async start (): Promise<void> {
    if (this.o.advertise.routes.length > 0 || this.o.advertise.exitNode) {
      await enableForwarding({ ifname: this.o.ifname, snat: this.o.snat, netns: this.o.netns, log: this.o.log })
    }
  }

  stop (): void {
    this.stopped = true
    this.recheck?.cancel()
    this.retry?.cancel()
  }

  /** The update channel opened: (re)send the advertisement, so the controller's record follows this node's flags. */
  connected (): void {
    this.retry?.cancel()
    this.o.send(this.o.advertise).then(() => { this.counters.advertisements++ }, (err: unknown) => {
      this.counters.advertiseFailures++
      this.o.log.warn({ event: 'routes.advertise.failed', err: (err as Error).message }, 'cannot send this node\'s routes to the controller; retrying')
      if (!this.stopped) this.retry = this.o.clock.setTimeout(() => this.connected(), ADVERTISE_RETRY_MS)
    })
  }

  /**
   * `cfg` with every used route in its primary's AllowedIPs, given the netmap and who SWIM holds down. Logs each
   * primary change with its reason, and schedules a reconcile for when a waiting router's hold-down ends.
   */
  apply (cfg: DesiredConfig, nodes: readonly NodeRecord[], down: ReadonlySet<string>): DesiredConfig {
    const now = this.o.clock.now()
    for (const id of this.lastDown) if (!down.has(id)) this.aliveSince.set(id, now)
    this.lastDown = new Set(down)
    if (!this.o.acceptRoutes) return cfg
    const choice = choosePrimaries({
      nodes,
      selfId: this.o.selfId,
      down,
      aliveSince: this.aliveSince,
      now,
      holdDownMs: this.o.holdDownMs,
      previous: this.primaries,
      own: this.o.advertise.routes
    })
    const name = (id: string | null): string => id === null ? 'none' : nodes.find(n => n.id === id)?.hostname ?? id
    for (const c of choice.changes) {
      this.counters.primaryChanges++
      this.o.log.info({ event: 'routes.primary', route: c.route, from: c.from, to: c.to, reason: c.reason },
        `route ${c.route}: ${name(c.from)} -> ${name(c.to)} (${c.reason})`)
    }
    this.primaries = choice.primaries
    this.recheck?.cancel()
    this.recheck = undefined
    if (choice.recheckAt !== null && !this.stopped) this.recheck = this.o.clock.setTimeout(() => this.o.reconcile(), Math.max(0, choice.recheckAt - now))
    return withRoutes(cfg, choice.primaries)
  }

  /** Points every used route at the interface (all enabled routes of other nodes, with or without a live router). */
  async syncKernel (nodes: readonly NodeRecord[]): Promise<void> {
    try {
      await this.kernel.sync(this.o.acceptRoutes ? acceptedRoutes(nodes, this.o.selfId, this.o.advertise.routes) : [])
    } catch (err) {
      this.counters.kernelErrors++
      this.o.log.error({ event: 'routes.kernel.error', err: (err as Error).message }, 'cannot set the kernel routes; retrying at the next reconcile')
    }
  }
}
