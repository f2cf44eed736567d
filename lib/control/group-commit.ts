import { StoreConflictError } from '../errors.js'
import type { ControlStore, StoreCapture, StoreOp } from './store.js'

interface Waiter { ops: StoreOp[], capture: StoreCapture | undefined, resolve: () => void, reject: (err: unknown) => void }

/**
 * Group commit: every synced write requested while the previous batch is being fsynced (or in the same
 * tick) goes into the next single batch. N concurrent registrations cost a handful of fsyncs, not N,
 * and each caller is still acknowledged only after its own ops are durable.
 */
export class GroupCommit {
  private queue: Waiter[] = []
  private flushing = false
  private scheduled = false
  /** Synced batches written so far; for metrics and tests. */
  batches = 0

  constructor (private readonly store: ControlStore) {}

  /**
   * Resolves once `ops` are on stable storage, atomically with whatever else shared their batch. Call it in the
   * same tick as the decision that made `ops`: on a shared store that is what the write is checked against, and
   * it rejects with StoreConflictError (with the rest of its batch) when another controller changed a record
   * `ops` write, or one of `reads` (records the decision depended on without writing), since.
   */
  async commit (ops: StoreOp[], reads?: readonly string[]): Promise<void> {
    const capture = this.store.capture?.(ops, reads)
    return await new Promise<void>((resolve, reject) => {
      this.queue.push({ ops, capture, resolve, reject })
      this.schedule()
    })
  }

  /** Waits until every queued commit has been written (or failed). */
  async drain (): Promise<void> {
    while (this.queue.length > 0 || this.flushing || this.scheduled) {
      await new Promise<void>(resolve => setImmediate(resolve))
    }
  }

  /** The waiters of the next batch: all queued, or as many as fit the store's maxOps (at least one). */
  private take (): Waiter[] {
    const max = this.store.maxOps ?? Infinity
    let ops = 0
    let n = 0
    while (n < this.queue.length && (n === 0 || ops + this.queue[n]!.ops.length <= max)) ops += this.queue[n++]!.ops.length
    return this.queue.splice(0, n)
  }

  private schedule (): void {
    if (this.scheduled || this.flushing) return
    this.scheduled = true
    setImmediate(() => { this.scheduled = false; void this.flush() })
  }

  private async flush (): Promise<void> {
    const group = this.take()
    if (group.length === 0) return
    this.flushing = true
    try {
      const captures = group.flatMap(w => w.capture === undefined ? [] : [w.capture])
      await this.store.write(group.flatMap(w => w.ops), { sync: true, ...(captures.length > 0 ? { captures } : {}) })
      this.batches++
      for (const w of group) w.resolve()
    } catch (err) {
      for (const w of group) w.reject(err)
    } finally {
      this.flushing = false
      if (this.queue.length > 0) this.schedule()
    }
  }
}

/** How many times a write that lost a race with another controller is decided again before the conflict is answered. */
export const CONFLICT_ATTEMPTS = 5

/**
 * Runs `decideAndWrite` again, once the newer records are taken in, each time it fails with
 * StoreConflictError (another controller on the shared store wrote a record it writes), up to
 * CONFLICT_ATTEMPTS times in all. On a store of its own a conflict never happens and this runs `decideAndWrite` once.
 */
export async function retryOnConflict<T> (decideAndWrite: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await decideAndWrite()
    } catch (err) {
      if (!(err instanceof StoreConflictError) || attempt >= CONFLICT_ATTEMPTS) throw err
      await err.settled
    }
  }
}
