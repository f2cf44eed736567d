/**
 * The daemon's DNS server: a UDP socket and a TCP listener on one address (the mesh IP, port 53) that answer
 * the mesh's names from the current Zone (answer.ts) and relay other names through a Forwarder, for clients
 * inside the mesh CIDR only. What a client sends is counted, never thrown: a datagram that does not decode
 * is dropped, a TCP message that does not decode closes its connection.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createServer, isIPv6, type Server, type Socket } from 'node:net'
import dnsPacket, { type DecodedPacket } from 'dns-packet'
import type { Clock } from '../clock.js'
import { ConfigError } from '../errors.js'
import type { Logger } from '../log.js'
import { cidrContains, parseIPv4 } from '../wire/addr.js'
import { answer, questionOf, responseTo, type Outcome } from './answer.js'
import type { Forwarder } from './forwarder.js'
import { Rcode, decodeMessage, encodeForUdp, udpLimit } from './message.js'
import { TcpSession } from './tcp-session.js'
import type { Zone } from './zone.js'

/** A TCP connection with nothing received or sent for this long, in ms, is closed (RFC 7766 6.2.3 suggests seconds). */
export const TCP_IDLE_MS = 10_000

/**
 * Receive buffer asked for the UDP socket (the kernel caps it at net.core.rmem_max; memory is charged only for
 * datagrams waiting). With the default, about 208 KiB, a burst of 2000 queries from one client on loopback had
 * 294 read and the rest dropped unread (RcvbufErrors in /proc/net/snmp); with this, all 2000 were answered.
 */
export const UDP_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024

/** TCP connections served at once; one more is closed as soon as it is accepted. */
export const MAX_TCP_CONNECTIONS = 64

/** Queries one TCP connection may have in flight; more wait, unread, in the socket. */
export const MAX_TCP_PIPELINE = 16

/** Configuration of a DnsServer. */
export interface DnsServerOptions {
  clock: Clock
  /** A child logger (`{ component: 'dns' }`); nothing is logged per query above debug. */
  log: Logger
  /** Relays names outside the zone; null or absent: they are refused. The server does not close it. */
  forwarder?: Forwarder | null
  /** Default: TCP_IDLE_MS (10000). */
  tcpIdleMs?: number
  /** Default: MAX_TCP_CONNECTIONS (64). */
  maxTcpConnections?: number
  /** Default: MAX_TCP_PIPELINE (16). */
  maxTcpPipeline?: number
}

/** What the server has seen since it was made. Plain numbers, for metrics. */
export interface DnsCounters {
  /** Datagrams received, decodable or not. */
  udpQueries: number
  /** TCP messages received, decodable or not. */
  tcpQueries: number
  /** Authoritative answers with records. */
  answered: number
  /** Names of the zone that do not exist. */
  nxdomain: number
  /** Names of the zone that exist without a record of the type asked. */
  nodata: number
  /** Queries handed to the forwarder. */
  forwarded: number
  /** Forwarded queries answered SERVFAIL: no upstream answered, none configured, or too many in flight. */
  forwardFailures: number
  /** Of forwardFailures, those refused at once because the forwarder was at its in-flight bound. */
  forwardBusy: number
  /** REFUSED: a name outside the zone with forwarding off or from a client outside the mesh CIDR, or a zone transfer. */
  refused: number
  /** Messages that do not decode or have the response bit set: dropped (UDP) or the connection closed (TCP). */
  malformed: number
  /** FORMERR or BADVERS answers: decodable queries that are not one question the server can answer. */
  formErrors: number
  /** NOTIMP answers: an opcode other than QUERY. */
  notImplemented: number
  /** TCP connections accepted. */
  tcpConnections: number
  /** TCP connections closed on arrival because MAX_TCP_CONNECTIONS were open. */
  tcpRejected: number
  /** Queries whose handling threw (a bug; logged at warn): no answer sent. */
  internalErrors: number
}

const OUTCOME_COUNTER: Record<Outcome, keyof DnsCounters> = {
  answer: 'answered',
  nxdomain: 'nxdomain',
  nodata: 'nodata',
  refused: 'refused',
  formerr: 'formErrors',
  badvers: 'formErrors',
  notimp: 'notImplemented'
}

