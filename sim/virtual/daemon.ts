import { DaemonCore, memberInput, type DaemonAction } from '../../lib/daemon/core.js'
import { checkDelayMs, checkHandshake, CHECK_AFTER_MS, MAX_RESETS } from '../../lib/daemon/handshake-watch.js'
import { initiates } from '../../lib/daemon/desired.js'
import { deadMembers, downMembers, swimMembers } from '../../lib/daemon/membership.js'
import { noteUnderlayAlive } from '../../lib/daemon/underlay-alive.js'
import type { Swim } from '../../lib/swim/swim.js'
import type { SwimEvent } from '../../lib/swim/types.js'
import type { Netmap } from '../../lib/wire/netmap.js'
import type { WireGuardModel } from './wireguard.js'

/**
 * One simulated `weft daemon` around its SWIM core: the daemon's own decision code (DaemonCore, desired(),
 * the handshake check, the underlay-alive rule) driven in virtual time, with a WireGuardModel device instead
 * of wireguard-go and scheduled events instead of sockets and timers. What it leaves out: the controller link
 * (the netmap is fixed and every node online) and the evidence from outside SWIM (no hints).
 */

/** An underlay announcement (lib/daemon/announcer.ts) between two simulated daemons; authentication is assumed. */
export type Announcement =
  | { type: 'ping' | 'ack', incarnation: number, sig: Uint8Array }
  | { type: 'dead', incarnation: number }

/** What a simulated daemon asks of the simulation. */
export interface DaemonHost {
  /** Sends an announcement over the underlay (loss, latency and cuts apply). */
  announce: (t: number, from: number, to: number, msg: Announcement) => void
  /** Calls `reconciled(plan)` on this daemon at `at`. */
  reconcileAt: (at: number, node: number, plan: ReconcilePlan) => void
  /** Calls `checkPeer(peer, token)` on this daemon at `at`. */
  checkAt: (at: number, node: number, peer: number, token: number) => void
  /** The daemon's SWIM core changed state: drain its packets, events and timer. */
  pump: (t: number, node: number) => void
  /** A tunnel was added (true) or removed (false) at node `node` toward `peer`. */
  onPeerChange?: (t: number, node: number, peer: number, added: boolean) => void
}

/** Cost of a reconcile in virtual time: a fixed part and a part per peer change (UAPI round trips). */
export interface ReconcileCost {
  baseMs: number
  perChangeMs: number
}

/** One reconcile's decisions, carried out when its time is up. */
export interface ReconcilePlan {
  add: Array<{ peer: number, held: boolean }>
  remove: number[]
}

/** A peer HandshakeWatch is watching: its re-creations and checks since its add, and the current check's token. */
interface Watched { resets: number, checks: number, token: number }

/** Counters of one simulated daemon. */
export interface DaemonCounters {
  reconciles: number
  peersAdded: number
  peersRemoved: number
  resets: number
  arms: number
  announcementsSent: number
}

export class VirtualDaemon {
  readonly core: DaemonCore
  readonly counters: DaemonCounters = { reconciles: 0, peersAdded: 0, peersRemoved: 0, resets: 0, arms: 0, announcementsSent: 0 }
  private announcerOpen = false
  private reconciling = false
  private reconcileAgain = false
  private readonly watched = new Map<number, Watched>()
  private nextToken = 1

  constructor (
    readonly index: number,
    private readonly swim: Swim,
    private readonly netmap: Netmap,
    private readonly keyOf: readonly string[],
    private readonly indexOf: ReadonlyMap<string, number>,
    private readonly wg: WireGuardModel,
    private readonly host: DaemonHost,
    private readonly cost: ReconcileCost
  ) {
    const self = netmap.nodes[index]!
    this.core = new DaemonCore({
      selfId: self.id,
      selfKey: self.publicKey,
      signingKey: self.signingKey ?? '',
      keepaliveSeconds: 25,
      joinToken: false,
      announce: false
    })
  }

  /** The daemon starts with the controller's netmap in hand, as a first start after its registration does. */
  start (t: number): void {
    this.execute(t, this.core.handle({ type: 'netmap', map: this.netmap, source: 'full' }))
    this.execute(t, this.core.handle({ type: 'started' }))
  }

  /** The periodic tick (deadAnnounceIntervalMs). */
  tick (t: number): void {
    this.execute(t, this.core.handle({ type: 'tick', stale: false }))
  }

  /** A SWIM event of this node's core, as the daemon takes it (memberInput). */
  swimEvent (t: number, ev: SwimEvent): void {
    const input = memberInput(ev)
    if (input !== null) this.execute(t, this.core.handle(input))
  }

