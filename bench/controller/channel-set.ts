import { UpdateChannel, type ChannelCounters, type ChannelObserver, type ChannelTarget } from './channel.js'
import type { RegisteredNode } from './client.js'
import { max } from './stats.js'

/**
 * The N measured update channels, and the watches that time one change's fan-out: a watch on a public key
 * records, per channel, when the first delta (or full map) carrying that node's record arrived; a watch on a
 * policy version, when the first line carrying `policy.version` equal to it arrived.
 */

/** Arrivals of one change on the measured channels. */
export interface Arrivals {
  /** performance.now() at arrival, per channel index; NaN until it arrives. */
  arrivedAtMs: Float64Array
  /** Size of the line that carried the change, per channel (bytes, newline included); 0 until it arrives. */
  lineBytes: Float64Array
  /** Upserts in the delta that carried it, per channel (for a join, 1 when the controller sends one change per delta). */
  upserts: Float64Array
  /** Channels that got it in a full map instead of a delta (they had fallen behind). */
  viaFull: number
  remaining: number
  /** Resolves when every channel has it. */
  done: Promise<void>
}

/** Arrivals of one node's record. */
export interface JoinWatch extends Arrivals { publicKey: string }

/** Arrivals of one access policy version. */
export interface PolicyWatch extends Arrivals { version: number }

interface Watching<W extends Arrivals> { watch: W, resolve: () => void }

/** Sums of every channel's counters. */
export interface SetCounters extends ChannelCounters {
  wireBytes: number
  closed: number
}

/** Where a channel connects: controller `controller` of the run (0 when there is one), under its epoch. */
export interface SetTarget { controller: number, origin: string, host: string, port: number, epoch: string }

/** A set of measured channels, one per simulated node. */
export class ChannelSet {
  readonly channels: UpdateChannel[] = []
  /** The controller each channel is open at, by channel index. */
  readonly controllerOf: number[] = []
  private readonly watches = new Map<string, Watching<JoinWatch>>()
  private readonly policyWatches = new Map<number, Watching<PolicyWatch>>()

  /**
   * Opens one channel per node at the controller `targetOf` names, at most `concurrency` connecting at once.
   * `since(target)` is the version a simulated daemon holds when its channel opens (the newest of that
   * controller's it has heard of), so it starts current, as a daemon that has been following the mesh would,
   * rather than fetching a full map.
   */
  async openAll (targetOf: (node: RegisteredNode) => SetTarget, nodes: readonly RegisteredNode[], since: (target: SetTarget) => number | null,
    concurrency: number, onProgress: (opened: number) => void): Promise<void> {
    let next = 0
    let opened = 0
    const worker = async (): Promise<void> => {
      while (next < nodes.length) {
        const i = next++
        const node = nodes[i]!
        const ch = new UpdateChannel(i, this.observer)
        const target = targetOf(node)
        this.channels[i] = ch
        this.controllerOf[i] = target.controller
        const t: ChannelTarget = { ...target, credential: node.credential, sourceIp: node.sourceIp, since: since(target) }
        await ch.open(t)
        onProgress(++opened)
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, nodes.length) }, worker))
  }

  /** Starts timing the arrival of `publicKey`'s record on every channel. Call before the join request goes out. */
  watch (publicKey: string): JoinWatch {
    return this.startWatch(this.watches, publicKey, { publicKey })
  }

  /** Stops timing `publicKey` (after it completed or timed out). */
  unwatch (publicKey: string): void {
    this.watches.delete(publicKey)
  }

  /** Starts timing the arrival of policy version `version` on every channel. Call before the policy is sent. */
  watchPolicy (version: number): PolicyWatch {
    return this.startWatch(this.policyWatches, version, { version })
  }

  /** Stops timing policy version `version`. */
  unwatchPolicy (version: number): void {
    this.policyWatches.delete(version)
  }

  private startWatch<K, W extends Arrivals> (map: Map<K, Watching<W>>, key: K, what: Omit<W, keyof Arrivals>): W {
    const n = this.channels.length
    let resolveDone!: () => void
    const done = new Promise<void>(resolve => { resolveDone = resolve })
    const arrivals: Arrivals = {
      arrivedAtMs: new Float64Array(n).fill(NaN),
      lineBytes: new Float64Array(n),
      upserts: new Float64Array(n),
      viaFull: 0,
      remaining: n,
      done
    }
    const watch = { ...what, ...arrivals } as W
    map.set(key, { watch, resolve: resolveDone })
    if (n === 0) resolveDone()
    return watch
  }

  private readonly observer: ChannelObserver = {
    record: (c, r, atMs, lineBytes) => {
      if (this.watches.size === 0) return
      const w = this.watches.get(r.publicKey)
      if (w !== undefined) this.arrived(w, c, atMs, lineBytes, 'delta')
    },
    policy: (c, version, atMs, lineBytes) => {
      const w = this.policyWatches.get(version)
      if (w !== undefined) this.arrived(w, c, atMs, lineBytes, 'delta')
    },
    bulk: (c, line, atMs, kind) => {
      // Inside a JSON string every quote is escaped, so these patterns, which hold quotes, match only the line's own
      // fields: a policy text that quotes them cannot fake an arrival.
      for (const w of this.watches.values()) if (line.includes(`"publicKey":"${w.watch.publicKey}"`)) this.arrived(w, c, atMs, line.length + 1, kind)
      for (const w of this.policyWatches.values()) if (line.includes(`"policy":{"version":${w.watch.version},`)) this.arrived(w, c, atMs, line.length + 1, kind)
    }
  }

  private arrived (w: Watching<Arrivals>, c: UpdateChannel, atMs: number, lineBytes: number, kind: 'delta' | 'full'): void {
    const { watch } = w
    if (!Number.isNaN(watch.arrivedAtMs[c.index]!)) return
    watch.arrivedAtMs[c.index] = atMs
    watch.lineBytes[c.index] = lineBytes
    watch.upserts[c.index] = kind === 'delta' ? c.lastDeltaUpserts : 0
    if (kind === 'full') watch.viaFull++
    if (--watch.remaining === 0) w.resolve()
  }

  /** The lowest and highest netmap version the channels open at `controller` hold; null when it has none. */
  versions (controller: number): { min: number, max: number } | null {
    let min = Infinity
    let max = -Infinity
    for (const [i, c] of this.channels.entries()) {
      if (this.controllerOf[i] !== controller) continue
      if (c.version < min) min = c.version
      if (c.version > max) max = c.version
    }
    return min === Infinity ? null : { min, max }
  }

  /** Sums of all channels' counters now. */
  counters (): SetCounters {
    const s: SetCounters = {
      bytes: { full: 0, delta: 0, ping: 0, other: 0 },
      lines: { full: 0, delta: 0, ping: 0, other: 0 },
      gaps: 0,
      malformed: 0,
      wireBytes: 0,
      closed: 0
    }
    for (const c of this.channels) {
      for (const k of ['full', 'delta', 'ping', 'other'] as const) {
        s.bytes[k] += c.counters.bytes[k]
        s.lines[k] += c.counters.lines[k]
      }
      s.gaps += c.counters.gaps
      s.malformed += c.counters.malformed
      s.wireBytes += c.wireBytes()
      if (c.closedReason !== null) s.closed++
    }
    return s
  }

  /** Closes every channel. */
  closeAll (): void {
    for (const c of this.channels) c.close()
  }
}