/** Counters of a server that has seen nothing yet. */
export function zeroCounters (): DnsCounters {
  return {
    udpQueries: 0,
    tcpQueries: 0,
    answered: 0,
    nxdomain: 0,
    nodata: 0,
    forwarded: 0,
    forwardFailures: 0,
    forwardBusy: 0,
    refused: 0,
    malformed: 0,
    formErrors: 0,
    notImplemented: 0,
    tcpConnections: 0,
    tcpRejected: 0,
    internalErrors: 0
  }
}

/** Serves DNS on one address over UDP and TCP (module comment). */
export class DnsServer {
  readonly counters: DnsCounters = zeroCounters()

  private zone: Zone | null = null
  private udp: UdpSocket | null = null
  private tcp: Server | null = null
  private readonly sessions = new Set<TcpSession>()
  private readonly forwarder: Forwarder | null
  private readonly tcpIdleMs: number
  private readonly maxTcpConnections: number
  private readonly maxTcpPipeline: number

  /** Throws ConfigError on a limit that cannot work. */
  constructor (private readonly o: DnsServerOptions) {
    this.forwarder = o.forwarder ?? null
    this.tcpIdleMs = positive('tcpIdleMs', o.tcpIdleMs ?? TCP_IDLE_MS)
    this.maxTcpConnections = positive('maxTcpConnections', o.maxTcpConnections ?? MAX_TCP_CONNECTIONS)
    this.maxTcpPipeline = positive('maxTcpPipeline', o.maxTcpPipeline ?? MAX_TCP_PIPELINE)
  }

  /** Answers from `zone` from now on; null answers nothing itself (every name is forwarded or refused). */
  setZone (zone: Zone | null): void {
    this.zone = zone
  }

