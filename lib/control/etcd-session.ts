/**
 * A controller's session with the shared etcd (docs/store.md, "etcd"): one lease, kept alive while the
 * controller reaches a quorum, and the `live/<node>/<controller>` keys it holds under that lease, one per
 * node whose update channel or heartbeats this controller has. Every controller reads the others' keys
 * through the store's watch, so all of them know which nodes some controller hears from (fused health) and
 * how those nodes are reached (their endpoints) without a write per heartbeat. When a controller dies its
 * lease runs out and etcd deletes its keys; when it stops it revokes the lease and they go at once.
 *
 * When no keepalive has been answered for the lease's TTL, the session asks etcd once more, directly. An answer
 * means etcd is there and this controller was only slow (a starved event loop delays the keepalives' answers
 * as much as anything): a lease etcd has expired meanwhile is replaced quietly, with every key written again.
 * No answer means this controller is cut off from the quorum: `onLost` is called once, and the session keeps
 * asking for a new lease and calls `onBack` when it has one, with every key written again.
 */
import { EtcdLeaseInvalidError, type Etcd3, type Lease } from 'etcd3'
import type { Clock, Timer } from '../clock.js'
import type { Logger } from '../log.js'
import { causeOf, ETCD_MAX_TXN_OPS, LIVE_PREFIX } from './etcd-store.js'

/** Lease TTL, s: how long a dead controller's keys outlive it, and how long a cut-off one takes to notice. */
export const SESSION_TTL_S = 5

/** How often changed keys are written, ms: a burst of heartbeats costs one transaction per flush. */
const FLUSH_MS = 100

/** How long the direct question to etcd may take before this controller counts as cut off, ms. */
const PROBE_MS = 2000

/** What the session is made with. */
export interface SessionOptions {
  client: Etcd3
  prefix: string
  /** This controller's id in its keys (its netmap epoch). */
  id: string
  clock: Clock
  log: Logger
  timeoutMs: number
  onLost: (why: string) => void
  onBack: () => void
}

export class EtcdSession {
  private lease: Lease
  private leaseId = ''
  /** Every key this controller holds: node id -> value. */
  private readonly held = new Map<string, string>()
  /** Node ids whose key changed since the last flush. */
  private readonly dirty = new Set<string>()
  private lastAlive: number
  private lost = false
  private probing = false
  private closed = false
  private flushing = false
  private readonly timers: Timer[] = []

  private constructor (private readonly o: SessionOptions, lease: Lease, leaseId: string) {
    this.lease = lease
    this.leaseId = leaseId
    this.lastAlive = o.clock.monotonic()
    this.watchLease(lease)
  }

  /** Grants the lease; throws (StoreUnavailableError from the caller's view) when etcd does not answer. */
  static async open (o: SessionOptions): Promise<EtcdSession> {
    const lease = o.client.lease(SESSION_TTL_S, { autoKeepAlive: true })
    const id = await lease.grant()
    const s = new EtcdSession(o, lease, id)
    s.timers.push(
      o.clock.setInterval(() => s.check(), 250, { unref: true }),
      o.clock.setInterval(() => { void s.flush() }, FLUSH_MS, { unref: true })
    )
    return s
  }

  /** Whether the session is lost (no keepalive answered for its TTL) and not yet back. */
  get isLost (): boolean { return this.lost }

  /** The key of node `nodeId` this controller holds (`value`), or none (null). Written at the next flush. */
  set (nodeId: string, value: string | null): void {
    if (value === null ? !this.held.has(nodeId) : this.held.get(nodeId) === value) return
    if (value === null) this.held.delete(nodeId); else this.held.set(nodeId, value)
    this.dirty.add(nodeId)
  }

  /** Writes the changed keys: puts under the lease, deletes of keys no longer held. */
  async flush (): Promise<void> {
    if (this.flushing || this.lost || this.closed || this.dirty.size === 0) return
    this.flushing = true
    const ids = [...this.dirty].slice(0, ETCD_MAX_TXN_OPS)
    for (const id of ids) this.dirty.delete(id)
    try {
      const success = ids.map(id => {
        const key = Buffer.from(`${this.o.prefix}${LIVE_PREFIX}${id}/${this.o.id}`)
        const value = this.held.get(id)
        return value === undefined ? { request_delete_range: { key } } : { request_put: { key, value: Buffer.from(value), lease: this.leaseId } }
      })
      await this.o.client.kv.txn({ success }, { deadline: this.o.clock.now() + this.o.timeoutMs })
    } catch (err) {
      for (const id of ids) this.dirty.add(id)
      this.o.log.debug({ event: 'store.live_failed', err: causeOf(err) }, 'writing live keys failed; retrying')
    } finally {
      this.flushing = false
    }
  }

  /** Revokes the lease, so the other controllers see at once that this one holds no node any more. */
  async close (): Promise<void> {
    this.closed = true
    for (const t of this.timers) t.cancel()
    await this.lease.revoke({ deadline: this.o.clock.now() + 1000 }).catch(() => {})
  }

  private watchLease (lease: Lease): void {
    lease.on('keepaliveSucceeded', () => { if (lease === this.lease) this.lastAlive = this.o.clock.monotonic() })
    lease.on('lost', (err: Error) => { if (lease === this.lease) void this.probe(`etcd ended this controller's lease: ${causeOf(err)}`) })
  }

  private check (): void {
    if (this.closed || this.lost) return
    if (this.o.clock.monotonic() - this.lastAlive > SESSION_TTL_S * 1000) {
      void this.probe(`no etcd member answered this controller's keepalives for ${SESSION_TTL_S} s`)
    }
  }

  /**
   * Asks etcd directly whether the lease lives: yes, the session goes on; etcd answers that it expired, a new
   * lease replaces it quietly; no answer, the session is lost for `why`.
   */
  private async probe (why: string): Promise<void> {
    if (this.probing || this.lost || this.closed) return
    this.probing = true
    const lease = this.lease
    try {
      await lease.keepaliveOnce({ deadline: this.o.clock.now() + PROBE_MS })
      this.lastAlive = this.o.clock.monotonic()
    } catch (err) {
      if (lease !== this.lease || this.closed) return
      if (err instanceof EtcdLeaseInvalidError) {
        this.o.log.warn({ event: 'store.session_renewed', reason: why }, `${why}, though etcd answers: a new lease replaces it`)
        this.lost = true
        await this.regrant(false)
      } else {
        this.loseNow(why)
      }
    } finally {
      this.probing = false
    }
  }

  private loseNow (why: string): void {
    if (this.lost || this.closed) return
    this.lost = true
    this.o.onLost(why)
    void this.regrant(true)
  }

  /**
   * Asks for a new lease until one is granted, then writes every held key under it; calls `onBack` when the
   * session had been reported lost (`lost`).
   */
  private async regrant (wasLost: boolean): Promise<void> {
    while (!this.closed) {
      this.lease.release()
      const lease = this.o.client.lease(SESSION_TTL_S, { autoKeepAlive: true })
      lease.on('lost', () => {})
      try {
        const id = await lease.grant()
        if (this.closed) { await lease.revoke().catch(() => {}); return }
        this.lease = lease
        this.leaseId = id
        this.watchLease(lease)
        this.lastAlive = this.o.clock.monotonic()
        for (const nodeId of this.held.keys()) this.dirty.add(nodeId)
        this.lost = false
        if (wasLost) this.o.onBack()
        return
      } catch {
        await new Promise<void>(resolve => this.o.clock.setTimeout(resolve, 1000, { unref: true }))
      }
    }
  }
}
