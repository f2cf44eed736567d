import type { Random } from '../../lib/swim/random.js'

/**
 * WireGuard as the virtual simulator models it: per node, a device holding peers; per peer, the handshake
 * state and keypairs that decide whether a packet gets through. It models what couples SWIM to the tunnels
 * in Weft: a peer that is not on both devices carries nothing, a re-added peer needs a handshake before it
 * carries anything, and two ends that initiate at once can cross (docs/sim.md, "The data plane").
 *
 * What it keeps of WireGuard (wireguard-go's device/timers.go and noise-protocol.go):
 * - An initiation is answered only by a device that has the initiator as a peer. Consuming one replaces the
 *   consumer's own pending handshake, so when both ends initiate at once each answer meets a handshake that
 *   is gone, and both wait out REKEY_TIMEOUT_MS before initiating again.
 * - The initiator keys its session on the response and confirms it with its first packet (a keepalive when it
 *   has nothing staged); the responder may send on the session only once that packet arrives.
 * - Packets to a peer without a session are staged (up to MAX_STAGED) and start a handshake, retried every
 *   REKEY_TIMEOUT_MS plus jitter while packets wait or the peer's keepalive is on, for REKEY_ATTEMPT_MS.
 * - Data sent without anything received for KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS starts a new handshake.
 * - A crossing (the other end's initiation arriving within `crossWindowMs` of our own) can instead, with
 *   probability `darkCrossing`, leave one end keyed under an index the other never learnt: its packets are
 *   dropped at the other end until a new handshake, and its receive counter shows one initiation and one
 *   response, which HandshakeWatch reads as a dark receive side.
 * - Receive counters (rxBytes) and the last handshake time, as the device reports them to HandshakeWatch.
 *
 * Not modelled: cookies under load, rekeying after REKEY_AFTER_TIME (runs are shorter than its 120 s cost
 * matters), keepalive traffic on established sessions (it changes no state here), endpoint roaming.
 */

/** wireguard-go's REKEY_TIMEOUT: a handshake unanswered this long is sent again. */
export const REKEY_TIMEOUT_MS = 5000
/** Up to this much random jitter is added to each retry (wireguard-go: 334 ms). */
export const REKEY_JITTER_MS = 334
/** wireguard-go's KEEPALIVE_TIMEOUT. */
export const KEEPALIVE_TIMEOUT_MS = 10_000
/** wireguard-go's REKEY_ATTEMPT_TIME: how long a handshake is retried for staged packets. */
export const REKEY_ATTEMPT_MS = 90_000
/** Packets staged per peer while it has no session (wireguard-go: MaxStagedPackets). */
export const MAX_STAGED = 128
/** Wire sizes of the handshake messages, as the receive counter counts them. */
export const INITIATION_BYTES = 148
export const RESPONSE_BYTES = 92
/** Transport header and tag around a payload. */
const DATA_OVERHEAD = 32

/** A WireGuard message on the underlay between two devices. */
export type WgMessage =
  | { type: 'init', id: number }
  | { type: 'resp', id: number }
  /** A transport packet on keypair `keypair`; `payload` null is a keepalive. */
  | { type: 'data', keypair: number, payload: Uint8Array | null }

/** What the model needs from the simulation. */
export interface WireGuardHost {
  /** Sends `msg` over the underlay from node `from` to node `to` (loss, latency and cuts apply); `receive` follows. */
  send: (t: number, from: number, to: number, msg: WgMessage) => void
  /** Calls `timer(i, j, gen)` at `at`. */
  schedule: (at: number, node: number, peer: number, gen: number) => void
  /** A transport payload reached node `to` from peer `from`. */
  deliver: (t: number, to: number, from: number, payload: Uint8Array) => void
}

/** Tunables of the model. */
export interface WireGuardModelOptions {
  /** Probability that a crossing leaves one end keyed on an index the other never learnt. Default: 0.1. */
  darkCrossing?: number
  /**
   * How recent our own initiation must be for the other end's to cross it: within about a round trip, its
   * answer may be on its way. An older one went unanswered (the other end did not have us yet), and consuming
   * the other end's initiation over it is an ordinary handshake. Default: 25 ms.
   */
  crossWindowMs?: number
}

/** Counters of what the model did, for the report. */
export interface WireGuardCounters {
  initiations: number
  handshakes: number
  crossings: number
  darkCrossings: number
  /** Packets sent to a node that is not a peer of the sender's device. */
  droppedNoPeer: number
  /** Packets dropped at the receiver: the sender is not its peer, or the keypair is unknown there. */
  droppedUnknown: number
  /** Packets dropped because the staging queue was full or its handshake gave up. */
  droppedStaged: number
}