  /** An announcement from node `from` arrived. Nothing is answered before the first reconcile (Announcer.open). */
  receiveAnnouncement (t: number, from: number, msg: Announcement): void {
    if (!this.announcerOpen) return
    const id = this.netmap.nodes[from]!.id
    if (msg.type === 'dead') {
      this.swim.noteClaimedDead(t, id, msg.incarnation)
    } else {
      if (msg.type === 'ping') this.sendAlive(t, 'ack', from)
      if (noteUnderlayAlive(this.swim, t, id, msg.incarnation, msg.sig)) this.send(t, from, { type: 'dead', incarnation: msg.incarnation })
    }
    this.host.pump(t, this.index)
  }

  /** A reconcile's time is up: its changes reach the device. */
  reconciled (t: number, plan: ReconcilePlan): void {
    for (const j of plan.remove) {
      if (!this.wg.has(this.index, j)) continue
      this.wg.remove(this.index, j)
      this.watched.delete(j)
      this.counters.peersRemoved++
      this.host.onPeerChange?.(t, this.index, j, false)
    }
    for (const { peer, held } of plan.add) {
      if (this.wg.has(this.index, peer)) continue
      this.wg.add(t, this.index, peer, held)
      this.watch(t, peer, 0, 0)
      this.counters.peersAdded++
      this.host.onPeerChange?.(t, this.index, peer, true)
    }
    this.execute(t, this.core.handle({ type: 'reconciled' }))
    if (this.reconcileAgain) {
      this.reconcileAgain = false
      this.startReconcile(t)
    } else {
      this.reconciling = false
    }
  }

  /** HandshakeWatch's check of peer j is due. */
  checkPeer (t: number, j: number, token: number): void {
    const w = this.watched.get(j)
    const state = this.wg.peerState(this.index, j)
    if (w === undefined || w.token !== token || state === undefined) return
    const verdict = checkHandshake(state, this.initiates(j), w, MAX_RESETS)
    switch (verdict.kind) {
      case 'reset':
        // Re-created with its full config: its keepalive is on, so it initiates at once.
        this.wg.remove(this.index, j)
        this.wg.add(t, this.index, j, false)
        this.counters.resets++
        this.watch(t, j, w.resets + 1, w.checks + 1)
        break
      case 'recheck':
        this.watch(t, j, w.resets, w.checks + 1)
        break
      case 'arm':
        this.wg.arm(t, this.index, j)
        this.counters.arms++
        this.watched.delete(j)
        break
      case 'done':
        this.watched.delete(j)
        break
    }
  }

  private watch (t: number, j: number, resets: number, checks: number): void {
    const token = this.nextToken++
    this.watched.set(j, { resets, checks, token })
    this.host.checkAt(t + checkDelayMs(this.initiates(j), CHECK_AFTER_MS), this.index, j, token)
  }

  private initiates (j: number): boolean {
    return initiates(this.keyOf[this.index]!, this.keyOf[j]!)
  }

  private execute (t: number, actions: readonly DaemonAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'reconcile':
          if (this.reconciling) { this.reconcileAgain = true; break }
          this.reconciling = true
          this.startReconcile(t)
          break
        case 'set-swim-members':
          this.swim.setMembers(t, swimMembers(this.netmap))
          this.host.pump(t, this.index)
          break
        case 'open-announcer':
          this.announcerOpen = true
          break
        case 'announce':
          for (const id of a.ids) this.sendAlive(t, 'ping', this.indexOf.get(id)!)
          break
        case 'announce-dead':
          for (const m of deadMembers(this.swim.members())) {
            const j = this.indexOf.get(m.id)!
            this.send(t, j, { type: 'dead', incarnation: m.incarnation })
            this.sendAlive(t, 'ping', j)
          }
          break
        default:
          // The controller's actions (signing key, revocation, rejoin, release) do not arise with a fixed netmap.
          throw new Error(`a simulated daemon cannot carry out ${a.type}`)
      }
    }
  }

  /** Computes the peer set now, as Reconciler.reconcile does when it starts, and carries it out after its cost. */
  private startReconcile (t: number): void {
    const want = this.core.desired(downMembers(this.swim.members()))
    if (want === null) { this.reconciling = false; return }
    this.counters.reconciles++
    const plan: ReconcilePlan = { add: [], remove: [] }
    const keep = new Set<number>()
    for (const p of want.peers) {
      const j = this.indexOf.get(p.nodeId)!
      keep.add(j)
      if (!this.wg.has(this.index, j)) plan.add.push({ peer: j, held: p.held === true })
    }
    for (const j of this.wg.peers(this.index)) if (!keep.has(j)) plan.remove.push(j)
    const changes = plan.add.length + plan.remove.length
    this.host.reconcileAt(t + this.cost.baseMs + changes * this.cost.perChangeMs, this.index, plan)
  }

  private sendAlive (t: number, type: 'ping' | 'ack', to: number): void {
    const { incarnation, sig } = this.swim.signedAlive()
    this.send(t, to, { type, incarnation, sig })
  }

  private send (t: number, to: number, msg: Announcement): void {
    this.counters.announcementsSent++
    this.host.announce(t, this.index, to, msg)
  }
}
