import type { Logger } from 'pino'
import { InvalidInputError } from '../errors.js'
import { BroadcastQueue } from './broadcast.js'
import type { ClaimAuth, SignedState } from './claims.js'
import { decodePacket, encodeHead, encodePacket, encodeUpdate, MAX_ID_LENGTH, MAX_UPDATES_PER_PACKET, type Message, type Update } from './codec.js'
import { buddyClaim, describeClaim, MemberTable, ProbeOrder, validId, type Member } from './members.js'
import { resolve, type SwimConfig } from './config.js'
import { LocalHealth } from './health.js'
import { isIncarnation, MAX_INCARNATION } from './incarnation.js'
import { RecentContacts } from './contacts.js'
import { JoinGrace } from './grace.js'
import { expectedConfirmations, retransmitLimit, suspicionMaxMs, suspicionMinMs } from './math.js'
import type { Random } from './random.js'
import { transition, type MemberState } from './state.js'
import { CONTROLLER_CONFIRMER, Suspicion } from './suspicion.js'
import { KeyedTimers } from './keyed-timers.js'
import { zeroStats, type ControlHint, type DropReason, type MemberInfo, type SwimEvent, type SwimEventType, type SwimStats, type Transmit } from './types.js'
import type { SwimReport } from '../wire/api.js'

/** Constructor arguments of Swim. */
export interface SwimOptions {
  config: SwimConfig
  /** This node: its id and its "meshIp:swimPort" (opaque to the core). */
  self: { id: string, addr: string }
  /** Starting incarnation; a restart must start above every one it signed before (see restartIncarnation). */
  incarnation: number
  /** Signs this node's alive and left claims and checks members' (claims.ts). */
  claims: ClaimAuth
  random: Random
  /** Used only for rare, notable things (membership changes); never per packet. */
  log?: Logger
}

/** One probe round. `graced`: the target was in its join grace when the round began (see JoinGrace). */
interface Probe { seq: number, target: string, acked: boolean, expectedNacks: number, nacks: number, graced: boolean }
interface Relay { requesterAddr: string, requester: string, origSeq: number }

/** Ping-reqs served at once; more are dropped so a flood cannot grow the relay table without bound. */
const MAX_RELAYS = 1024
/** Re-probes of dead members remembered, to count their acks. */
const MAX_DEAD_PROBES = 64
/** Timers run per handleTimeout call at most; a bound against a handler that re-arms in the past. */
const MAX_TIMERS_PER_CALL = 10_000

/**
 * SWIM with Lifeguard as a sans-IO state machine. Feed it time and packets (handlePacket, handleTimeout,
 * setMembers), drain what it wants done (pollTransmit, pollEvent) and when to call it next (pollTimeout).
 * It never reads a clock, opens a socket or calls Math.random: everything comes in as arguments.
 *
 * Call order for a daemon: construct, setMembers(now, netmap members), then loop: send every pollTransmit(),
 * log every pollEvent(), sleep until pollTimeout() or a packet, call handleTimeout(now) / handlePacket(...).
 */
export class Swim {
  readonly id: string
  readonly addr: string
  private readonly cfg: Readonly<SwimConfig>
  private readonly random: Random
  private readonly claims: ClaimAuth
  private readonly log: Logger | undefined
  private inc: number
  /** Our signatures, by the claim they sign: one incarnation each, re-signed when it changes. */
  private readonly sigs: Record<SignedState, { incarnation: number, sig: Uint8Array } | undefined> = { alive: undefined, left: undefined }
  private leftAt: number | undefined
  private started = false
  private readonly table = new MemberTable()
  private readonly notAlive = new Set<string>()
  private readonly contacts = new RecentContacts()
  private readonly grace: JoinGrace
  /** Whether setMembers has run: members of its first call share one join grace. */
  private membersKnown = false
  private readonly order: ProbeOrder
  private seq = 0
  private probe: Probe | undefined
  private readonly relays = new Map<number, Relay>()
  private readonly deadProbeSeqs = new Map<number, string>()
  private out: Transmit[] = []
  private outHead = 0
  private evs: SwimEvent[] = []
  private evHead = 0
  private readonly timers = new KeyedTimers()
  private readonly queue = new BroadcastQueue()
  /** When the last gossip round went out (see broadcast). */
  private lastGossipAt = -Infinity
  private readonly health: LocalHealth
  private readonly st: SwimStats = zeroStats()

  /** Validates the config (throws SwimConfigError) and the identity (throws InvalidInputError). */
  constructor (opts: SwimOptions) {
    this.cfg = resolve(opts.config)
    if (!validId(opts.self.id)) throw new InvalidInputError(`swim self id must be 1-${MAX_ID_LENGTH} characters and not start with "@"`)
    if (typeof opts.self.addr !== 'string' || opts.self.addr === '') throw new InvalidInputError('swim self addr must be a non-empty "ip:port" string')
    if (!isIncarnation(opts.incarnation)) throw new InvalidInputError(`swim incarnation must be an integer from 0 to 2^48 (got ${String(opts.incarnation)})`)
    this.id = opts.self.id
    this.addr = opts.self.addr
    this.inc = opts.incarnation
    this.claims = opts.claims
    this.random = opts.random
    this.log = opts.log
    this.health = new LocalHealth(this.cfg.awarenessMaxMultiplier)
    this.grace = new JoinGrace(this.cfg.joinGraceMs)
    this.order = new ProbeOrder(this.random)
  }

