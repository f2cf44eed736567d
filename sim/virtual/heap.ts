/**
 * A binary min-heap of simulator events keyed by (time, insertion order), so events at the same virtual
 * time run in the order they were scheduled and a run is exactly reproducible.
 */

/** Anything the heap can order: a virtual time and a tie-breaking sequence number it assigns. */
export interface Timed { t: number, seq: number }

/** Min-heap on (t, seq). push assigns seq. */
export class EventHeap<E extends Timed> {
  private readonly items: E[] = []
  private nextSeq = 0

  /** Number of queued events. */
  get size (): number { return this.items.length }

  /** Queues `e` (its seq is overwritten with the insertion order). */
  push (e: E): void {
    e.seq = this.nextSeq++
    const a = this.items
    a.push(e)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(a[i]!, a[p]!)) break
      const x = a[i]!; a[i] = a[p]!; a[p] = x
      i = p
    }
  }

  /** Removes and returns the earliest event, or undefined when empty. */
  pop (): E | undefined {
    const a = this.items
    if (a.length === 0) return undefined
    const top = a[0]!
    const last = a.pop()!
    if (a.length > 0) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= a.length) break
        const r = l + 1
        const c = r < a.length && before(a[r]!, a[l]!) ? r : l
        if (!before(a[c]!, a[i]!)) break
        const x = a[i]!; a[i] = a[c]!; a[c] = x
        i = c
      }
    }
    return top
  }

  /** The earliest event without removing it. */
  peek (): E | undefined { return this.items[0] }
}

function before (a: Timed, b: Timed): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq)
}
