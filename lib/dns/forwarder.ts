/**
 * Relays queries for names outside the mesh to the host's upstream nameservers, one after another until one
 * answers: over UDP with a timeout each, again over TCP when the UDP answer is truncated, over TCP from the
 * start for a query that came over TCP. Each attempt uses a fresh socket (a random source port) and a random
 * query id, and takes only an answer from that upstream to that id and question, so an off-path sender has
 * both to guess. The client gets the upstream's bytes back under its own id.
 */
import { randomInt } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import type { Question } from 'dns-packet'
import type { Clock, Timer } from '../clock.js'
import { ConfigError } from '../errors.js'
import type { Logger } from '../log.js'
import { FrameReader, Rcode, decodeHead, frame, rcodeOf } from './message.js'
import type { Upstream } from './upstreams.js'

/** How long one upstream has to answer, per attempt (UDP, or TCP connect and answer), in ms. */
export const FORWARD_TIMEOUT_MS = 2000

/** Forwards in flight at once; the next one fails at once. Bounds sockets and memory under a flood of misses. */
export const MAX_FORWARDS_IN_FLIGHT = 256

/** Configuration of a Forwarder. */
export interface ForwarderOptions {
  /** Upstreams to ask, in order (upstreamsAt). Empty: every forward fails. */
  upstreams: readonly Upstream[]
  clock: Clock
  log: Logger
  /** Time each upstream has to answer one attempt, in ms, 1-60000. Default: FORWARD_TIMEOUT_MS (2000). */
  timeoutMs?: number
  /** Forwards in flight at once, at least 1. Default: MAX_FORWARDS_IN_FLIGHT (256). */
  maxInFlight?: number
  /** The id each upstream query carries, 0-65535. Default: a cryptographically random one. */
  randomId?: () => number
}

/** How a forward ended: the answer to relay, or why there is none (`busy`: over maxInFlight; `failed`: no upstream answered). */
export type ForwardResult =
  | { ok: true, bytes: Buffer }
  | { ok: false, reason: 'busy' | 'no-upstreams' | 'failed' | 'closed' }

/** What the caller knows of the query besides its bytes. */
export interface ForwardRequest {
  /** The query as the client sent it. */
  bytes: Buffer
  /** Its one question; an answer to anything else is not the answer. */
  question: Question
  /** How the client asked: a UDP query tries UDP first, a TCP query goes over TCP only. */
  transport: 'udp' | 'tcp'
  /** Most bytes the client takes over UDP (message.ts udpLimit): a longer answer fetched over TCP is relayed truncated. */
  udpLimit: number
}

/** Counters of the forwarder's own attempts; the server counts queries. */
export interface ForwarderCounters {
  /** Forwards refused because maxInFlight were already in flight. */
  busy: number
  /** Attempts an upstream left unanswered past timeoutMs. */
  timeouts: number
  /** Attempts that failed otherwise: socket error, refused connection, closed before an answer. */
  errors: number
  /** Truncated UDP answers asked again over TCP. */
  tcpRetries: number
}

/** An upstream's answer that passed the checks. */
interface Reply { bytes: Buffer, tc: boolean, rcode: number }

/** Upstream answers that say "ask someone else": the next upstream is tried, and this one is relayed only if none does better. */
const TRY_NEXT = new Set<number>([Rcode.SERVFAIL, Rcode.NOTIMP, Rcode.REFUSED])

/** Forwards queries to upstream nameservers (module comment). */
export class Forwarder {
  readonly counters: ForwarderCounters = { busy: 0, timeouts: 0, errors: 0, tcpRetries: 0 }
  private upstreams: readonly Upstream[]
  private readonly timeoutMs: number
  private readonly maxInFlight: number
  private readonly randomId: () => number
  private readonly aborts = new Set<() => void>()
  private active = 0
  private closed = false