  /** This node's current incarnation (persist it: a restart starts above it). */
  get incarnation (): number { return this.inc }

  /** Our alive claim at our current incarnation and its signature, for messages outside SWIM (underlay announcements). */
  signedAlive (): { incarnation: number, sig: Uint8Array } {
    const u = this.selfClaim('alive')
    return { incarnation: u.incarnation, sig: u.sig! }
  }

  /** The validated config this core runs with. */
  get config (): Readonly<SwimConfig> { return this.cfg }

  /** The Lifeguard local-health score, 0 (healthy) .. awarenessMaxMultiplier-1. */
  get healthScore (): number { return this.health.score }

  /** Updates still queued for dissemination; after leave(), keep running until this reaches 0 or a deadline. */
  get pendingBroadcasts (): number { return this.queue.size }

  /**
   * Sets the authorised members (node id + "meshIp:swimPort"), normally from the netmap. New members start
   * alive at incarnation 0; members missing from `members` are forgotten; a changed addr is adopted. This
   * node's own id is skipped. Throws InvalidInputError on an invalid or duplicate id.
   */
  setMembers (now: number, members: ReadonlyArray<{ id: string, addr: string }>): void {
    const seen = new Set<string>()
    const added: string[] = []
    for (const { id, addr } of members) {
      if (!validId(id)) throw new InvalidInputError(`swim member id ${JSON.stringify(id)} must be 1-${MAX_ID_LENGTH} characters and not start with "@"`)
      if (seen.has(id)) throw new InvalidInputError(`swim member id ${id} appears twice`)
      seen.add(id)
      if (id === this.id) continue
      const old = this.table.addr(id)
      if (old === undefined) {
        this.table.add(id, addr, now)
        this.grace.added(id, now, !this.membersKnown)
        added.push(id)
      } else if (old !== addr) {
        this.table.setAddr(id, addr)
      }
    }
    let removed = 0
    for (const id of [...this.table.ids()]) {
      if (!seen.has(id)) { this.forget(id); removed++ }
    }
    this.membersKnown = true
    if (added.length > 16 || this.order.ids.length === 0) this.order.reset(this.table.ids())
    else this.order.insert(added)
    if (added.length > 0 || removed > 0) {
      this.log?.debug({
        event: 'swim.members',
        added: added.length,
        removed,
        members: this.table.size
      }, 'swim membership changed')
    }
    this.start(now)
  }

  /** Handles one received UDP payload from `fromAddr`; bad packets are counted in stats().dropped, never thrown. */
  handlePacket (now: number, fromAddr: string, bytes: Uint8Array): void {
    this.start(now)
    this.st.packetsIn++
    this.st.bytesIn += bytes.length
    const d = decodePacket(bytes, this.cfg.maxPacketBytes)
    if (!d.ok) return this.drop(d.reason)
    const { from, msg, updates } = d.packet
    if (from === this.id) return this.drop('from-self')
    const senderAddr = this.table.addr(from)
    if (senderAddr === undefined) return this.drop('unknown-sender')
    // WireGuard authenticates the source address, so the address is the identity; the claimed id must match it.
    if (senderAddr !== fromAddr) return this.drop('spoofed')
    if ((msg.type === 'ping' && msg.target !== this.id) || (msg.type === 'ping-req' && msg.target === this.id)) return this.drop('misdirected')
    this.heardFrom(from, now)
    // An ack from the member answers a ping of ours: the tunnel works both ways, so its join grace is over.
    // Any other packet proves only the direction towards us (a half-keyed WireGuard session does exactly that).
    if (msg.type === 'ack') this.grace.ended(from)
    for (const u of updates) this.merge(now, u)
    switch (msg.type) {
      case 'ping': this.send(senderAddr, from, { type: 'ack', seq: msg.seq }); break
      case 'ack': this.onAck(msg.seq); break
      case 'ping-req': this.onPingReq(now, senderAddr, from, msg.seq, msg.target); break
      case 'nack':
        if (this.probe?.seq === msg.seq) { this.probe.nacks++; this.st.nacksReceived++ }
        break
      case 'sync':
        if (!msg.reply) this.send(senderAddr, from, { type: 'sync', reply: true }, true)
        break
      case 'gossip': break
      default: { const never: never = msg; return never }
    }
  }

  /** Runs every timer due at `now`. Call it at (or after) pollTimeout(). */
  handleTimeout (now: number): void {
    this.start(now)
    for (let i = 0; i < MAX_TIMERS_PER_CALL; i++) {
      const due = this.timers.expired(now)
      if (due.length === 0) return
      // Woken a whole probe timeout after a deadline: this process is being starved (a busy host), and
      // whatever it concludes about acks now says more about itself than about its peers. Lifeguard's answer
      // to a slow node: stretch our own timeouts rather than accuse.
      if (due.some(t => (t.kind === 'probe' || t.kind === 'ack') && now - t.at > this.cfg.probeTimeoutMs)) {
        this.health.lateWakeup()
        this.st.lateWakeups++
      }
      for (const t of due) {
        switch (t.kind) {
          case 'probe': this.onProbeTick(now); break
          case 'ack': this.onAckTimeout(); break
          case 'relay': this.onRelayTimeout(Number(t.key)); break
          case 'suspicion': this.onSuspicionTimeout(now, t.key); break
          case 'gossip': this.onGossipTick(now); break
          case 'sync': this.onSyncTick(now); break
          case 'dead-probe': this.onDeadProbeTick(now); break
          case 'death-check': this.onDeathCheckTimeout(now, t.key); break
          default: { const never: never = t.kind; return never }
        }
      }
    }
  }

