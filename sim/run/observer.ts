/**
 * Watches every node's WireGuard peers from outside the daemons: reads each interface through its UAPI socket
 * (reachable from the host namespace) on a fixed cadence and keeps, per observer node and per peer key, the
 * history of when the peer appeared and disappeared. Detection and convergence figures are computed from this
 * history, not from what the daemons log about themselves.
 */
import { uapiRequest, uapiSocketPath } from '../../lib/daemon/wg/uapi-socket.js'
import { GET_REQUEST, parseGet, rememberPublicKey } from '../../lib/daemon/wg/uapi.js'
import type { Clock } from '../../lib/clock.js'
import { isDeviceTimeout } from '../../lib/errors.js'

/**
 * One change seen from outside: at `tMs` (run time), `observer`'s device gained or lost the peer `key`.
 * `deviceGone`: the loss is only that the observer's own device stopped answering (crash), not a removal.
 */
export interface PeerChange { tMs: number, observer: number, key: string, present: boolean, deviceGone: boolean }

/** Options of PeerObserver. */
export interface ObserverOptions {
  /** Interface name of node i. */
  ifname: (i: number) => string
  nodes: number
  /** Milliseconds between two reads of every device. Default (from the runner): 200-1000 ms by N, see defaultTickMs. */
  tickMs: number
  /** Run start on `clock`; every recorded time is relative to it. */
  t0: number
  clock: Clock
  /** Called after each complete pass over all devices, with the pass's time. */
  onTick?: (tMs: number) => void
  /** Reads in flight at once. Default: DEFAULT_READERS (every device, at the sizes the sim runs). */
  readers?: number
  /** How long one read may take before its device is skipped for this pass. Default: DEFAULT_READ_TIMEOUT_MS. */
  readTimeoutMs?: number
  /** UAPI socket of node i. Default: wireguard-go's, from `ifname` (tests point it elsewhere). */
  socketPath?: (i: number) => string
}

/**
 * Reads in flight at once, and how long one may take. A pass is as long as its slowest reads, so both are set
 * for a loaded host, where a nice-10 wireguard-go waits seconds for the CPU: with fewer readers or a shorter bound a
 * starved device holds a reader and gives nothing, and passes fall seconds behind the daemons' own logs. 10 s is
 * above every read seen but a few dozen in an N=200 run (docs/sim.md, "How it measures").
 */
export const DEFAULT_READERS = 256
export const DEFAULT_READ_TIMEOUT_MS = 10_000

/**
 * Read cadence for N nodes: one pass costs about N UAPI gets of N-1 peers each, so it grows with N^2 bytes
 * and the reading itself competes with the mesh for the CPU. Default: 200 ms up to 20 nodes (a tenth of a
 * ~2 s detection), N*10 ms above, capped at 2000 ms. At 199 peers one get costs wireguard-go 0.8 ms and
 * the reader 1.3 ms (66 KiB of reply; `node dist/bench/uapi-cost.js 200`), so a pass at N=200 is 0.4
 * CPU-seconds: 20 % of a core at the cap, while the `lan` preset those runs use detects in 10-20 s.
 */
export function defaultTickMs (nodes: number): number {
  return Math.min(2000, Math.max(200, nodes * 10))
}

/** Peer sets of every node, read through UAPI, with the history of every change. */
export class PeerObserver {
  /** Latest peer set per node; absent while its device cannot be read (not started, crashed). */
  readonly current = new Map<number, Set<string>>()
  /** Public key of each node's own device, learnt from its first successful read. */
  readonly keyOf = new Map<number, string>()
  /** Every change, in time order. */
  readonly changes: PeerChange[] = []
  /** Per observer, per key: [tMs, present, deviceGone] transitions, for lookups. */
  private readonly history = new Map<number, Map<string, Array<[number, boolean, boolean]>>>()
  private readonly failedReads = new Map<number, number>()
  /** Per node: its device's public key, derived once rather than at every read (0.8 ms each, 200 reads a second at N=200). */
  private readonly publicKeyOf = new Map<number, (privateHex: string) => string>()
  private running = false
  private loop: Promise<void> | null = null
  passes = 0
  /** How long each pass over every device took, in ms: the real resolution of every timing (a loaded host stretches it past tickMs). */
  readonly passMs: number[] = []
  /** How long each answered read took, request to complete reply, in ms. */
  readonly readMs: number[] = []
  /** Reads that failed for any reason (a device not started yet is one), and of those, the ones out of time. */
  readErrors = 0
  readTimeouts = 0