  /** Throws ConfigError on a timeout or bound that cannot work. */
  constructor (private readonly o: ForwarderOptions) {
    this.upstreams = o.upstreams
    this.timeoutMs = o.timeoutMs ?? FORWARD_TIMEOUT_MS
    this.maxInFlight = o.maxInFlight ?? MAX_FORWARDS_IN_FLIGHT
    this.randomId = o.randomId ?? (() => randomInt(0, 65536))
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs < 1 || this.timeoutMs > 60_000) {
      throw new ConfigError(`DNS forward timeoutMs must be a whole number from 1 to 60000 (got ${this.timeoutMs})`)
    }
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1) {
      throw new ConfigError(`DNS forward maxInFlight must be a whole number of at least 1 (got ${this.maxInFlight})`)
    }
  }

  /** Replaces the upstream list (resolv.conf changed); forwards under way finish with the old one. */
  setUpstreams (upstreams: readonly Upstream[]): void {
    this.upstreams = upstreams
  }

  /** Forwards in flight now. */
  get inFlight (): number {
    return this.active
  }

  /** Asks the upstreams in order; resolves with the first usable answer under the client's id, never rejects. */
  async forward (req: ForwardRequest): Promise<ForwardResult> {
    if (this.closed) return { ok: false, reason: 'closed' }
    const upstreams = this.upstreams
    if (upstreams.length === 0) return { ok: false, reason: 'no-upstreams' }
    if (this.active >= this.maxInFlight) {
      this.counters.busy++
      return { ok: false, reason: 'busy' }
    }
    this.active++
    try {
      let fallback: Reply | null = null
      for (const up of upstreams) {
        const r = await this.ask(up, req)
        if (this.closed) return { ok: false, reason: 'closed' }
        if (r === null) continue
        if (!TRY_NEXT.has(r.rcode)) return { ok: true, bytes: withId(r.bytes, req.bytes.readUInt16BE(0)) }
        fallback = r
      }
      if (fallback !== null) return { ok: true, bytes: withId(fallback.bytes, req.bytes.readUInt16BE(0)) }
      return { ok: false, reason: 'failed' }
    } finally {
      this.active--
    }
  }

  /** Ends every forward in flight (each resolves `closed`) and refuses new ones. */
  close (): void {
    this.closed = true
    for (const abort of [...this.aborts]) abort()
  }

  /** One upstream's answer to `req`, or null. A truncated UDP answer is fetched again over TCP when the whole fits the client. */
  private async ask (up: Upstream, req: ForwardRequest): Promise<Reply | null> {
    const id = this.randomId()
    const bytes = withId(req.bytes, id)
    if (req.transport === 'tcp') return await this.tcp(up, bytes, id, req.question)
    const r = await this.udp(up, bytes, id, req.question)
    if (r === null || !r.tc || this.closed) return r
    this.counters.tcpRetries++
    const whole = await this.tcp(up, bytes, id, req.question)
    return whole !== null && !whole.tc && whole.bytes.length <= req.udpLimit ? whole : r
  }

  private udp (up: Upstream, bytes: Buffer, id: number, question: Question): Promise<Reply | null> {
    const sock = createSocket(up.family === 6 ? 'udp6' : 'udp4')
    return this.attempt(up, 'udp', () => sock.close(), finish => {
      sock.on('error', () => finish(null))
      sock.on('message', msg => {
        const r = check(msg, id, question)
        if (r !== null) finish(r)
      })
      sock.connect(up.port, up.address, (err?: Error) => {
        if (err !== undefined && err !== null) { finish(null); return }
        sock.send(bytes, sendErr => { if (sendErr !== null && sendErr !== undefined) finish(null) })
      })
    })
  }

  private tcp (up: Upstream, bytes: Buffer, id: number, question: Question): Promise<Reply | null> {
    const sock = connect({ host: up.address, port: up.port })
    const reader = new FrameReader()
    return this.attempt(up, 'tcp', () => sock.destroy(), finish => {
      sock.on('error', () => finish(null))
      sock.on('close', () => finish(null))
      sock.on('data', chunk => {
        const msg = reader.push(chunk)[0]
        if (msg !== undefined) finish(check(msg, id, question))
      })
      sock.write(frame(bytes))
    })
  }

  /**
   * Runs one attempt: `start` wires a socket to `finish`, which settles once, stops the timer and calls `cleanup`.
   * The timer, an error and close() all settle through `finish`.
   */
  private attempt (up: Upstream, via: string, cleanup: () => void, start: (finish: (r: Reply | null) => void) => void): Promise<Reply | null> {
    return new Promise(resolve => {
      let timer: Timer | null = null
      let settled = false
      const finish = (r: Reply | null, why = 'error'): void => {
        if (settled) return
        settled = true
        timer?.cancel()
        this.aborts.delete(abort)
        cleanup()
        if (r === null && why !== 'closed') {
          if (why === 'timeout') this.counters.timeouts++
          else this.counters.errors++
          this.o.log.debug({ event: 'dns.forward.fail', upstream: up.address, via, reason: why }, 'upstream did not answer')
        }
        resolve(r)
      }
      const abort = (): void => finish(null, 'closed')
      this.aborts.add(abort)
      timer = this.o.clock.setTimeout(() => finish(null, 'timeout'), this.timeoutMs)
      start(r => finish(r))
    })
  }
}

/**
 * `msg` as the answer to the query with `id` and `question`, or null when it is not one: too short, another id,
 * not a response, or another question (names compared case-insensitively).
 */
function check (msg: Buffer, id: number, question: Question): Reply | null {
  if (msg.length < 12 || msg.readUInt16BE(0) !== id) return null
  const head = decodeHead(msg)
  if (head === null || head.type !== 'response' || head.questions?.length !== 1) return null
  const q = head.questions[0]!
  if (q.name.toLowerCase() !== question.name.toLowerCase() || q.type !== question.type || (q.class ?? 'IN') !== (question.class ?? 'IN')) return null
  return { bytes: msg, tc: head.flag_tc, rcode: rcodeOf(head) }
}

/** A copy of `msg` with its id set to `id`. */
function withId (msg: Buffer, id: number): Buffer {
  const out = Buffer.from(msg)
  out.writeUInt16BE(id, 0)
  return out
}