  /** The earliest time handleTimeout must be called, or undefined before setMembers was called. */
  pollTimeout (): number | undefined { return this.timers.earliest() }

  /** Next packet to send, or undefined when none is queued. */
  pollTransmit (): Transmit | undefined {
    if (this.outHead >= this.out.length) { if (this.out.length > 0) { this.out = []; this.outHead = 0 } return undefined }
    return this.out[this.outHead++]
  }

  /** Next state-change event, or undefined. */
  pollEvent (): SwimEvent | undefined {
    if (this.evHead >= this.evs.length) { if (this.evs.length > 0) { this.evs = []; this.evHead = 0 } return undefined }
    return this.evs[this.evHead++]
  }

  /**
   * An authenticated underlay announcement says member `id` is up at `incarnation`, with its signature of
   * that claim (used when the tunnel to a member held dead was removed). A newer incarnation is adopted and
   * gossiped like a refutation. The same incarnation as a suspicion or death we hold revives it locally only,
   * and our next packets to it carry that claim so it refutes above it and its refutation wins everywhere.
   * Returns whether our view changed; a bad signature changes nothing.
   */
  noteAlive (now: number, id: string, incarnation: number, sig: Uint8Array): boolean {
    this.start(now)
    const m = isIncarnation(incarnation) ? this.table.touch(id) : undefined
    if (m === undefined) return false
    const u: Update = { state: 'alive', id, incarnation, from: id, sig }
    if (!this.verified(u)) return false
    this.heardFrom(id, now)
    if (incarnation > m.incarnation) {
      this.merge(now, u, 'announced over the underlay')
      return true
    }
    if (incarnation === m.incarnation && (m.state === 'dead' || m.state === 'suspect')) {
      this.setState(now, m, u, `announced over the underlay at incarnation ${incarnation}`, false)
      m.tellDead = true
      this.pingOutOfBand(m.id)
      return true
    }
    return false
  }

  /**
   * An authenticated underlay notice from member `from`: it holds us dead at `incarnation` (the daemon
   * verified it). Handled like the same claim arriving in a SWIM packet: at or above our incarnation we refute,
   * below it we gossip our incarnation again. It reaches us when no tunnel does: after a cut, the member removed
   * our peer, and our side may take many seconds to re-add its tunnels (docs/swim.md, "Coming back from a
   * cut"). Returns whether we refuted.
   */
  noteClaimedDead (now: number, from: string, incarnation: number): boolean {
    this.start(now)
    if (!this.table.has(from) || !isIncarnation(incarnation)) return false
    const before = this.inc
    this.onClaimAboutSelf(now, { state: 'dead', id: this.id, incarnation, from })
    return this.inc !== before
  }

  /**
   * The controller's fused evidence about member `id`, kept until changed (null clears it):
   * - 'stale' (the controller does not hear from it either) counts as one independent confirmation of any
   *   suspicion of it, now or later, so the suspicion shrinks toward its minimum sooner. It never starts one.
   * - 'fresh' (the controller hears from it) holds any suspicion of it at the maximum timeout, ignoring
   *   confirmations, to give a refutation every chance; the member is still declared dead if none comes.
   */
  setControlHint (now: number, id: string, hint: ControlHint): void {
    this.start(now)
    const m = hint === null ? this.table.record(id) : this.table.touch(id)
    if (m === undefined) return
    m.hint = hint
    const s = m.suspicion
    if (s === undefined) return
    if (hint === 'stale' && s.confirm(CONTROLLER_CONFIRMER)) this.st.confirmations++
    s.holdMax = hint === 'fresh'
    this.timers.set('suspicion', m.id, s.deadlineMs())
  }

  /**
   * Leaves gracefully: state `left` at the current incarnation, pushed at once to gossipNodes members and
   * then by gossip. Probing stops; pings are still answered (carrying the leave) until the caller stops.
   */
  leave (now: number): void {
    this.start(now)
    if (this.leftAt !== undefined) return
    this.leftAt = now
    this.probe = undefined
    for (const k of ['probe', 'ack', 'sync', 'dead-probe'] as const) this.timers.cancel(k, '')
    this.broadcast(now, this.selfClaim('left'))
    this.gossipRound(now, Math.max(1, this.cfg.gossipNodes))
  }

  /** Every member with state and incarnation (this node excluded). */
  members (): MemberInfo[] {
    return [...this.table.ids()].map(id => this.table.info(id)!)
  }

  /** One member's state, or undefined when not a member. */
  member (id: string): MemberInfo | undefined {
    return this.table.info(id)
  }

