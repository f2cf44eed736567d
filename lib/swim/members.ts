import { MAX_ID_LENGTH, type Update } from './codec.js'
import { sample, shuffle, type Random } from './random.js'
import type { MemberState } from './state.js'
import type { Suspicion } from './suspicion.js'
import type { ControlHint } from './types.js'

/** What the core holds about one member. */
export interface Member {
  id: string
  addr: string
  state: MemberState
  incarnation: number
  /** Who originated the claim we hold (the suspector, the declarer of death, or the member itself). */
  from: string
  /** The member's signature of the alive or left claim we hold; undefined while we hold it suspect or dead. */
  sig: Uint8Array | undefined
  /** The highest incarnation we hold the member's signature for: a suspect or dead claim above it is not credible. */
  proven: number
  since: number
  suspicion: Suspicion | undefined
  hint: ControlHint
  /** Revived by noteAlive at the incarnation we buried it at: tell it so it refutes above that. */
  tellDead: boolean
  /** A claim another node made, waiting for our ping to go unanswered (Swim.checkDeath). */
  deathCheck: DeathCheck | undefined
}

/**
 * A death declared by `from` at `incarnation`, being checked with a ping of ours since `startedAt`; `answered`
 * once the member showed first-hand that it runs. Kept on the check rather than read back from RecentContacts:
 * at a high local-health score the check outlasts the contacts' window, and the answer could be forgotten by
 * then. `unproven`: the claim (a suspicion or a death) is at an incarnation the member never proved to us, so
 * it can never be applied; silence makes us suspect the member ourselves.
 */
export interface DeathCheck { incarnation: number, from: string, startedAt: number, answered: boolean, unproven: boolean }

/**
 * What our packets to `m` tell it about itself (Lifeguard's buddy system), so it refutes at once: a death we
 * are checking, a death we revived it from, or the suspicion or death we hold. Undefined when we hold nothing
 * against it.
 */
export function buddyClaim (m: Member): Update | undefined {
  if (m.deathCheck !== undefined) return { state: 'dead', id: m.id, incarnation: m.deathCheck.incarnation, from: m.deathCheck.from }
  if (m.tellDead) return { state: 'dead', id: m.id, incarnation: m.incarnation, from: m.from }
  if (m.state === 'suspect' || m.state === 'dead') return { state: m.state, id: m.id, incarnation: m.incarnation, from: m.from }
  return undefined
}

/**
 * The probe order: member ids in a random order, walked one per probe and reshuffled each round (SWIM's
 * round-robin with a random permutation, so every member is probed once per round and nobody can predict
 * who probes whom). Also the list random relays, gossip targets and sync windows are drawn from.
 */
export class ProbeOrder {
  private order: string[] = []
  private index = 0
  private cursor = 0

  constructor (private readonly random: Random) {}

  /** Ids in the current round; may include forgotten ids, which callers skip. */
  get ids (): readonly string[] { return this.order }

  /** Starts a fresh round over `ids`. */
  reset (ids: Iterable<string>): void {
    this.order = shuffle([...ids], this.random)
    this.index = 0
  }

  /** Adds new ids at random places in the rest of this round, so each is probed within one round. */
  insert (ids: readonly string[]): void {
    for (const id of ids) this.order.splice(this.index + this.random.int(this.order.length - this.index + 1), 0, id)
  }

  /** The next id that `accept`s, starting a reshuffled round over `all()` when this one is done. */
  next (all: () => Iterable<string>, accept: (id: string) => boolean): string | undefined {
    for (let tries = 0; tries <= this.order.length + 1; tries++) {
      if (this.index >= this.order.length) {
        this.reset(all())
        if (this.order.length === 0) return undefined
      }
      const id = this.order[this.index++]!
      if (accept(id)) return id
    }
    return undefined
  }

  /** Up to `k` distinct random ids that `accept`. */
  sample (k: number, accept: (id: string) => boolean): string[] {
    return sample(this.order, k, this.random, accept)
  }

  /** Visits ids from a rotating cursor until `visit` returns false; the next call resumes where this stopped. */
  rotate (visit: (id: string) => boolean): void {
    const n = this.order.length
    for (let i = 0; i < n; i++) {
      const at = (this.cursor + i) % n
      if (!visit(this.order[at]!)) { this.cursor = at; return }
    }
  }
}

