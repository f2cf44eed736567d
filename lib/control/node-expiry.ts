import type { Clock } from '../clock.js'
import { Code, hasCode } from '../errors.js'
import type { Logger } from '../log.js'
import { DeadlineWheel } from './deadline-wheel.js'

/** What NodeExpiry acts through. */
export interface NodeExpiryDeps {
  clock: Clock
  log: Logger
  /** The node's current expiry, or undefined when it has none or is gone. */
  expiresAt: (id: string) => number | undefined
  /** Removes the node as expired (Registry.remove with reason `expired`); rejects when the store refuses. */
  remove: (id: string) => Promise<void>
  /** How long after a removal the store refused to try again, ms. */
  retryMs: number
}

/**
 * Node expiries: one timer table of when each node's credential stops working, and `run`, which removes
 * the nodes whose time has come. The owner calls `run` from its sweep timer; nothing here sets a timer.
 * The credential itself stops at the exact time (Registry.byCredential checks it); the removal follows
 * at the next sweep, or, while the store refuses writes, at the first sweep after it accepts them again.
 */
export class NodeExpiry {
  private readonly table = new DeadlineWheel()
  private readonly running = new Set<string>()

  constructor (private readonly d: NodeExpiryDeps) {}

  /** Number of nodes with an expiry armed. */
  get size (): number { return this.table.size }

  /** Whether some armed expiry is due at `now` (`run` has work), decided without a promise: the sweep asks 4 times a second. */
  due (now: number): boolean {
    const next = this.table.next()
    return next !== null && next <= now
  }

  /** Arms (or moves) node `id`'s expiry to `expiresAt`; undefined disarms it. */
  set (id: string, expiresAt: number | undefined): void {
    if (expiresAt === undefined) this.table.delete(id); else this.table.set(id, expiresAt)
  }

  /**
   * Removes every node whose expiry has passed; resolves with the ids removed. A removal the store refused
   * is tried again `retryMs` later; one that lost a race with an admin's removal is dropped.
   */
  async run (): Promise<string[]> {
    const now = this.d.clock.now()
    const removed: string[] = []
    await Promise.all(this.table.due(now).map(async id => {
      const at = this.d.expiresAt(id)
      if (at === undefined || at > now || this.running.has(id)) return
      this.running.add(id)
      try {
        await this.d.remove(id)
        removed.push(id)
      } catch (err) {
        if (hasCode(err, Code.NOT_FOUND) || hasCode(err, Code.CONFLICT)) return
        if (!hasCode(err, Code.STORE_UNAVAILABLE)) {
          this.d.log.error({ event: 'node.expire_failed', nodeId: id, err }, `removing expired node ${id} failed; trying again`)
        }
        if (this.d.expiresAt(id) === at) this.table.set(id, this.d.clock.now() + this.d.retryMs)
      } finally {
        this.running.delete(id)
      }
    }))
    return removed.sort()
  }
}