  /** What this node believes, for the controller's cross-check (heartbeat `swim` field). Left members are not listed. */
  report (): SwimReport {
    const suspect: SwimReport['suspect'] = []
    const dead: SwimReport['dead'] = []
    for (const id of this.notAlive) {
      const m = this.table.record(id)!
      if (m.state === 'suspect') suspect.push({ id, incarnation: m.incarnation })
      else if (m.state === 'dead') dead.push({ id, incarnation: m.incarnation })
    }
    return { incarnation: this.inc, suspect, dead }
  }

  /** A copy of the counters. */
  stats (): SwimStats { return { ...this.st, dropped: { ...this.st.dropped } } }

  // ---- internals ----

  private get n (): number { return this.table.size + 1 }

  private start (now: number): void {
    if (this.started) return
    this.started = true
    const c = this.cfg
    // Random phases so that nodes started together do not probe in lockstep (gossip runs when there is news: broadcast).
    this.timers.set('probe', '', now + this.random.int(c.probeIntervalMs))
    this.timers.set('sync', '', now + c.syncIntervalMs / 2 + this.random.int(c.syncIntervalMs))
    this.timers.set('dead-probe', '', now + c.deadProbeIntervalMs + this.random.int(c.deadProbeIntervalMs))
    // Announce our incarnation: after a restart it is what overrides the death others hold.
    this.broadcastSelf(now)
  }

  private drop (reason: DropReason): void { this.st.dropped[reason]++ }

  /**
   * Member `id` showed first-hand that it runs (a packet from its own address, or an underlay announcement):
   * a recent contact (RecentContacts), a sign for its join grace, and the answer a death check waits for.
   */
  private heardFrom (id: string, now: number): void {
    this.contacts.heard(id, now, this.firstHandWindowMs())
    this.grace.heard(id, now)
    const c = this.table.record(id)?.deathCheck
    if (c !== undefined) c.answered = true
  }

  /** Queues our own alive claim at our current incarnation. */
  private broadcastSelf (now: number): void {
    this.broadcast(now, this.selfClaim('alive'))
  }

  /** Our own signed claim at our current incarnation; signs once per incarnation. */
  private selfClaim (state: SignedState): Update {
    let s = this.sigs[state]
    if (s === undefined || s.incarnation !== this.inc) {
      s = { incarnation: this.inc, sig: this.claims.sign({ state, id: this.id, incarnation: this.inc }) }
      this.sigs[state] = s
    }
    return { state, id: this.id, incarnation: this.inc, from: this.id, sig: s.sig }
  }

  /** Whether `u`, an alive or left claim, carries its member's valid signature; counts the ones that do not. */
  private verified (u: Update): boolean {
    if (u.state !== 'alive' && u.state !== 'left') return false
    if (u.sig === undefined) { this.st.claimsUnsigned++; return false }
    if (!this.claims.verify({ state: u.state, id: u.id, incarnation: u.incarnation }, u.sig)) { this.st.claimsBadSignature++; return false }
    const m = this.table.record(u.id)
    if (m !== undefined && u.incarnation > m.proven) m.proven = u.incarnation
    return true
  }

  /**
   * Whether another node's claim about member `u.id` may count. An alive or left claim that would change our
   * view needs the member's signature. A suspect or dead claim counts only at an incarnation the member has
   * shown us it signed: only the member raises its incarnation, and a claim above it would make the member
   * refute (or be buried) at a number of someone else's choosing.
   */
  private credible (u: Update, held: MemberState): boolean {
    if (u.state === 'alive' || u.state === 'left') {
      if (transition(held, this.table.incarnation(u.id), u.state, u.incarnation) !== 'apply') return true
      if (this.table.record(u.id) === undefined) this.table.touch(u.id)
      return this.verified(u)
    }
    if (u.incarnation <= this.table.proven(u.id)) return true
    this.st.claimsUnproven++
    return false
  }

  private nextSeq (): number { this.seq = (this.seq + 1) >>> 0; return this.seq }

  private forget (id: string): void {
    this.table.remove(id)
    this.contacts.forget(id)
    this.grace.forget(id)
    this.notAlive.delete(id)
    this.queue.remove(id)
    this.timers.cancel('suspicion', id)
    this.timers.cancel('death-check', id)
    if (this.probe?.target === id) { this.probe = undefined; this.timers.cancel('ack', '') }
  }

  /**
   * Queues one packet to `toAddr`. Piggybacks, in order: the buddy claim (what we hold against `dest` if it
   * is suspect or dead: Lifeguard's buddy system, so it hears of it and refutes at once), queued updates
   * fewest-sent first, and with `withState` an anti-entropy chunk; never more than maxPacketBytes in all.
   */
  private send (toAddr: string, destId: string | undefined, msg: Message, withState = false, gossip = true): void {
    const head = encodeHead(this.id, msg)
    let budget = this.cfg.maxPacketBytes - head.length - 3
    const parts: Uint8Array[] = []
    let buddyId: string | undefined
    const dest = destId === undefined ? undefined : this.table.record(destId)
    const buddy = dest === undefined ? undefined : buddyClaim(dest)
    if (buddy !== undefined) {
      const b = encodeUpdate(buddy)
      parts.push(b)
      budget -= b.length
      buddyId = buddy.id
    }
    if (gossip && this.queue.size > 0) {
      for (const b of this.queue.take(budget, MAX_UPDATES_PER_PACKET - parts.length, retransmitLimit(this.cfg.retransmitMult, this.n), buddyId)) {
        parts.push(b)
        budget -= b.length
      }
    }
    if (withState) this.stateChunk(parts, budget)
    const bytes = encodePacket(head, parts)
    this.out.push({ to: toAddr, bytes })
    this.st.packetsOut++
    this.st.bytesOut += bytes.length
  }

