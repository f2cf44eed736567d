import type { Netmap, NetmapDelta, NetmapMessage, NodeRecord } from '../wire/netmap.js'

/**
 * The versioned netmap and its recent history. Changes made in one tick are coalesced into one version, and
 * versions are at least `minIntervalMs` apart: a change arriving sooner after the last version waits for the
 * interval's end, together with every other change made meanwhile (a removal does not wait);
 * each version's delta is serialized once (one NDJSON line) and handed to `onDelta`, which writes the same
 * Buffer to every open channel. A client `since` a version still in history catches up with one merged
 * delta; anyone else gets the full map.
 */
export class NetmapLog {
  private readonly nodes = new Map<string, NodeRecord>()
  private readonly pendingUpsert = new Map<string, NodeRecord>()
  private readonly pendingRemove = new Set<string>()
  private readonly history: NetmapDelta[] = []
  /** The pending publication (an immediate or, within the interval, a timer), or null. */
  private scheduled: { timed: boolean, cancel: () => void } | null = null
  private lastPublishAt = -Infinity
  private snapshotCache: Netmap | null = null
  private version_ = 1

  /** `onDelta` receives each new version's delta and its serialized line (ends in `\n`). */
  constructor (
    readonly epoch: string,
    readonly cidr: string,
    private readonly historyLimit: number,
    private readonly onDelta: (line: Buffer, delta: NetmapDelta) => void,
    private readonly minIntervalMs = 0,
    /** Monotonic ms; the pacing is about real work per second, so it never follows a test's fake clock. */
    private readonly now: () => number = () => performance.now()
  ) {}

  /** Sets the records of version 1 at start-up (no delta is published). */
  seed (records: NodeRecord[]): void {
    for (const n of records) this.nodes.set(n.id, n)
    this.snapshotCache = null
  }

  /** Current version (changes staged this tick are not in it yet). */
  get version (): number { return this.version_ }

  /** Number of nodes in the current version. */
  get size (): number { return this.nodes.size }

  /** The current record of `id`, including changes staged this tick. */
  get (id: string): NodeRecord | undefined {
    if (this.pendingRemove.has(id)) return undefined
    return this.pendingUpsert.get(id) ?? this.nodes.get(id)
  }

  /** Stages an insert or replacement; published with the tick's other changes. */
  upsert (rec: NodeRecord): void {
    this.pendingRemove.delete(rec.id)
    this.pendingUpsert.set(rec.id, rec)
    this.schedule()
  }

  /**
   * Stages the removal of `id`. Removals are not paced: an operator removing a node (a lost laptop, a
   * leaked key) wants it out of every peer's WireGuard now, and removals are rare.
   */
  remove (id: string): void {
    this.pendingUpsert.delete(id)
    if (this.nodes.has(id)) this.pendingRemove.add(id)
    this.schedule(true)
  }

  /** Publishes staged changes as one new version now (normally done on the next tick). */
  flush (): void {
    this.scheduled?.cancel()
    this.scheduled = null
    if (this.pendingUpsert.size === 0 && this.pendingRemove.size === 0) return
    const delta: NetmapDelta = {
      epoch: this.epoch,
      from: this.version_,
      to: this.version_ + 1,
      upsert: [...this.pendingUpsert.values()],
      remove: [...this.pendingRemove]
    }
    this.pendingUpsert.clear()
    this.pendingRemove.clear()
    for (const id of delta.remove) this.nodes.delete(id)
    for (const n of delta.upsert) this.nodes.set(n.id, n)
    this.version_ = delta.to
    this.lastPublishAt = this.now()
    this.snapshotCache = null
    this.history.push(delta)
    if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit)
    this.onDelta(serialize({ type: 'delta', ...delta }), delta)
  }

  /** The full current netmap, nodes sorted by id. Cached per version. */
  snapshot (): Netmap {
    if (this.snapshotCache === null) {
      const nodes = [...this.nodes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      this.snapshotCache = { epoch: this.epoch, version: this.version_, cidr: this.cidr, nodes }
    }
    return this.snapshotCache
  }

  /**
   * What a client at (`epoch`, `since`) needs first: null when it is current, one merged delta when
   * `since` is within history, else the full map.
   */
  catchUp (epoch: string | undefined, since: number | undefined): NetmapMessage | null {
    if (epoch !== this.epoch || since === undefined || since > this.version_) return { type: 'full', netmap: this.snapshot() }
    if (since === this.version_) return null
    const first = this.history[0]
    if (first === undefined || since < first.from) return { type: 'full', netmap: this.snapshot() }
    const upsert = new Map<string, NodeRecord>()
    const remove = new Set<string>()
    for (let i = since - first.from; i < this.history.length; i++) {
      const d = this.history[i]!
      for (const id of d.remove) { upsert.delete(id); remove.add(id) }
      for (const n of d.upsert) { remove.delete(n.id); upsert.set(n.id, n) }
    }
    return { type: 'delta', epoch: this.epoch, from: since, to: this.version_, upsert: [...upsert.values()], remove: [...remove] }
  }

  private schedule (now = false): void {
    if (this.scheduled !== null && !(now && this.scheduled.timed)) return
    this.scheduled?.cancel()
    const wait = now ? 0 : this.lastPublishAt + this.minIntervalMs - this.now()
    if (wait <= 0) {
      const im = setImmediate(() => this.flush())
      this.scheduled = { timed: false, cancel: () => clearImmediate(im) }
    } else {
      const timer = setTimeout(() => this.flush(), wait)
      timer.unref()
      this.scheduled = { timed: true, cancel: () => clearTimeout(timer) }
    }
  }
}

/** One NDJSON line. */
export function serialize (msg: NetmapMessage): Buffer {
  return Buffer.from(JSON.stringify(msg) + '\n', 'utf8')
}