/** A member id the core accepts: 1-64 characters, not starting with '@' (reserved for the controller's confirmations). */
export function validId (id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH && !id.startsWith('@')
}

/** The event reason for a claim we adopted from someone else. */
export function describeClaim (u: Update, self: string): string {
  switch (u.state) {
    case 'alive': return `alive at incarnation ${u.incarnation}`
    case 'suspect': return u.from === self ? 'suspected' : `suspected by ${u.from}`
    case 'dead': return `declared dead by ${u.from}`
    case 'left': return 'left gracefully'
    default: { const never: never = u.state; return never }
  }
}

/**
 * The member table. Most members of a healthy mesh never leave their initial state (alive, incarnation 0,
 * no hint), so those are kept as bare id -> addr entries and a Member record is made only when something
 * about one changes (`touch`). A simulator holding 5000 cores of 5000 members each is then a few hash
 * tables instead of 25 million objects for the garbage collector to walk.
 */
export class MemberTable {
  private readonly addrs = new Map<string, string>()
  private readonly records = new Map<string, Member>()
  /** since of members that were never touched, when it differs from `firstSince`. */
  private readonly addedAt = new Map<string, number>()
  private firstSince: number | undefined

  /** Number of members. */
  get size (): number { return this.addrs.size }

  /** Every member id. */
  ids (): IterableIterator<string> { return this.addrs.keys() }

  has (id: string): boolean { return this.addrs.has(id) }

  /** The member's address, or undefined when not a member. */
  addr (id: string): string | undefined { return this.addrs.get(id) }

  /** The member's state without making a record. */
  state (id: string): MemberState | undefined {
    const r = this.records.get(id)
    if (r !== undefined) return r.state
    return this.addrs.has(id) ? 'alive' : undefined
  }

  /** The member's incarnation without making a record (0 for an untouched member). */
  incarnation (id: string): number { return this.records.get(id)?.incarnation ?? 0 }

  /** The highest incarnation the member's signature was seen for (0 for an untouched member). */
  proven (id: string): number { return this.records.get(id)?.proven ?? 0 }

  /** The record if one was made; undefined for an untouched (alive, incarnation 0) member or a stranger. */
  record (id: string): Member | undefined { return this.records.get(id) }

  /** The member's record, made on first use; undefined when not a member. */
  touch (id: string): Member | undefined {
    const r = this.records.get(id)
    if (r !== undefined) return r
    const addr = this.addrs.get(id)
    if (addr === undefined) return undefined
    const m: Member = {
      id,
      addr,
      state: 'alive',
      incarnation: 0,
      from: id,
      sig: undefined,
      proven: 0,
      since: this.sinceOf(id),
      suspicion: undefined,
      hint: null,
      tellDead: false,
      deathCheck: undefined
    }
    this.records.set(id, m)
    this.addedAt.delete(id)
    return m
  }

  /** Adds a new member, alive at incarnation 0 since `now`. */
  add (id: string, addr: string, now: number): void {
    this.addrs.set(id, addr)
    if (this.firstSince === undefined) this.firstSince = now
    else if (now !== this.firstSince) this.addedAt.set(id, now)
  }

  /** Changes a member's address. */
  setAddr (id: string, addr: string): void {
    this.addrs.set(id, addr)
    const r = this.records.get(id)
    if (r !== undefined) r.addr = addr
  }

  /** Forgets a member. */
  remove (id: string): void {
    this.addrs.delete(id)
    this.records.delete(id)
    this.addedAt.delete(id)
  }

  /** Public view of one member. */
  info (id: string): { id: string, addr: string, state: MemberState, incarnation: number, since: number } | undefined {
    const r = this.records.get(id)
    if (r !== undefined) return { id, addr: r.addr, state: r.state, incarnation: r.incarnation, since: r.since }
    const addr = this.addrs.get(id)
    return addr === undefined ? undefined : { id, addr, state: 'alive', incarnation: 0, since: this.sinceOf(id) }
  }

  private sinceOf (id: string): number { return this.addedAt.get(id) ?? this.firstSince ?? 0 }
}