  constructor (private readonly o: ObserverOptions) {}

  /** Milliseconds since run start. */
  now (): number { return this.o.clock.now() - this.o.t0 }

  /** Starts the read loop; each pass reads all devices, `readers` at a time. */
  start (): void {
    if (this.running) return
    this.running = true
    this.loop = (async () => {
      while (this.running) {
        const began = this.o.clock.now()
        await this.pass()
        const wait = this.o.tickMs - (this.o.clock.now() - began)
        if (wait > 0 && this.running) await new Promise(resolve => setTimeout(resolve, wait))
      }
    })()
  }

  /** Stops the loop after the pass in progress. */
  async stop (): Promise<void> {
    this.running = false
    await this.loop
  }

  /** One pass over every device now; also usable without the loop. */
  async pass (): Promise<void> {
    const began = this.o.clock.now()
    const idx = Array.from({ length: this.o.nodes }, (_, i) => i)
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < idx.length) await this.readOne(idx[next++]!)
    }
    const readers = Math.max(1, Math.min(idx.length, this.o.readers ?? DEFAULT_READERS))
    await Promise.all(Array.from({ length: readers }, worker))
    this.passes++
    this.passMs.push(this.o.clock.now() - began)
    this.o.onTick?.(this.now())
  }

  private async readOne (i: number): Promise<void> {
    let peers: Set<string>
    let own: string | null
    try {
      let derive = this.publicKeyOf.get(i)
      if (derive === undefined) this.publicKeyOf.set(i, derive = rememberPublicKey())
      const path = this.o.socketPath?.(i) ?? uapiSocketPath(this.o.ifname(i))
      const asked = this.o.clock.now()
      const reply = await uapiRequest(path, GET_REQUEST, this.o.clock, this.o.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS)
      this.readMs.push(this.o.clock.now() - asked)
      const state = parseGet(reply, derive)
      peers = new Set(state.peers.map(p => p.publicKey))
      own = state.publicKey
    } catch (err) {
      // A slow answer (a loaded machine) says nothing about the peers: keep the last view. Only a socket that
      // is missing or refuses (no wireguard-go behind it), twice in a row, means the device is gone; its peers
      // then count as absent, marked so that nobody mistakes this for a removal decision.
      this.readErrors++
      const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code
      if (isDeviceTimeout(err)) this.readTimeouts++
      if (code !== 'ENOENT' && code !== 'ECONNREFUSED') return
      const fails = (this.failedReads.get(i) ?? 0) + 1
      this.failedReads.set(i, fails)
      const before = this.current.get(i)
      if (fails >= 2 && before !== undefined) {
        const t = this.now()
        for (const k of before) this.record(t, i, k, false, true)
        this.current.delete(i)
      }
      return
    }
    this.failedReads.set(i, 0)
    const t = this.now()
    if (own !== null) this.keyOf.set(i, own)
    const before = this.current.get(i) ?? new Set<string>()
    for (const k of peers) if (!before.has(k)) this.record(t, i, k, true, false)
    for (const k of before) if (!peers.has(k)) this.record(t, i, k, false, false)
    this.current.set(i, peers)
  }

  private record (tMs: number, observer: number, key: string, present: boolean, deviceGone: boolean): void {
    this.changes.push({ tMs, observer, key, present, deviceGone })
    let per = this.history.get(observer)
    if (per === undefined) this.history.set(observer, per = new Map())
    let h = per.get(key)
    if (h === undefined) per.set(key, h = [])
    h.push([tMs, present, deviceGone])
  }

  /** Whether `observer` had `key` as a peer at run time `tMs` (by the last read at or before it). */
  presentAt (observer: number, key: string, tMs: number): boolean {
    const h = this.history.get(observer)?.get(key)
    if (h === undefined) return false
    let v = false
    for (const [t, p] of h) { if (t > tMs) break; v = p }
    return v
  }

  /**
   * First run time at or after `fromMs` at which `observer`'s device was seen to gain (`present`) or drop the
   * key by itself (its own device going away does not count); null if never.
   */
  firstAfter (observer: number, key: string, fromMs: number, present: boolean): number | null {
    const h = this.history.get(observer)?.get(key) ?? []
    for (const [t, p, gone] of h) if (t >= fromMs && p === present && !gone) return t
    return null
  }
}
