/**
 * Members we heard from first-hand (a packet from their own address, or an underlay announcement), kept only
 * for a short window. It answers one question: is our own evidence that a member lives newer than a death
 * another node declares? Only recent contacts matter, so the map stays small (the members heard from in the
 * last few seconds) even when every core of a 5000-node simulation keeps one.
 */
export class RecentContacts {
  /** Last contact per member, in insertion order = oldest first (re-inserted on every contact). */
  private readonly at = new Map<string, number>()

  /** Records a contact with `id` at `now` and forgets contacts older than `windowMs`. */
  heard (id: string, now: number, windowMs: number): void {
    this.at.delete(id)
    this.at.set(id, now)
    for (const [k, t] of this.at) {
      if (now - t <= windowMs) break
      this.at.delete(k)
    }
  }

  /** Milliseconds since the last contact with `id`, or undefined when none within what is kept. */
  age (id: string, now: number): number | undefined {
    const t = this.at.get(id)
    return t === undefined ? undefined : now - t
  }

  /** Forgets a member (it left the authorised set). */
  forget (id: string): void {
    this.at.delete(id)
  }

  get size (): number { return this.at.size }
}
