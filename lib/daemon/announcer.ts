import { createSocket, type Socket } from 'node:dgram'
import type { Clock } from '../clock.js'
import type { Logger } from '../log.js'
import { StaticKey } from '../wire/keys.js'
import { announceKey, decodeAnnounce, encodeAnnounce, verifyAnnounce, type AnnounceType } from './announce-codec.js'

/** Where and how to reach one member over the underlay. */
export interface UnderlayPeer { publicKey: string, host: string, port: number }

/** Counters shown in `weft status --json`. */
export interface AnnouncerCounters {
  sent: number
  received: number
  accepted: number
  droppedLayout: number
  droppedUnknownSender: number
  droppedBadMac: number
  droppedStale: number
  /** Arrived before open(): this node's tunnels did not exist yet, so it neither answers nor listens. */
  droppedNotOpen: number
}

/** Options of Announcer. */
export interface AnnouncerOptions {
  selfId: string
  privateKey: string
  /** UDP port to listen on (all underlay addresses). Convention: the WireGuard listen port + 1. */
  port: number
  /** Looks a member up in the current netmap; null for anyone not authorised. */
  lookup: (id: string) => UnderlayPeer | null
  /** Our current SWIM incarnation and our signature of our alive claim at it, carried in every ping and ack. */
  alive: () => { incarnation: number, sig: Uint8Array }
  /** Called for every authenticated, fresh ping or ack from a member: it is alive at `incarnation` (signed by `sig`, not yet checked). */
  onAlive: (id: string, incarnation: number, sig: Uint8Array) => void
  /** Called for every authenticated, fresh `dead` notice: member `id` holds us dead at our `incarnation`. */
  onDeadNotice: (id: string, incarnation: number) => void
  /**
   * Largest accepted difference between the sender's clock and ours. Default: 60 s — NTP-synced hosts are
   * within a second; a minute tolerates a badly drifting VM while bounding how long a captured packet is useful
   * (and a replay inside it is refused anyway by the per-sender timestamp).
   */
  maxSkewMs?: number
  clock: Clock
  log: Logger
}

/**
 * Sends and answers underlay announcements (announce-codec.ts). Every message is authenticated with the
 * pair key; anything else is counted and dropped. A ping is answered with an ack; both tell `onAlive`. A
 * `dead` notice (we hold the receiver dead at its incarnation) is not answered; it tells `onDeadNotice`.
 * Nothing is answered before open(): an ack tells the member we are alive, and it then probes us through its
 * tunnel, which our side must already have.
 */
export class Announcer {
  readonly counters: AnnouncerCounters = {
    sent: 0,
    received: 0,
    accepted: 0,
    droppedLayout: 0,
    droppedUnknownSender: 0,
    droppedBadMac: 0,
    droppedStale: 0,
    droppedNotOpen: 0
  }

  private socket: Socket | null = null
  private isOpen = false
  private readonly keys = new Map<string, Buffer>()
  private readonly lastTs = new Map<string, number>()
  private readonly maxSkewMs: number
  /** Timestamps we send are strictly increasing, so the receiver's replay check never drops a genuine message. */
  private lastSentTs = 0
  private readonly staticKey: StaticKey

  constructor (private readonly o: AnnouncerOptions) {
    this.maxSkewMs = o.maxSkewMs ?? 60_000
    this.staticKey = StaticKey.from(o.privateKey)
  }

