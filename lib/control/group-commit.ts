import type { ControlStore, StoreOp } from './store.js'

interface Waiter { ops: StoreOp[], resolve: () => void, reject: (err: unknown) => void }

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

  /** Resolves once `ops` are on stable storage, atomically with whatever else shared their batch. */
  async commit (ops: StoreOp[]): Promise<void> {
    return await new Promise<void>((resolve, reject) => {
      this.queue.push({ ops, resolve, reject })
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
      await this.store.write(group.flatMap(w => w.ops), { sync: true })
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