  /**
   * Binds UDP and TCP on `host`:`port`, both on the same port; port 0 picks a free one. Resolves with the bound
   * address; throws ConfigError when either cannot bind (address not on this host, port taken, no permission).
   */
  async listen (at: { host: string, port: number }): Promise<{ host: string, port: number }> {
    if (this.udp !== null) throw new Error('the DNS server is already listening')
    for (let attempt = 1; ; attempt++) {
      // SO_REUSEADDR, as net.Server sets it for TCP: a DNS server of the host's own that binds the wildcard address
      // after this one (dnsmasq, bind) can still do so, where without it the daemon would keep it from starting.
      const udp = createSocket({ type: isIPv6(at.host) ? 'udp6' : 'udp4', recvBufferSize: UDP_RECEIVE_BUFFER_BYTES, reuseAddr: true })
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject)
          udp.bind(at.port, at.host, () => { udp.off('error', reject); resolve() })
        })
      } catch (err) {
        udp.close()
        throw bindError('UDP', at, err)
      }
      const port = udp.address().port
      const tcp = createServer({ allowHalfOpen: true }, sock => this.accept(sock))
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject)
          tcp.listen(port, at.host, () => { tcp.off('error', reject); resolve() })
        })
      } catch (err) {
        udp.close()
        // With port 0 the UDP port is free for TCP most of the time; when it is not, another pair is tried.
        if (at.port === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 5) continue
        throw bindError('TCP', { host: at.host, port }, err)
      }
      udp.on('message', (msg, rinfo) => this.onDatagram(udp, msg, rinfo.address, rinfo.port))
      udp.on('error', err => this.o.log.warn({ event: 'dns.socket.error', reason: err.message }, 'DNS UDP socket error'))
      tcp.on('error', err => this.o.log.warn({ event: 'dns.socket.error', reason: err.message }, 'DNS TCP listener error'))
      this.udp = udp
      this.tcp = tcp
      this.o.log.info({ event: 'dns.listen', host: at.host, port }, 'DNS server listening')
      return { host: at.host, port }
    }
  }

  /** TCP connections open now. */
  get openTcpConnections (): number {
    return this.sessions.size
  }

  /** Stops listening and drops every TCP connection; answers still pending are not sent. */
  async close (): Promise<void> {
    const udp = this.udp
    const tcp = this.tcp
    this.udp = null
    this.tcp = null
    for (const s of [...this.sessions]) s.close()
    udp?.close()
    if (tcp !== null) await new Promise<void>(resolve => tcp.close(() => resolve()))
  }

  /**
   * The bytes answering `bytes` from the client at `from`, or null for none (a message that does not decode or
   * has the response bit set; over TCP its connection closes). Never rejects.
   */
  async respond (bytes: Buffer, from: string, transport: 'udp' | 'tcp'): Promise<Buffer | null> {
    try {
      const query = decodeMessage(bytes)
      if (query === null) {
        this.counters.malformed++
        return null
      }
      const zone = this.zone
      const forward = this.forwarder !== null && zone !== null && zone.cidr !== null && inside(zone.cidr, from)
      const d = answer(query, zone, { forward })
      switch (d.kind) {
        case 'drop':
          this.counters.malformed++
          return null
        case 'reply':
          this.counters[OUTCOME_COUNTER[d.outcome]]++
          return transport === 'udp' ? encodeForUdp(d.response, udpLimit(query)) : dnsPacket.encode(d.response)
        case 'forward':
          return await this.forward(query, bytes, transport)
        default: {
          const never: never = d
          return never
        }
      }
    } catch (err) {
      this.counters.internalErrors++
      this.o.log.warn({ event: 'dns.query.error', reason: (err as Error).message }, 'DNS query handling failed')
      return null
    }
  }

  /** Relays a query through the forwarder; SERVFAIL when it gets no answer, nothing when it was closed. */
  private async forward (query: DecodedPacket, bytes: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | null> {
    this.counters.forwarded++
    // answer() forwards only a query with one question it could echo.
    const question = questionOf(query)!
    const limit = udpLimit(query)
    const r = await this.forwarder!.forward({ bytes, question, transport, udpLimit: limit })
    if (r.ok) return r.bytes
    if (r.reason === 'closed') return null
    this.counters.forwardFailures++
    if (r.reason === 'busy') this.counters.forwardBusy++
    const response = responseTo(query, question, true, Rcode.SERVFAIL)
    return transport === 'udp' ? encodeForUdp(response, limit) : dnsPacket.encode(response)
  }

  private onDatagram (udp: UdpSocket, msg: Buffer, address: string, port: number): void {
    this.counters.udpQueries++
    void this.respond(msg, address, 'udp').then(reply => {
      // A forwarded answer can arrive after close(); the socket is gone by then.
      if (reply === null || this.udp !== udp) return
      udp.send(reply, port, address, err => {
        if (err !== null && err !== undefined) this.o.log.debug({ event: 'dns.send.error', reason: err.message }, 'DNS reply not sent')
      })
    })
  }

  private accept (sock: Socket): void {
    if (this.tcp === null || this.sessions.size >= this.maxTcpConnections) {
      this.counters.tcpRejected++
      sock.destroy()
      return
    }
    this.counters.tcpConnections++
    const from = sock.remoteAddress ?? ''
    const session: TcpSession = new TcpSession({
      socket: sock,
      clock: this.o.clock,
      idleMs: this.tcpIdleMs,
      maxPipeline: this.maxTcpPipeline,
      respond: message => {
        this.counters.tcpQueries++
        return this.respond(message, from, 'tcp')
      },
      onClose: () => this.sessions.delete(session)
    })
    this.sessions.add(session)
  }
}

/** Whether the client at `from` (an address as sockets report it, IPv4-mapped IPv6 included) is inside `cidr`. */
function inside (cidr: NonNullable<Zone['cidr']>, from: string): boolean {
  const ip = parseIPv4(from.startsWith('::ffff:') ? from.slice(7) : from)
  return ip !== null && cidrContains(cidr, ip)
}

function positive (name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`DNS server ${name} must be a whole number of at least 1 (got ${value})`)
  return value
}

function bindError (what: string, at: { host: string, port: number }, err: unknown): ConfigError {
  return new ConfigError(`cannot listen for DNS over ${what} on ${at.host}:${at.port}: ${(err as Error).message}`, { cause: err })
}