  /** Appends our view to `parts` within `budget`: ourselves, non-alive members, then a rotating window of the rest. */
  private stateChunk (parts: Uint8Array[], budget: number): void {
    const push = (u: Update): boolean => {
      if (parts.length >= MAX_UPDATES_PER_PACKET) return false
      const b = encodeUpdate(u)
      if (b.length > budget) return false
      parts.push(b)
      budget -= b.length
      return true
    }
    if (!push(this.selfClaim(this.leftAt === undefined ? 'alive' : 'left'))) return
    if (this.notAlive.size > 0) {
      const ids = [...this.notAlive]
      const start = this.random.int(ids.length)
      for (let i = 0; i < ids.length; i++) {
        const m = this.table.record(ids[(start + i) % ids.length]!)!
        if (m.state === 'left' && m.sig === undefined) continue
        if (!push({ state: m.state, id: m.id, incarnation: m.incarnation, from: m.from, sig: m.sig })) return
      }
    }
    this.order.rotate(id => {
      const m = this.table.record(id)
      // An alive claim above incarnation 0 travels only with the member's signature.
      if (m === undefined) return push({ state: 'alive', id, incarnation: 0, from: id })
      return m.state !== 'alive' || (m.incarnation > 0 && m.sig === undefined) || push({ state: 'alive', id, incarnation: m.incarnation, from: id, sig: m.sig })
    })
  }

  /**
   * How recent a first-hand contact must be to outweigh another node's declaration of death: the declarer
   * stopped hearing from the member at least a minimum suspicion plus a probe before it declared. A contact
   * newer than that is evidence the declarer did not have.
   */
  private firstHandWindowMs (): number {
    return suspicionMinMs(this.cfg.suspicionMult, this.n, this.cfg.probeIntervalMs) + this.cfg.probeIntervalMs
  }

  /** Merges one claim (received or our own conclusion) through the transition function. */
  private merge (now: number, u: Update, reason?: string): void {
    if (u.id === this.id) return this.onClaimAboutSelf(now, u)
    const state = this.table.state(u.id)
    // Gossip never admits a node the controller has not: claims about strangers are counted and dropped.
    if (state === undefined) { this.st.updatesUnknownMember++; return }
    if (u.from !== this.id && !this.credible(u, state)) return this.onUnprovenClaim(now, u, state)
    if (u.state === 'dead' && u.from !== this.id && (state === 'alive' || state === 'suspect')) {
      // Someone else buried a member we heard from ourselves since it could have: typically the far side of a
      // healed partition gossiping the deaths it declared. Hold a suspicion instead (the declarer counts as a
      // confirmation): the member keeps its tunnel, hears of it through the buddy system and refutes; if it
      // does not, the suspicion ends in our own declaration of death.
      const age = this.contacts.age(u.id, now)
      if (age !== undefined && age <= this.firstHandWindowMs()) {
        this.st.deathsDoubted++
        reason = `declared dead by ${u.from}, but heard from directly ${age} ms ago`
        u = { ...u, state: 'suspect' }
      }
    }
    const outcome = transition(state, this.table.incarnation(u.id), u.state, u.incarnation)
    if (outcome === 'apply' && u.state === 'dead' && u.from !== this.id) {
      const m = this.table.touch(u.id)!
      // A suspicion of ours, or one that others confirmed, already agrees with the declarer; a member we hold
      // alive, or suspect on one node's word (as a stale claim from a cut makes us), is checked first.
      const corroborated = m.state === 'suspect' && (m.from === this.id || (m.suspicion?.confirmations ?? 0) > 0)
      if (!corroborated) return this.checkDeath(now, m, u)
    }
    switch (outcome) {
      case 'ignore':
        this.st.updatesIgnored++
        return
      case 'confirm': {
        // Re-gossip so others count this suspector too (Lifeguard: confirmations must travel).
        if (this.confirmSuspicion(this.table.record(u.id)!, u.from)) this.broadcast(now, u)
        return
      }
      case 'apply':
        this.st.updatesApplied++
        this.setState(now, this.table.touch(u.id)!, u, reason ?? describeClaim(u, this.id), true)
        return
      default: { const never: never = outcome; return never }
    }
  }

