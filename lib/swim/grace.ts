/**
 * Members whose tunnel to us has not yet been seen working both ways since they appeared in the authorised
 * set, and when they appeared. While a member is in its join grace, a failed probe of it is not an
 * accusation: over WireGuard its tunnel to us may not be up yet (its netmap delta or ours is still in flight,
 * or the first handshake was lost or crossed and is being retried), and accusing it then starts a suspicion,
 * a refutation and their gossip on every node, once per pair that joins. The grace ends at the first ack from
 * the member (a round trip through the tunnel) or after `graceMs`, whichever comes first, so a member that
 * crashes after it answered once is detected as fast as any other.
 *
 * A member that appears after our start (a node joining a running mesh) is in the authorised set from the
 * moment it registers, before its daemon is up: on a loaded host that can take longer than any fixed grace
 * (under a 150-node join on 2 cores a new daemon took 20-55 s to configure its peers), and accusing it then
 * costs the same suspicion storm for nothing. Its `graceMs` therefore counts from the first sign that it
 * runs (a packet from it, an alive update about it at a newer incarnation, its underlay announcement); until
 * then it is never accused. A node that registered and never came up is the controller's to report (its
 * health stays offline); its WireGuard peer idles and costs nothing.
 *
 * Memory: the members of the first setMembers call share one start time and only those whose grace ended
 * early are listed (a 5000-member core lists the few dozen it probes in the first seconds); later members
 * are listed until their grace ends (never heard from: until they are).
 */
export class JoinGrace {
  /** When the first call's members appeared; -Infinity once their grace is over. */
  private firstAt: number | undefined
  /** Members of the first call whose grace ended early. */
  private readonly answeredFirst = new Set<string>()
  /** Later members still in grace, by the time their grace started; insertion order = oldest first. */
  private readonly newcomers = new Map<string, number>()
  /** Later members not heard from since they appeared: in grace until they are. */
  private readonly unheard = new Set<string>()

  constructor (private readonly graceMs: number) {}

  /** Member `id` appeared at `now`; `initial` for members of the first setMembers call. */
  added (id: string, now: number, initial: boolean): void {
    if (initial) this.firstAt ??= now
    else this.unheard.add(id)
    this.prune(now)
  }

  /** `id` showed at `now` that it runs (see the class comment): a newcomer's grace starts counting. */
  heard (id: string, now: number): void {
    if (!this.unheard.delete(id)) return
    this.newcomers.set(id, now)
  }

  /**
   * `id` came back from dead or left at `now`: the daemon removed its tunnel and is adding it again, so a
   * failed probe says as little as it does about a member that just joined. A fresh grace, ended by its first ack.
   */
  revived (id: string, now: number): void {
    this.answeredFirst.delete(id)
    this.unheard.delete(id)
    this.newcomers.delete(id) // re-inserted last, keeping the map ordered by start time for prune
    this.newcomers.set(id, now)
    this.prune(now)
  }

  /** `id` answered us (an ack through its tunnel): its grace is over. */
  ended (id: string): void {
    if (this.unheard.delete(id)) return
    if (!this.newcomers.delete(id) && this.firstAt !== undefined) this.answeredFirst.add(id)
  }

  /** `id` left the authorised set. */
  forget (id: string): void {
    this.unheard.delete(id)
    this.newcomers.delete(id)
    this.answeredFirst.delete(id)
  }

  /** True while a failed probe of `id` must not accuse it. */
  covers (id: string, now: number): boolean {
    this.prune(now)
    if (this.unheard.has(id) || this.newcomers.has(id)) return true
    return this.firstAt !== undefined && now - this.firstAt < this.graceMs && !this.answeredFirst.has(id)
  }

  /** Members currently listed (for tests and memory checks). */
  get size (): number { return this.newcomers.size + this.unheard.size + this.answeredFirst.size }

  private prune (now: number): void {
    for (const [id, at] of this.newcomers) {
      if (now - at < this.graceMs) break
      this.newcomers.delete(id)
    }
    if (this.firstAt !== undefined && now - this.firstAt >= this.graceMs) {
      this.answeredFirst.clear()
      this.firstAt = -Infinity
    }
  }
}
