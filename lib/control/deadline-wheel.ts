/**
 * A bucketed deadline wheel: one table for every node deadline, keyed by node id (quinn's `timer.rs` idea).
 * Deadlines are rounded up to `granularityMs` buckets, so the owner needs one clock timer for `next()` (or one
 * periodic sweep) and pops `due(now)`; thousands of nodes cost a few dozen buckets, not thousands of timers.
 * Never fires early.
 */
export class DeadlineWheel {
  private readonly at = new Map<string, number>()
  private readonly buckets = new Map<number, Set<string>>()

  constructor (private readonly granularityMs = 250) {}

  /** Number of armed entries. */
  get size (): number { return this.at.size }

  /** Arms (or moves) the deadline of `id` to `deadline` (ms since epoch). */
  set (id: string, deadline: number): void {
    this.delete(id)
    const bucket = Math.ceil(deadline / this.granularityMs) * this.granularityMs
    this.at.set(id, bucket)
    let set = this.buckets.get(bucket)
    if (set === undefined) { set = new Set(); this.buckets.set(bucket, set) }
    set.add(id)
  }

  /** Disarms `id`. */
  delete (id: string): void {
    const bucket = this.at.get(id)
    if (bucket === undefined) return
    this.at.delete(id)
    const set = this.buckets.get(bucket)
    set?.delete(id)
    if (set?.size === 0) this.buckets.delete(bucket)
  }

  /** The earliest armed deadline, or null. */
  next (): number | null {
    let min: number | null = null
    for (const b of this.buckets.keys()) if (min === null || b < min) min = b
    return min
  }

  /** Removes and returns every id whose deadline is at or before `now`. */
  due (now: number): string[] {
    const out: string[] = []
    for (const [bucket, set] of this.buckets) {
      if (bucket > now) continue
      for (const id of set) { out.push(id); this.at.delete(id) }
      this.buckets.delete(bucket)
    }
    return out
  }
}