  /**
   * A death declared by another node about a member we hold alive, or suspect on one other node's word, is
   * applied only once the member fails to answer one ping of ours within a probe interval. The ping carries
   * the claim (send's buddy claim), so a live member refutes it in its answer; a member that answers in time
   * keeps its tunnel and the claim is dropped. Why: a node cut off for a while (a vanished host that came
   * back, the far side of a healed partition) holds deaths it declared while it could hear nobody, and
   * gossips them with its state on every sync; applied at once, each made members remove tunnels to members
   * they could reach, until the member's refutation overtook the claim (docs/swim.md, "Deaths declared by
   * others"). A member that is really gone costs one probe interval more at the nodes that had not heard it
   * suspected by two.
   */
  private checkDeath (now: number, m: Member, u: Update, unproven = false): void {
    const c = m.deathCheck
    if (c !== undefined && c.incarnation >= u.incarnation) { this.st.updatesIgnored++; return }
    m.deathCheck = { incarnation: u.incarnation, from: u.from, startedAt: now, answered: false, unproven }
    if (unproven) this.st.unprovenChecks++
    else this.st.deathChecks++
    this.pingOutOfBand(m.id, !unproven)
    this.timers.set('death-check', m.id, now + this.health.scale(this.cfg.probeIntervalMs))
  }

  /**
   * A suspicion or death of a member at an incarnation it never proved to us: we cannot apply it (anyone could
   * make one up, and the member would have to refute above it), but it says someone cannot reach the member.
   * A node that joined after the member last refuted something holds it at an older incarnation until an
   * anti-entropy chunk brings the newer one, which at 200 members can take minutes; meanwhile every claim
   * about the member is unproven to it, and without this it found a crashed member only by its own probe,
   * 50-200 s after everyone else. So: a member we hold alive gets a ping of ours carrying the claim (a live
   * member refutes above it, which proves its incarnation to us); silence for a probe interval makes us
   * suspect it ourselves, at the incarnation we hold, with the claimant as a confirmation. Claims about a
   * member we already suspect change nothing: one above our suspicion's incarnation may well mean the member
   * refuted it. Nothing unproven is ever applied or gossiped.
   */
  private onUnprovenClaim (now: number, u: Update, state: MemberState): void {
    if ((u.state !== 'suspect' && u.state !== 'dead') || state !== 'alive') return
    const m = this.table.touch(u.id)!
    if (m.deathCheck === undefined) this.checkDeath(now, m, u, true)
  }

  /** Counts `from` as an independent suspector of `m`'s suspicion, if it has one; true when that shortened it. */
  private confirmSuspicion (m: Member, from: string): boolean {
    if (m.suspicion === undefined || !m.suspicion.confirm(from)) return false
    this.st.confirmations++
    this.timers.set('suspicion', m.id, m.suspicion.deadlineMs())
    return true
  }

  private onDeathCheckTimeout (now: number, id: string): void {
    const m = this.table.record(id)
    const c = m?.deathCheck
    if (m === undefined || c === undefined) return
    m.deathCheck = undefined
    if (c.answered) { this.st.deathsDisproved++; return }
    if (c.unproven) {
      if (m.state !== 'alive') return
      this.merge(now, { state: 'suspect', id, incarnation: m.incarnation, from: this.id },
        `${c.from} claimed ${id} down at incarnation ${c.incarnation}, which it never proved to us; no answer to our ping within ${now - c.startedAt} ms`)
      this.confirmSuspicion(m, c.from)
      return
    }
    if (transition(m.state, m.incarnation, 'dead', c.incarnation) !== 'apply') return
    this.st.updatesApplied++
    this.setState(now, m, {
      state: 'dead',
      id,
      incarnation: c.incarnation,
      from: c.from
    }, `declared dead by ${c.from}; no answer to our ping within ${now - c.startedAt} ms`, true)
  }

  private setState (now: number, m: Member, u: Update, reason: string, gossip: boolean): void {
    const prev = m.state
    if (m.deathCheck !== undefined && u.state !== 'suspect') {
      // A refutation (alive at a newer incarnation) disproves the claim being checked; a death or leave ends it.
      if (u.state === 'alive') this.st.deathsDisproved++
      m.deathCheck = undefined
      this.timers.cancel('death-check', m.id)
    }
    m.state = u.state
    m.incarnation = u.incarnation
    m.from = u.from
    m.sig = u.state === 'alive' || u.state === 'left' ? u.sig : undefined
    if (prev !== u.state) m.since = now
    if (u.state === 'alive') { this.notAlive.delete(m.id); m.tellDead = false } else this.notAlive.add(m.id)
    if (u.state === 'alive' && (prev === 'dead' || prev === 'left')) this.grace.revived(m.id, now)
    else if (u.state === 'alive') this.grace.heard(m.id, now) // a newer incarnation: it runs somewhere
    if (m.suspicion !== undefined) { m.suspicion = undefined; this.timers.cancel('suspicion', m.id) }
    switch (u.state) {
      case 'suspect': {
        const n = this.n
        const min = suspicionMinMs(this.cfg.suspicionMult, n, this.cfg.probeIntervalMs)
        const s = new Suspicion(now, u.from, expectedConfirmations(this.cfg.suspicionMult, n), min, suspicionMaxMs(this.cfg.suspicionMaxTimeoutMult, min))
        if (m.hint === 'stale') s.confirm(CONTROLLER_CONFIRMER)
        s.holdMax = m.hint === 'fresh'
        m.suspicion = s
        this.timers.set('suspicion', m.id, s.deadlineMs())
        this.st.suspicions++
        break
      }
      case 'dead': this.st.deaths++; break
      case 'alive': case 'left': break
      default: { const never: never = u.state; return never }
    }
    if (gossip) this.broadcast(now, u)
    if (prev !== u.state) this.emit(now, u.state, m.id, u.incarnation, reason)
  }