/** One peer on one device. */
interface Peer {
  /** Bumped on every (re-)creation; timers of an older generation are ignored. */
  gen: number
  /** Keepalive off (added held): no handshake of its own until it has a packet to send or is armed. */
  held: boolean
  /** The keypair we send on, and the one the other end started that we may receive on (0: none). */
  current: number
  next: number
  previous: number
  /** Our pending initiation (0: none, or replaced by one we consumed), and when it went out. */
  initId: number
  initAt: number
  /** A handshake is wanted and retried every REKEY_TIMEOUT_MS until one completes; since when. */
  attempting: boolean
  attemptsSince: number
  /** A retry timer is set for this generation. */
  retrying: boolean
  staged: Uint8Array[]
  lastHandshakeAt: number
  rxBytes: number
  /** When we first sent data that is still unanswered by anything received (0: none). */
  unansweredSince: number
}

/** The devices of every node of a simulation. */
export class WireGuardModel {
  readonly counters: WireGuardCounters = {
    initiations: 0,
    handshakes: 0,
    crossings: 0,
    darkCrossings: 0,
    droppedNoPeer: 0,
    droppedUnknown: 0,
    droppedStaged: 0
  }

  private readonly devices: Array<Map<number, Peer>>
  private nextId = 1
  private nextGen = 1
  private readonly darkCrossing: number
  private readonly crossWindowMs: number

  constructor (nodes: number, private readonly host: WireGuardHost, private readonly random: Random, opts: WireGuardModelOptions = {}) {
    this.devices = Array.from({ length: nodes }, () => new Map())
    this.darkCrossing = opts.darkCrossing ?? 0.1
    this.crossWindowMs = opts.crossWindowMs ?? 25
  }

  /** Whether node i's device has peer j. */
  has (i: number, j: number): boolean {
    return this.devices[i]!.has(j)
  }

  /** Node i's peers. */
  peers (i: number): IterableIterator<number> {
    return this.devices[i]!.keys()
  }

  /** What the device reports of peer j at node i (HandshakeWatch reads these), or undefined. */
  peerState (i: number, j: number): { lastHandshakeAt: number, rxBytes: number } | undefined {
    const p = this.devices[i]!.get(j)
    return p === undefined ? undefined : { lastHandshakeAt: p.lastHandshakeAt, rxBytes: p.rxBytes }
  }

  /** Whether both ends can send to each other now. */
  established (i: number, j: number): boolean {
    const a = this.devices[i]!.get(j)
    const b = this.devices[j]!.get(i)
    return a !== undefined && b !== undefined && a.current !== 0 && b.current !== 0 && knows(b, a.current) && knows(a, b.current)
  }

  /** Adds peer j to node i's device; a peer not held initiates at once (its keepalive fires on creation). */
  add (t: number, i: number, j: number, held: boolean): void {
    const p: Peer = {
      gen: this.nextGen++,
      held,
      current: 0,
      next: 0,
      previous: 0,
      initId: 0,
      initAt: 0,
      attempting: false,
      attemptsSince: 0,
      retrying: false,
      staged: [],
      lastHandshakeAt: 0,
      rxBytes: 0,
      unansweredSince: 0
    }
    this.devices[i]!.set(j, p)
    if (!held) this.initiate(t, i, j, p)
  }

  /** Removes peer j from node i's device, with its sessions and staged packets. */
  remove (i: number, j: number): void {
    this.devices[i]!.delete(j)
  }

  /** Turns peer j's keepalive on at node i: without a session that starts a handshake. */
  arm (t: number, i: number, j: number): void {
    const p = this.devices[i]!.get(j)
    if (p === undefined || !p.held) return
    p.held = false
    if (p.current === 0 && !p.attempting) this.initiate(t, i, j, p)
  }

  /** Node i sends `payload` to node j through its tunnel; false when j is not a peer of i's device. */
  sendData (t: number, i: number, j: number, payload: Uint8Array): boolean {
    const p = this.devices[i]!.get(j)
    if (p === undefined) { this.counters.droppedNoPeer++; return false }
    if (p.current === 0) {
      if (p.staged.length >= MAX_STAGED) this.counters.droppedStaged++
      else p.staged.push(payload)
      if (!p.attempting) this.initiate(t, i, j, p)
      return true
    }
    this.transmit(t, i, j, p, payload)
    return true
  }