/** `b - a` for every counter: what the channels received between two readings. */
export function counterDelta (a: SetCounters, b: SetCounters): SetCounters {
  const d = (k: 'full' | 'delta' | 'ping' | 'other', which: 'bytes' | 'lines'): number => b[which][k] - a[which][k]
  return {
    bytes: { full: d('full', 'bytes'), delta: d('delta', 'bytes'), ping: d('ping', 'bytes'), other: d('other', 'bytes') },
    lines: { full: d('full', 'lines'), delta: d('delta', 'lines'), ping: d('ping', 'lines'), other: d('other', 'lines') },
    gaps: b.gaps - a.gaps,
    malformed: b.malformed - a.malformed,
    wireBytes: b.wireBytes - a.wireBytes,
    closed: b.closed - a.closed
  }
}

/** What a watch measured, from `t0`: the channels that got the change, and how long each took. */
export interface Delivery {
  /** t0 -> arrival, per channel that got it, ms. */
  perChannelMs: number[]
  /** Size of the line that carried it, per channel that got it (bytes, newline included). */
  lineBytes: number[]
  /** Upserts in that delta, per channel that got it in a delta. */
  upserts: number[]
  /** t0 -> the first channel got it, ms; null when none did. */
  firstMs: number | null
  /** t0 -> the last channel got it, ms; null when some never did. */
  timeToAllMs: number | null
  /** Channels that did not get it. */
  missing: number
}

/** Waits until every channel has `w`'s change, or at most `timeoutMs`. */
export async function arrivedOrTimeout (w: Arrivals, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<void>(resolve => { timer = setTimeout(resolve, timeoutMs) })
  await Promise.race([w.done, timedOut])
  clearTimeout(timer)
}

/**
 * Per controller k < `controllers`: t0 -> the last of the channels open at k got `w`'s change, ms; null when
 * some of them never did, or k has none. `controllerOf` is the set's channel -> controller map.
 */
export function timeToAllByController (w: Arrivals, t0: number, controllerOf: readonly number[], controllers: number): Array<number | null> {
  const last: Array<number | null> = new Array(controllers).fill(null)
  const missing: boolean[] = new Array(controllers).fill(false)
  for (let i = 0; i < w.arrivedAtMs.length; i++) {
    const k = controllerOf[i]!
    const at = w.arrivedAtMs[i]!
    if (Number.isNaN(at)) missing[k] = true
    else last[k] = Math.max(last[k] ?? -Infinity, at - t0)
  }
  return last.map((ms, k) => (missing[k] ? null : ms))
}

/** `w`'s arrivals so far, measured from `t0` (performance.now() when the change was sent). */
export function delivery (w: Arrivals, t0: number): Delivery {
  const d: Delivery = { perChannelMs: [], lineBytes: [], upserts: [], firstMs: null, timeToAllMs: null, missing: w.remaining }
  for (let i = 0; i < w.arrivedAtMs.length; i++) {
    const at = w.arrivedAtMs[i]!
    if (Number.isNaN(at)) continue
    d.perChannelMs.push(at - t0)
    d.lineBytes.push(w.lineBytes[i]!)
    if (w.upserts[i]! > 0) d.upserts.push(w.upserts[i]!)
  }
  if (d.perChannelMs.length > 0) d.firstMs = Math.min(...d.perChannelMs)
  if (w.remaining === 0) d.timeToAllMs = max(d.perChannelMs)
  return d
}