  private onClaimAboutSelf (now: number, u: Update): void {
    if (u.state === 'alive' && u.incarnation <= this.inc) return // no news
    if (u.state === 'alive' || u.state === 'left') {
      // Ours, or forged: one we signed above our incarnation was made by an earlier run that lost its count.
      if (!this.verified(u)) return
    } else if (u.incarnation > this.inc) {
      // We never announced this incarnation, so nobody can hold a claim at it: refuting above it would let any
      // member set our incarnation, up to where our own packets no longer decode.
      this.st.claimsUnproven++
      return
    }
    if (this.leftAt !== undefined) {
      // We left: answer any other claim by re-asserting the leave at an incarnation that beats it.
      if (u.state !== 'left' && u.incarnation >= this.inc) {
        this.inc = u.incarnation
        this.broadcast(now, this.selfClaim('left'))
      }
      return
    }
    // Anything at or above our incarnation must be refuted.
    if (u.incarnation < this.inc) {
      // A suspicion or death older than our incarnation: we refuted it once, but whoever sent it still holds
      // it (it missed the refutation's gossip, as a node on the far side of a healed partition can). Queue our
      // incarnation again, so our answer to this very packet carries it (a dead re-probe would otherwise get a
      // bare ack, and the member stays dead at the prober for good).
      if (u.state !== 'alive') { this.st.staleClaimsAnswered++; this.broadcastSelf(now) }
      return
    }
    if (u.incarnation >= MAX_INCARNATION) { this.st.claimsUnproven++; return }
    this.inc = u.incarnation + 1
    if (u.state !== 'alive') this.health.refuted()
    this.st.refutations++
    this.broadcastSelf(now)
    this.emit(now, 'refute', this.id, this.inc, `${u.from} claimed ${u.state} at incarnation ${u.incarnation}`)
  }

  private emit (now: number, type: SwimEventType, id: string, incarnation: number, reason: string): void {
    this.evs.push({ type, id, incarnation, reason, at: now })
  }

  private onProbeTick (now: number): void {
    this.timers.set('probe', '', now + this.health.scale(this.cfg.probeIntervalMs))
    this.finishProbe(now)
    const target = this.order.next(() => this.table.ids(), x => {
      const st = this.table.state(x)
      return st === 'alive' || st === 'suspect'
    })
    if (target === undefined) return
    const seq = this.nextSeq()
    this.probe = { seq, target, acked: false, expectedNacks: 0, nacks: 0, graced: this.grace.covers(target, now) }
    this.st.probes++
    this.send(this.table.addr(target)!, target, { type: 'ping', seq, target })
    this.timers.set('ack', '', now + this.health.scale(this.cfg.probeTimeoutMs))
  }

  /** Ends the probe round: no ack by now (direct or relayed) means suspect. */
  private finishProbe (now: number): void {
    const p = this.probe
    if (p === undefined) return
    this.probe = undefined
    this.timers.cancel('ack', '')
    if (p.acked) return
    this.st.probeFailures++
    // A member that has not acked us since it appeared may have no tunnel to us yet: no accusation, and no
    // local-health penalty either (the silence says nothing about us).
    if (p.graced) { this.st.graceSpared++; return }
    this.health.probeFailed(p.expectedNacks, p.nacks)
    const st = this.table.state(p.target)
    if (st !== 'alive' && st !== 'suspect') return
    const reason = `no ack to a direct ping or ${p.expectedNacks} relayed pings (${p.nacks} nacks)`
    this.merge(now, { state: 'suspect', id: p.target, incarnation: this.table.incarnation(p.target), from: this.id }, reason)
  }

  private onAck (seq: number): void {
    if (this.probe !== undefined && this.probe.seq === seq) {
      if (!this.probe.acked) {
        this.probe.acked = true
        this.health.probeSucceeded()
        this.timers.cancel('ack', '')
      }
      return
    }
    const r = this.relays.get(seq)
    if (r !== undefined) {
      this.relays.delete(seq)
      this.timers.cancel('relay', String(seq))
      this.send(r.requesterAddr, r.requester, { type: 'ack', seq: r.origSeq })
      return
    }
    this.deadProbeSeqs.delete(seq)
  }

  private onAckTimeout (): void {
    const p = this.probe
    if (p === undefined || p.acked) return
    // Relays would most likely lack a tunnel to a member in its join grace too; its failure accuses no one.
    if (p.graced) return
    const relays = this.order.sample(this.cfg.indirectChecks, id => id !== p.target && this.table.state(id) === 'alive')
    p.expectedNacks = relays.length
    if (relays.length > 0) this.st.indirectProbes++
    for (const id of relays) this.send(this.table.addr(id)!, id, { type: 'ping-req', seq: p.seq, target: p.target })
  }

  private onPingReq (now: number, requesterAddr: string, requester: string, origSeq: number, targetId: string): void {
    const targetAddr = this.table.addr(targetId)
    if (targetAddr === undefined) return this.drop('unknown-target')
    if (this.relays.size >= MAX_RELAYS) return this.drop('relay-overflow')
    const seq = this.nextSeq()
    this.relays.set(seq, { requesterAddr, requester, origSeq })
    this.st.relaysServed++
    this.send(targetAddr, targetId, { type: 'ping', seq, target: targetId })
    this.timers.set('relay', String(seq), now + this.health.scale(this.cfg.probeTimeoutMs))
  }

