import { decodePacket, type Packet, type Update } from '../../lib/swim/codec.js'
import { localConfig, type SwimConfig } from '../../lib/swim/config.js'
import { SeededRandom } from '../../lib/swim/random.js'
import { Swim } from '../../lib/swim/swim.js'
import type { SwimEvent } from '../../lib/swim/types.js'
import type { ClaimAuth } from '../../lib/swim/claims.js'
import { SimKeyring } from '../../sim/virtual/keyring.js'

const keyring = new SimKeyring('test')

/** The claim signer of member `id` in every test: all tests share one keyring, so any core verifies any member. */
export function claimsFor (id: string): ClaimAuth { return keyring.auth(id) }

/** Member `id`'s signature of its alive claim at `incarnation`. */
export function aliveSig (id: string, incarnation: number): Uint8Array {
  return keyring.auth(id).sign({ state: 'alive', id, incarnation })
}

/** An alive or left claim with its member's signature, as the member itself sends it. */
export function signed (u: Update): Update {
  if (u.state !== 'alive' && u.state !== 'left') throw new Error('only alive and left claims are signed')
  return { ...u, sig: keyring.auth(u.id).sign({ state: u.state, id: u.id, incarnation: u.incarnation }) }
}

/** One packet that went over the test network, decoded for assertions. */
export interface Sent { t: number, from: number, to: number, packet: Packet, bytes: Uint8Array }

/**
 * A few real Swim cores joined by an in-memory network with a fixed latency, driven in virtual time.
 * Used by the core's tests: every byte goes through the real codec; `cut` and `down` make partitions
 * and crashes.
 */
export class Cluster {
  readonly cores: Array<Swim | undefined> = []
  readonly ids: string[] = []
  readonly addrs: string[] = []
  readonly events: Array<{ node: number, e: SwimEvent }> = []
  readonly sent: Sent[] = []
  t = 0
  /** Drops a packet when it returns true. */
  cut: (from: number, to: number, packet: Packet) => boolean = () => false
  private readonly inflight: Array<{ at: number, to: number, from: string, bytes: Uint8Array }> = []
  private readonly random: SeededRandom
  readonly config: SwimConfig

  constructor (n: number, opts: { config?: SwimConfig, seed?: number, latencyMs?: number, start?: boolean } = {}) {
    this.config = opts.config ?? localConfig()
    this.random = new SeededRandom(opts.seed ?? 1)
    this.latency = opts.latencyMs ?? 1
    for (let i = 0; i < n; i++) {
      this.ids.push(`node-${i}`)
      this.addrs.push(`100.64.0.${i + 1}:7946`)
    }
    for (let i = 0; i < n; i++) this.cores.push(undefined)
    if (opts.start !== false) for (let i = 0; i < n; i++) this.make(i, 0)
  }

  private readonly latency: number

  /** The authorised set as setMembers wants it. */
  roster (): Array<{ id: string, addr: string }> { return this.ids.map((id, i) => ({ id, addr: this.addrs[i]! })) }

  /** Builds (or rebuilds, for a restart) node i with `incarnation`. */
  make (i: number, incarnation: number): Swim {
    const s = new Swim({
      config: this.config,
      self: { id: this.ids[i]!, addr: this.addrs[i]! },
      incarnation,
      claims: claimsFor(this.ids[i]!),
      random: this.random.fork()
    })
    s.setMembers(this.t, this.roster())
    this.cores[i] = s
    this.drain(i)
    return s
  }

  core (i: number): Swim { return this.cores[i]! }

  /** Stops node i: it neither sends nor receives (a crash). */
  crash (i: number): void { this.cores[i] = undefined }

  /** Delivers raw bytes to node `to` as if from address `fromAddr`, now. */
  inject (to: number, fromAddr: string, bytes: Uint8Array): void {
    this.core(to).handlePacket(this.t, fromAddr, bytes)
    this.drain(to)
  }

  /** Moves every output of node i into the network and the event log. */
  drain (i: number): void {
    const s = this.cores[i]
    if (s === undefined) return
    for (let tx = s.pollTransmit(); tx !== undefined; tx = s.pollTransmit()) {
      const to = this.addrs.indexOf(tx.to)
      const d = decodePacket(tx.bytes, 65_000)
      if (!d.ok) throw new Error(`node ${i} sent an undecodable packet: ${d.reason}`)
      this.sent.push({ t: this.t, from: i, to, packet: d.packet, bytes: tx.bytes })
      if (to < 0 || this.cut(i, to, d.packet)) continue
      this.inflight.push({ at: this.t + this.latency, to, from: this.addrs[i]!, bytes: tx.bytes })
    }
    for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) this.events.push({ node: i, e })
  }

  /** Runs every delivery and timer up to time `until`, in time order. */
  runUntil (until: number): void {
    for (;;) {
      let timerAt = Infinity
      let who = -1
      for (let i = 0; i < this.cores.length; i++) {
        const at = this.cores[i]?.pollTimeout()
        if (at !== undefined && at < timerAt) { timerAt = at; who = i }
      }
      let pktAt = Infinity
      let pkt = -1
      for (let k = 0; k < this.inflight.length; k++) {
        if (this.inflight[k]!.at < pktAt) { pktAt = this.inflight[k]!.at; pkt = k }
      }
      const next = Math.min(timerAt, pktAt)
      if (next > until) break
      this.t = Math.max(this.t, next)
      if (pkt >= 0 && pktAt <= timerAt) {
        const p = this.inflight.splice(pkt, 1)[0]!
        const s = this.cores[p.to]
        if (s !== undefined) { s.handlePacket(this.t, p.from, p.bytes); this.drain(p.to) }
      } else {
        this.cores[who]!.handleTimeout(this.t)
        this.drain(who)
      }
    }
    this.t = until
  }

  /** Runs until `cond()` holds (checked after every step of `stepMs`), at most `maxMs`; returns the elapsed time. */
  runUntilTrue (cond: () => boolean, maxMs: number, stepMs = 10): number {
    const start = this.t
    while (!cond()) {
      if (this.t - start >= maxMs) throw new Error(`condition not met within ${maxMs} ms of virtual time`)
      this.runUntil(this.t + stepMs)
    }
    return this.t - start
  }

  /** State of member j as node i holds it. */
  view (i: number, j: number): string | undefined { return this.core(i).member(this.ids[j]!)?.state }

  /** Events of one type about node j (optionally seen at node i). */
  eventsAbout (type: SwimEvent['type'], j: number, at?: number): SwimEvent[] {
    return this.events.filter(x => x.e.type === type && x.e.id === this.ids[j] && (at === undefined || x.node === at)).map(x => x.e)
  }
}