  /** Binds the UDP socket. */
  async start (): Promise<void> {
    const s = createSocket({ type: 'udp4', reuseAddr: true })
    s.on('message', (buf, rinfo) => this.receive(buf, rinfo.address, rinfo.port))
    s.on('error', err => this.o.log.warn({ event: 'announce.error', reason: err.message }, 'announcement socket error'))
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.bind(this.o.port, () => { s.off('error', reject); resolve() })
    })
    this.socket = s
  }

  /**
   * Starts answering pings and passing announcements to onAlive. The daemon calls it once its first reconcile
   * has configured the tunnels: in an N=200 restart a daemon whose first reconcile took 87 s acked the dead
   * re-probes at once, was revived everywhere, failed every overlay probe once the join grace ran out, and was
   * declared dead again by 89 members before it could hear anyone.
   */
  open (): void {
    this.isOpen = true
  }

  /** Closes the socket. */
  stop (): void {
    this.socket?.close()
    this.socket = null
  }

  /** Sends a ping to member `id` (no-op when it is unknown or has no underlay address). */
  ping (id: string): void {
    const peer = this.o.lookup(id)
    if (peer !== null) this.sendAlive('ping', id, peer, peer.host, peer.port)
  }

  /**
   * Tells member `id` we hold it dead at its `incarnation`, so that, if it runs, it refutes now rather than
   * when a tunnel to us is back (no-op when it is unknown or has no underlay address).
   */
  notifyDead (id: string, incarnation: number): void {
    const peer = this.o.lookup(id)
    if (peer !== null) this.send({ type: 'dead', to: id, incarnation }, peer, peer.host, peer.port)
  }

  /**
   * The re-probe of a member we hold dead at `incarnation`: a `dead` notice, then a ping. In that order, a
   * member that runs refutes on the notice, and its ack to the ping carries the refuted incarnation.
   */
  pingDead (id: string, incarnation: number): void {
    const peer = this.o.lookup(id)
    if (peer === null) return
    this.send({ type: 'dead', to: id, incarnation }, peer, peer.host, peer.port)
    this.sendAlive('ping', id, peer, peer.host, peer.port)
  }

  private sendAlive (type: 'ping' | 'ack', to: string, peer: UnderlayPeer, host: string, port: number): void {
    const { incarnation, sig } = this.o.alive()
    this.send({ type, to, incarnation, sig }, peer, host, port)
  }

  private send (m: { type: AnnounceType, to: string, incarnation: number, sig?: Uint8Array }, peer: UnderlayPeer, host: string, port: number): void {
    if (this.socket === null) return
    this.lastSentTs = Math.max(this.o.clock.now(), this.lastSentTs + 1)
    const to = m.to
    const buf = encodeAnnounce({ ...m, from: this.o.selfId, timestampMs: this.lastSentTs }, this.keyFor(peer.publicKey))
    this.counters.sent++
    this.socket.send(buf, port, host, err => {
      if (err !== null && err !== undefined) this.o.log.debug({ event: 'announce.send.failed', to, reason: err.message }, 'announcement not sent')
    })
  }

  private keyFor (publicKey: string): Buffer {
    let k = this.keys.get(publicKey)
    if (k === undefined) {
      k = announceKey(this.staticKey.sharedSecret(publicKey))
      if (this.keys.size > 100_000) this.keys.clear()
      this.keys.set(publicKey, k)
    }
    return k
  }

  /** Handles one datagram; exported behaviour is only through counters, onAlive and onDeadNotice. */
  receive (buf: Buffer, host: string, port: number): void {
    this.counters.received++
    if (!this.isOpen) { this.counters.droppedNotOpen++; return }
    const d = decodeAnnounce(buf)
    if (!d.ok || d.msg.to !== this.o.selfId) { this.counters.droppedLayout++; return }
    const peer = this.o.lookup(d.msg.from)
    if (peer === null) { this.counters.droppedUnknownSender++; return }
    if (!verifyAnnounce(buf, this.keyFor(peer.publicKey))) { this.counters.droppedBadMac++; return }
    const now = this.o.clock.now()
    const last = this.lastTs.get(d.msg.from) ?? 0
    if (Math.abs(now - d.msg.timestampMs) > this.maxSkewMs || d.msg.timestampMs <= last) { this.counters.droppedStale++; return }
    this.lastTs.set(d.msg.from, d.msg.timestampMs)
    this.counters.accepted++
    // Answer at the address it came from: that is the path that works now, whatever the netmap says.
    if (d.msg.type === 'dead') { this.o.onDeadNotice(d.msg.from, d.msg.incarnation); return }
    if (d.msg.type === 'ping') this.sendAlive('ack', d.msg.from, peer, host, port)
    this.o.onAlive(d.msg.from, d.msg.incarnation, d.msg.sig!)
  }
}
