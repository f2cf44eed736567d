/**
 * Shared by the DNS tests: netmaps with named nodes, queries built and read with dns-packet, a client that asks
 * over real UDP and TCP sockets, and an upstream nameserver on 127.0.0.1 whose answers a test scripts.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { connect, createServer, type Server, type Socket } from 'node:net'
import dnsPacket, { type DecodedPacket, type Packet, type RecordType } from 'dns-packet'
import { FrameReader, frame } from '../../lib/dns/message.js'
import type { Netmap, NodeRecord } from '../../lib/wire/netmap.js'

/** Longest a test waits for one reply before it fails; a guard, not a pace. */
const REPLY_GUARD_MS = 5000

/** A node named `name` at `meshIp`. */
export function namedNode (i: number, name: string | undefined, meshIp: string): NodeRecord {
  return {
    id: `n${String(i).padStart(5, '0')}`,
    hostname: name ?? `host${i}`,
    ...(name !== undefined ? { name } : {}),
    publicKey: `k${i}`,
    meshIp,
    endpoints: [],
    observedEndpoint: null,
    swimPort: 7946,
    health: 'online',
    createdAt: 1,
    updatedAt: 1
  }
}

/** A netmap of `nodes` in `cidr` (default the mesh default) with DNS domain `domain` (default weft.internal; null: none). */
export function netmapOf (nodes: NodeRecord[], opts: { domain?: string | null, cidr?: string, policy?: string, version?: number } = {}): Netmap {
  const domain = opts.domain === undefined ? 'weft.internal' : opts.domain
  return {
    epoch: 'e1',
    version: opts.version ?? 7,
    cidr: opts.cidr ?? '100.64.0.0/10',
    nodes,
    ...(opts.policy !== undefined ? { policy: { version: 1, text: opts.policy } } : {}),
    ...(domain !== null ? { dns: { domain } } : {})
  }
}

/** A decoded query for `name`/`type`, as the server would see it: encoded, then decoded. */
export function decodedQuery (name: string, type: string, over: Partial<Packet> = {}): DecodedPacket {
  return dnsPacket.decode(queryBytes(name, type, over))
}

/** The bytes of a query for `name`/`type` with RD set; `over` replaces any part of the packet. */
export function queryBytes (name: string, type: string, over: Partial<Packet> = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as RecordType, class: 'IN' }],
    ...over
  })
}

/** An OPT record asking for `size` bytes over UDP. */
export function optRecord (size = 4096, ednsVersion = 0): dnsPacket.Answer {
  return { name: '.', type: 'OPT', udpPayloadSize: size, extendedRcode: 0, ednsVersion, flags: 0, flag_do: false, options: [] }
}

/** The header response code of a decoded message. */
export function rcode (p: Packet): number {
  return (p.flags ?? 0) & 0xf
}

/** Sends `bytes` from a fresh socket to 127.0.0.1:`port` and resolves with the first datagram back. */
export async function askUdp (port: number, bytes: Buffer): Promise<Buffer> {
  const s = createSocket('udp4')
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const guard = AbortSignal.timeout(REPLY_GUARD_MS)
      guard.addEventListener('abort', () => reject(new Error('no UDP reply')))
      s.on('message', msg => resolve(msg))
      s.send(bytes, port, '127.0.0.1')
    })
  } finally {
    s.close()
  }
}

/** Opens one TCP connection to 127.0.0.1:`port`, writes every message framed in one write, and resolves with `want` replies. */
export async function askTcp (port: number, messages: Buffer[], want = messages.length): Promise<Buffer[]> {
  const sock = connect({ host: '127.0.0.1', port })
  const reader = new FrameReader()
  const replies: Buffer[] = []
  try {
    return await new Promise<Buffer[]>((resolve, reject) => {
      const guard = AbortSignal.timeout(REPLY_GUARD_MS)
      guard.addEventListener('abort', () => reject(new Error(`${replies.length} of ${want} TCP replies`)))
      sock.on('error', reject)
      sock.on('close', () => reject(new Error(`connection closed after ${replies.length} of ${want} replies`)))
      sock.on('data', chunk => {
        replies.push(...reader.push(chunk))
        if (replies.length >= want) resolve(replies)
      })
      sock.write(Buffer.concat(messages.map(frame)))
    })
  } finally {
    sock.destroy()
  }
}

/** How a scripted upstream answers one query: a packet, or null to stay silent. */
export type UpstreamScript = (query: DecodedPacket, transport: 'udp' | 'tcp') => Packet | null

/** A nameserver (UDP and TCP on one port, 127.0.0.1 unless told) answering by `script`; counts what it was asked. */
export class FakeUpstream {
  readonly asked = { udp: 0, tcp: 0 }
  port = 0
  private udp: UdpSocket | null = null
  private tcp: Server | null = null
  private readonly conns = new Set<Socket>()

  constructor (private readonly script: UpstreamScript) {}

  /** Listens on `host`:`port` (port 0: any free one, the same for UDP and TCP). */
  async start (host = '127.0.0.1', port = 0): Promise<this> {
    const udp = createSocket('udp4')
    await new Promise<void>(resolve => udp.bind(port, host, () => resolve()))
    this.port = udp.address().port
    udp.on('message', (msg, rinfo) => {
      this.asked.udp++
      const reply = this.answer(msg, 'udp')
      if (reply !== null) udp.send(reply, rinfo.port, rinfo.address)
    })
    const tcp = createServer(sock => {
      this.conns.add(sock)
      sock.on('close', () => this.conns.delete(sock))
      const reader = new FrameReader()
      sock.on('error', () => sock.destroy())
      sock.on('data', chunk => {
        for (const msg of reader.push(chunk)) {
          this.asked.tcp++
          const reply = this.answer(msg, 'tcp')
          if (reply !== null) sock.write(frame(reply))
        }
      })
    })
    await new Promise<void>(resolve => tcp.listen(this.port, host, () => resolve()))
    this.udp = udp
    this.tcp = tcp
    return this
  }

  async stop (): Promise<void> {
    this.udp?.close()
    const tcp = this.tcp
    this.udp = null
    this.tcp = null
    if (tcp !== null) {
      for (const c of this.conns) c.destroy()
      await new Promise<void>(resolve => tcp.close(() => resolve()))
    }
  }

  private answer (msg: Buffer, transport: 'udp' | 'tcp'): Buffer | null {
    const reply = this.script(dnsPacket.decode(msg), transport)
    return reply === null ? null : dnsPacket.encode(reply)
  }
}

/** The answer an upstream gives for an A query: `ip`, same id and question. */
export function upstreamA (query: DecodedPacket, ip: string, extra: Partial<Packet> = {}): Packet {
  return {
    id: query.id,
    type: 'response',
    flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.RECURSION_DESIRED,
    questions: query.questions,
    answers: [{ name: query.questions![0]!.name, type: 'A', class: 'IN', ttl: 60, data: ip }],
    ...extra
  }
}

/** Resolves once `cond` holds, checking on every turn of the event loop; rejects after `guardMs`. */
export async function until (what: string, cond: () => boolean, guardMs = 5000): Promise<void> {
  const t0 = performance.now()
  while (!cond()) {
    if (performance.now() - t0 > guardMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setImmediate(resolve))
  }
}
