import { encodeUpdate, type Update } from './codec.js'

/** One queued update with its cached bytes and how many packets it has ridden so far. */
interface Entry {
  update: Update
  bytes: Uint8Array
  transmits: number
}

/**
 * The dissemination queue: at most one pending update per member (a newer claim replaces an older one),
 * handed out fewest-sent first and dropped after `limit` sends (SWIM's lambda * log(n+1), computed by the
 * caller with retransmitLimit). Buckets by send count make `take` linear in what it returns, not in the queue.
 */
export class BroadcastQueue {
  private readonly byId = new Map<string, Entry>()
  private readonly buckets: Array<Set<Entry>> = []

  /** Updates waiting to be sent. */
  get size (): number { return this.byId.size }

  /** Queues `update`, replacing any pending update about the same member; it goes out before older ones. */
  enqueue (update: Update): void {
    this.remove(update.id)
    const e: Entry = { update, bytes: encodeUpdate(update), transmits: 0 }
    this.byId.set(update.id, e)
    this.bucket(0).add(e)
  }

  /** Drops the pending update about `id` (the member was forgotten). */
  remove (id: string): void {
    const e = this.byId.get(id)
    if (e === undefined) return
    this.byId.delete(id)
    this.buckets[e.transmits]?.delete(e)
  }

  /** The pending update about `id`, if any. */
  get (id: string): Update | undefined { return this.byId.get(id)?.update }

  /**
   * Takes updates, fewest-sent first, whose encoded sizes sum to at most `budgetBytes` and at most
   * `maxCount` of them, skipping `exceptId` (already in the packet). Each taken update counts one send and is
   * dropped once it reaches `limit`.
   */
  take (budgetBytes: number, maxCount: number, limit: number, exceptId?: string): Uint8Array[] {
    const out: Uint8Array[] = []
    const taken: Entry[] = []
    let left = budgetBytes
    for (let t = 0; t < this.buckets.length && out.length < maxCount && left > 0; t++) {
      const b = this.buckets[t]
      if (b === undefined || b.size === 0) continue
      for (const e of b) {
        if (out.length >= maxCount) break
        if (e.transmits >= limit) { taken.push(e); continue } // stale after n shrank: retire below
        if (e.bytes.length > left || e.update.id === exceptId) continue
        out.push(e.bytes)
        left -= e.bytes.length
        taken.push(e)
      }
    }
    for (const e of taken) {
      this.buckets[e.transmits]!.delete(e)
      if (e.transmits >= limit) { this.byId.delete(e.update.id); continue }
      e.transmits++
      if (e.transmits >= limit) this.byId.delete(e.update.id)
      else this.bucket(e.transmits).add(e)
    }
    return out
  }

  private bucket (t: number): Set<Entry> {
    let b = this.buckets[t]
    if (b === undefined) { b = new Set(); this.buckets[t] = b }
    return b
  }
}