  private onRelayTimeout (seq: number): void {
    const r = this.relays.get(seq)
    if (r === undefined) return
    this.relays.delete(seq)
    // The nack tells the requester its relay is alive and reachable: the silence is the target's.
    this.send(r.requesterAddr, r.requester, { type: 'nack', seq: r.origSeq })
  }

  /**
   * A suspicion ran out. Before declaring the member dead, one last call: a direct ping carrying the suspicion
   * (send's buddy claim), and one probe interval for the refutation to come back in its answer. Gossip alone
   * does not promise that a member ever hears that it is suspected, and the suspicions a cut starts run out
   * after it heals, seconds before the member learns of them: without the call each one removed a tunnel that
   * worked again (docs/swim.md, "Partitions"). A member that is really gone costs one probe interval more.
   */
  private onSuspicionTimeout (now: number, id: string): void {
    const m = this.table.record(id)
    if (m === undefined || m.state !== 'suspect' || m.suspicion === undefined) return
    const s = m.suspicion
    if (s.lastCallEndsMs === undefined) {
      s.lastCallEndsMs = now + this.health.scale(this.cfg.probeIntervalMs)
      this.st.lastCalls++
      this.pingOutOfBand(id)
      this.timers.set('suspicion', id, s.deadlineMs())
      return
    }
    const reason = `suspicion timed out after ${now - s.startMs} ms with ${s.confirmations} confirmations`
    this.merge(now, { state: 'dead', id, incarnation: m.incarnation, from: this.id }, reason)
  }

  /**
   * Queues `u` for dissemination and makes sure a gossip round is due. Rounds run only while something is
   * queued, at most one per gossipIntervalMs: an idle mesh wakes no process for gossip (on a host running
   * hundreds of daemons, a 200 ms tick with nothing to say was half of an idle daemon's wake-ups). The first
   * round after a quiet spell goes at once rather than at the next tick of a fixed clock.
   */
  private broadcast (now: number, u: Update): void {
    this.queue.enqueue(u)
    if (this.cfg.gossipIntervalMs > 0 && this.timers.get('gossip', '') === undefined) {
      this.timers.set('gossip', '', Math.max(now, this.lastGossipAt + this.cfg.gossipIntervalMs))
    }
  }

  private onGossipTick (now: number): void {
    if (this.queue.size > 0) this.gossipRound(now, this.cfg.gossipNodes)
  }

  /** One gossip round to `fanout` members now; the next is due an interval later while anything is queued. */
  private gossipRound (now: number, fanout: number): void {
    this.lastGossipAt = now
    this.pushGossip(fanout)
    if (this.queue.size > 0 && this.cfg.gossipIntervalMs > 0) this.timers.set('gossip', '', now + this.cfg.gossipIntervalMs)
    else this.timers.cancel('gossip', '')
  }

  private pushGossip (fanout: number): void {
    const targets = this.order.sample(fanout, id => {
      const s = this.table.state(id)
      return s === 'alive' || s === 'suspect'
    })
    for (const id of targets) this.send(this.table.addr(id)!, id, { type: 'gossip' })
  }

  private onSyncTick (now: number): void {
    this.timers.set('sync', '', now + this.cfg.syncIntervalMs)
    const [id] = this.order.sample(1, x => this.table.state(x) === 'alive')
    if (id === undefined) return
    this.st.syncs++
    this.send(this.table.addr(id)!, id, { type: 'sync', reply: false }, true)
  }

  /** Dead is not forever: one member held dead is pinged per interval, carrying its death so it refutes. */
  private onDeadProbeTick (now: number): void {
    this.timers.set('dead-probe', '', now + this.cfg.deadProbeIntervalMs)
    let count = 0
    for (const id of this.notAlive) if (this.table.record(id)!.state === 'dead') count++
    if (count === 0) return
    let pick = this.random.int(count)
    for (const id of this.notAlive) {
      if (this.table.record(id)!.state !== 'dead') continue
      if (pick-- === 0) { this.st.deadProbes++; this.pingOutOfBand(id); return }
    }
  }

  /**
   * Pings `id` outside the probe round. `gossip`: whether queued gossip rides along. The check of a claim we
   * cannot prove sends none: during a cut those checks go to the far side by the thousand, and the gossip they
   * carried counted as transmitted and was lost, among it the refutations that end the cut (one member buried
   * after the heal in the virtual 30s-40s run). Death checks, last calls and dead re-probes keep it: after a
   * heal they reach live members, and without it every pair had its tunnel back 8.1 s after the heal instead
   * of 3.6 s (virtual, N=200).
   */
  private pingOutOfBand (id: string, gossip = true): void {
    const seq = this.nextSeq()
    if (this.deadProbeSeqs.size >= MAX_DEAD_PROBES) this.deadProbeSeqs.delete(this.deadProbeSeqs.keys().next().value!)
    this.deadProbeSeqs.set(seq, id)
    this.send(this.table.addr(id)!, id, { type: 'ping', seq, target: id }, false, gossip)
  }
}
