import { isDeepStrictEqual } from 'node:util'
import type { Clock } from '../clock.js'
import type { Netmap, NetmapDelta, NetmapDns, NetmapMessage, NetmapPolicy, NodeRecord } from '../wire/netmap.js'

/**
 * What a staged upsert changes: `member` = who is in the mesh or how to reach it (a join, new endpoints, a
 * leave); `health` = only a live node's fused health (online, control-lost, mesh-lost, offline), which no
 * daemon's WireGuard config depends on.
 */
export type UpsertKind = 'member' | 'health'

/** What a NetmapLog is made with. */
export interface NetmapLogOptions {
  epoch: string
  cidr: string
  /** What the full map says of names (Netmap.dns); fixed for the epoch. Default: nothing. */
  dns?: NetmapDns
  /** Versions kept for catch-up. */
  historyLimit: number
  /** Receives each new version's delta and its serialized line (ends in `\n`). */
  onDelta: (line: Buffer, delta: NetmapDelta) => void
  /** Least time between two versions. Default: 0. */
  minIntervalMs?: number
  /** Least time from the last version to one that carries only health changes; at least minIntervalMs. Default: minIntervalMs. */
  healthIntervalMs?: number
  /**
   * Paces versions: intervals are measured on its monotonic time (a wall clock set back must not hold versions
   * back) and waited for with its timers.
   */
  clock: Clock
}

/**
 * The versioned netmap and its recent history. Changes made in one tick are coalesced into one version, and
 * versions are at least `minIntervalMs` apart: a change arriving sooner after the last version waits for the
 * interval's end, together with every other change made meanwhile (a removal or a policy change does not wait). Health-only
 * changes wait for `healthIntervalMs` after the last version instead, unless a member change takes them along
 * sooner, and a staged record that ends up equal to the published one (a health flap that reverted while it
 * waited) is dropped: on a loaded host late heartbeats flip nodes between online and control-lost within a
 * second, and each flip published would cost every daemon an apply (docs/controller.md, "Netmap pacing").
 * Each version's delta is serialized once (one NDJSON line) and handed to `onDelta`, which writes the same
 * Buffer to every open channel. A client `since` a version still in history catches up with one merged
 * delta; anyone else gets the full map. The access policy travels the same way: a new one is published like a
 * member change, and the full map and every delta that changes it carry it whole.
 */
export class NetmapLog {
  private readonly nodes = new Map<string, NodeRecord>()
  private readonly pendingUpsert = new Map<string, NodeRecord>()
  private readonly pendingRemove = new Set<string>()
  /** Staged upserts that are member changes (the rest of pendingUpsert is health-only). */
  private readonly pendingMember = new Set<string>()
  private policy: NetmapPolicy | null = null
  private pendingPolicy: NetmapPolicy | null = null
  private readonly history: NetmapDelta[] = []
  /** The pending publication (an immediate or a timer) and when it fires, or null. */
  private scheduled: { at: number, cancel: () => void } | null = null
  private lastPublishAt = -Infinity
  private snapshotCache: Netmap | null = null
  private version_ = 1
  readonly epoch: string
  readonly cidr: string
  private readonly dns: NetmapDns | undefined
  private readonly historyLimit: number
  private readonly onDelta: (line: Buffer, delta: NetmapDelta) => void
  private readonly minIntervalMs: number
  private readonly healthIntervalMs: number
  private readonly clock: Clock

  constructor (o: NetmapLogOptions) {
    this.epoch = o.epoch
    this.cidr = o.cidr
    this.dns = o.dns
    this.historyLimit = o.historyLimit
    this.onDelta = o.onDelta
    this.minIntervalMs = o.minIntervalMs ?? 0
    this.healthIntervalMs = o.healthIntervalMs ?? this.minIntervalMs
    this.clock = o.clock
  }

  /** Sets the records and the policy (null: none) of version 1 at start-up (no delta is published). */
  seed (records: NodeRecord[], policy: NetmapPolicy | null = null): void {
    for (const n of records) this.nodes.set(n.id, n)
    this.policy = policy
    this.snapshotCache = null
  }