  /** A message from node `from` reached node `to`. */
  receive (t: number, to: number, from: number, msg: WgMessage): void {
    const p = this.devices[to]!.get(from)
    if (p === undefined) { this.counters.droppedUnknown++; return }
    switch (msg.type) {
      case 'init': this.onInitiation(t, to, from, p, msg.id); break
      case 'resp': this.onResponse(t, to, from, p, msg.id); break
      case 'data': this.onData(t, to, from, p, msg.keypair, msg.payload); break
    }
  }

  /** A retry timer of peer j at node i fired. */
  timer (t: number, i: number, j: number, gen: number): void {
    const p = this.devices[i]!.get(j)
    if (p === undefined || p.gen !== gen) return
    p.retrying = false
    if (!p.attempting) return
    const waiting = p.staged.length > 0
    if ((!waiting && p.held) || (p.held && t - p.attemptsSince >= REKEY_ATTEMPT_MS)) {
      // Nothing waits and the keepalive is off, or the attempts ran out: WireGuard stops trying.
      this.counters.droppedStaged += p.staged.length
      p.staged = []
      p.attempting = false
      p.initId = 0
      return
    }
    this.sendInitiation(t, i, j, p)
  }

  private initiate (t: number, i: number, j: number, p: Peer): void {
    p.attempting = true
    p.attemptsSince = t
    this.sendInitiation(t, i, j, p)
  }

  private sendInitiation (t: number, i: number, j: number, p: Peer): void {
    p.initId = this.nextId++
    p.initAt = t
    this.counters.initiations++
    this.host.send(t, i, j, { type: 'init', id: p.initId })
    if (!p.retrying) {
      p.retrying = true
      this.host.schedule(t + REKEY_TIMEOUT_MS + this.random.next() * REKEY_JITTER_MS, i, j, p.gen)
    }
  }

  private onInitiation (t: number, to: number, from: number, p: Peer, id: number): void {
    p.rxBytes += INITIATION_BYTES
    p.unansweredSince = 0
    const crossed = p.initId !== 0 && t - p.initAt <= this.crossWindowMs
    if (crossed) this.counters.crossings++
    if (crossed && this.random.next() < this.darkCrossing) {
      // Both handshake workers ran at once: this end keys a session the other end never learns of.
      this.counters.darkCrossings++
      p.rxBytes += RESPONSE_BYTES
      p.previous = p.current
      p.current = -this.nextId++
      p.initId = 0
      p.attempting = false
      p.lastHandshakeAt = t
      this.flush(t, to, from, p)
      return
    }
    // Consuming an initiation replaces our own pending handshake: its answer will find nothing to complete.
    p.initId = 0
    p.next = id
    this.host.send(t, to, from, { type: 'resp', id })
  }

  private onResponse (t: number, to: number, from: number, p: Peer, id: number): void {
    if (p.initId !== id) return
    p.rxBytes += RESPONSE_BYTES
    p.unansweredSince = 0
    p.initId = 0
    p.attempting = false
    p.previous = p.current
    p.current = id
    p.next = 0
    p.lastHandshakeAt = t
    this.counters.handshakes++
    // The first packet on the session confirms it to the responder.
    if (p.staged.length === 0) this.transmit(t, to, from, p, null)
    else this.flush(t, to, from, p)
  }

  private onData (t: number, to: number, from: number, p: Peer, keypair: number, payload: Uint8Array | null): void {
    if (!knows(p, keypair)) { this.counters.droppedUnknown++; return }
    p.rxBytes += DATA_OVERHEAD + (payload?.length ?? 0)
    p.unansweredSince = 0
    if (keypair === p.next) {
      // The initiator's first packet: the responder's session is confirmed and becomes the one it sends on.
      p.previous = p.current
      p.current = keypair
      p.next = 0
      p.attempting = false
      p.lastHandshakeAt = t
      this.flush(t, to, from, p)
    }
    if (payload !== null) this.host.deliver(t, to, from, payload)
  }

  private flush (t: number, i: number, j: number, p: Peer): void {
    const staged = p.staged
    p.staged = []
    for (const payload of staged) this.transmit(t, i, j, p, payload)
  }

  private transmit (t: number, i: number, j: number, p: Peer, payload: Uint8Array | null): void {
    if (payload !== null) {
      if (p.unansweredSince === 0) p.unansweredSince = t
      else if (t - p.unansweredSince >= KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS && !p.attempting) {
        // Sent into silence for too long: WireGuard starts a new handshake (the session may be dark).
        p.unansweredSince = t
        this.initiate(t, i, j, p)
      }
    }
    this.host.send(t, i, j, { type: 'data', keypair: p.current, payload })
  }
}

function knows (p: Peer, keypair: number): boolean {
  return keypair !== 0 && (keypair === p.current || keypair === p.next || keypair === p.previous)
}
