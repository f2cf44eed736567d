/**
 * The core's timers as a table keyed by kind and subject (quinn's timer.rs): setting a key replaces its
 * deadline, `earliest()` is what pollTimeout() returns, `expired(now)` lists what handleTimeout must run.
 */

/** What a timer is for. */
export type TimerKind = 'probe' | 'ack' | 'relay' | 'suspicion' | 'gossip' | 'sync' | 'dead-probe' | 'death-check'

/** One due timer, with the deadline it was set for. */
export interface DueTimer { kind: TimerKind, key: string, at: number }

/** A table of deadlines; no callbacks, no clock of its own. */
export class KeyedTimers {
  private readonly entries = new Map<string, DueTimer>()
  private cachedEarliest: number | undefined
  private dirty = false

  /** Arms (or re-arms) the `kind` timer for `key` at absolute time `at`. */
  set (kind: TimerKind, key: string, at: number): void {
    const k = kind + '\u0000' + key
    const e = this.entries.get(k)
    if (e === undefined) this.entries.set(k, { kind, key, at })
    else { if (e.at === this.cachedEarliest && at > e.at) this.dirty = true; e.at = at }
    if (!this.dirty && (this.cachedEarliest === undefined || at < this.cachedEarliest)) this.cachedEarliest = at
  }

  /** Disarms the timer; a no-op when it is not armed. */
  cancel (kind: TimerKind, key: string): void {
    const k = kind + '\u0000' + key
    const e = this.entries.get(k)
    if (e === undefined) return
    this.entries.delete(k)
    if (e.at === this.cachedEarliest) this.dirty = true
  }

  /** The deadline of the timer, if armed. */
  get (kind: TimerKind, key: string): number | undefined { return this.entries.get(kind + '\u0000' + key)?.at }

  /** Number of armed timers. */
  get size (): number { return this.entries.size }

  /** The earliest deadline, or undefined when nothing is armed. */
  earliest (): number | undefined {
    if (this.dirty) {
      let min: number | undefined
      for (const e of this.entries.values()) if (min === undefined || e.at < min) min = e.at
      this.cachedEarliest = min
      this.dirty = false
    }
    return this.cachedEarliest
  }

  /** Removes and returns every timer due at `now`, earliest first (ties in arming order). */
  expired (now: number): DueTimer[] {
    const first = this.earliest()
    if (first === undefined || first > now) return []
    const due: DueTimer[] = []
    for (const [k, e] of this.entries) {
      if (e.at <= now) { due.push(e); this.entries.delete(k) }
    }
    this.dirty = true
    due.sort((a, b) => a.at - b.at)
    return due
  }
}