  /**
   * Stages a new access policy, published at once in a delta that carries it (with whatever else is staged).
   * Like removals, policy changes are not paced: an admin who revokes access wants it enforced now, and they
   * are rare. Paced behind the member interval, a change took up to a second longer to reach 50 daemons.
   */
  setPolicy (p: NetmapPolicy): void {
    this.pendingPolicy = p
    this.schedule()
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

  /** Stages an insert or replacement; published with the tick's other changes, paced by its kind. */
  upsert (rec: NodeRecord, kind: UpsertKind = 'member'): void {
    this.pendingRemove.delete(rec.id)
    this.pendingUpsert.set(rec.id, rec)
    if (kind === 'member' || !this.nodes.has(rec.id)) this.pendingMember.add(rec.id)
    this.schedule()
  }

  /**
   * Stages the removal of `id`. Removals are not paced: an operator removing a node (a lost laptop, a
   * leaked key) wants it out of every peer's WireGuard now, and removals are rare.
   */
  remove (id: string): void {
    this.pendingUpsert.delete(id)
    this.pendingMember.delete(id)
    if (this.nodes.has(id)) this.pendingRemove.add(id)
    this.schedule()
  }

  /** Publishes staged changes as one new version now (normally done on the next tick). */
  flush (): void {
    this.scheduled?.cancel()
    this.scheduled = null
    const upsert = [...this.pendingUpsert.values()].filter(n => !sameButUpdatedAt(this.nodes.get(n.id), n))
    const remove = [...this.pendingRemove]
    const policy = this.pendingPolicy !== null && !isDeepStrictEqual(this.pendingPolicy, this.policy) ? this.pendingPolicy : null
    this.pendingUpsert.clear()
    this.pendingRemove.clear()
    this.pendingMember.clear()
    this.pendingPolicy = null
    if (upsert.length === 0 && remove.length === 0 && policy === null) return
    const delta: NetmapDelta = { epoch: this.epoch, from: this.version_, to: this.version_ + 1, upsert, remove, ...(policy !== null ? { policy } : {}) }
    for (const id of delta.remove) this.nodes.delete(id)
    for (const n of delta.upsert) this.nodes.set(n.id, n)
    if (policy !== null) this.policy = policy
    this.version_ = delta.to
    this.lastPublishAt = this.clock.monotonic()
    this.snapshotCache = null
    this.history.push(delta)
    if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit)
    this.onDelta(serialize({ type: 'delta', ...delta }), delta)
  }

  /** The full current netmap, nodes sorted by id, with the policy when one was set. Cached per version. */
  snapshot (): Netmap {
    if (this.snapshotCache === null) {
      const nodes = [...this.nodes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      this.snapshotCache = {
        epoch: this.epoch,
        version: this.version_,
        cidr: this.cidr,
        nodes,
        ...(this.policy !== null ? { policy: this.policy } : {}),
        ...(this.dns !== undefined ? { dns: this.dns } : {})
      }
    }
    return this.snapshotCache
  }

  /**
   * What a client at (`epoch`, `since`) needs first: null when it is current, one merged delta when
   * `since` is within history (with the latest policy when a delta in the range changed it), else the full map.
   */
  catchUp (epoch: string | undefined, since: number | undefined): NetmapMessage | null {
    if (epoch !== this.epoch || since === undefined || since > this.version_) return { type: 'full', netmap: this.snapshot() }
    if (since === this.version_) return null
    const first = this.history[0]
    if (first === undefined || since < first.from) return { type: 'full', netmap: this.snapshot() }
    const upsert = new Map<string, NodeRecord>()
    const remove = new Set<string>()
    let policy: NetmapPolicy | undefined
    for (let i = since - first.from; i < this.history.length; i++) {
      const d = this.history[i]!
      for (const id of d.remove) { upsert.delete(id); remove.add(id) }
      for (const n of d.upsert) { remove.delete(n.id); upsert.set(n.id, n) }
      if (d.policy !== undefined) policy = d.policy
    }
    return {
      type: 'delta',
      epoch: this.epoch,
      from: since,
      to: this.version_,
      upsert: [...upsert.values()],
      remove: [...remove],
      ...(policy !== undefined ? { policy } : {})
    }
  }

  /** Arms the publication of what is staged, at the time its most urgent change allows (an earlier one stays). */
  private schedule (): void {
    const now = this.clock.monotonic()
    const interval = this.pendingMember.size > 0 ? this.minIntervalMs : Math.max(this.minIntervalMs, this.healthIntervalMs)
    const at = this.pendingRemove.size > 0 || this.pendingPolicy !== null ? now : Math.max(now, this.lastPublishAt + interval)
    if (this.scheduled !== null && this.scheduled.at <= at) return
    this.scheduled?.cancel()
    if (at <= now) {
      const im = setImmediate(() => this.flush())
      this.scheduled = { at, cancel: () => clearImmediate(im) }
    } else {
      const timer = this.clock.setTimeout(() => this.flush(), at - now, { unref: true })
      this.scheduled = { at, cancel: () => timer.cancel() }
    }
  }
}

/** True when `b` would tell a daemon nothing `a` did not: every field equal but the change time. */
function sameButUpdatedAt (a: NodeRecord | undefined, b: NodeRecord): boolean {
  return a !== undefined && isDeepStrictEqual({ ...a, updatedAt: 0 }, { ...b, updatedAt: 0 })
}

/** One NDJSON line. */
export function serialize (msg: NetmapMessage): Buffer {
  return Buffer.from(JSON.stringify(msg) + '\n', 'utf8')
}
