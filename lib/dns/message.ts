/**
 * The DNS wire format as the resolver uses it, on top of dns-packet: decoding that never throws, the header
 * fields dns-packet leaves in `flags`, EDNS sizes, and encoding a UDP response that fits what the client takes.
 */
import dnsPacket, { type Answer, type DecodedPacket, type OptAnswer, type Packet } from 'dns-packet'

/** Response codes the resolver sends (RFC 1035 4.1.1, RFC 6891 for BADVERS, which needs EDNS's extended bits). */
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const

/** The standard query opcode; the resolver answers no other. */
export const OPCODE_QUERY = 0

/** The UDP payload size the resolver advertises and the most it sends over UDP: the DNS flag day 2020 value, which avoids fragmentation. */
export const EDNS_UDP_PAYLOAD = 1232

/** The UDP response limit for a client without EDNS (RFC 1035 2.3.4). */
export const PLAIN_UDP_LIMIT = 512

/** Fewest bytes a question takes: the root name (1), type and class. */
const MIN_QUESTION_BYTES = 5

/** Fewest bytes a resource record takes: the root name (1), type, class, TTL and RDLENGTH. */
const MIN_RECORD_BYTES = 11

/**
 * The decoded message, or null when dns-packet cannot decode it (short, truncated, bad labels or pointers).
 * dns-packet allocates an array per section at the size the header claims before reading a record, so a
 * 12-byte header claiming 65535 of each would cost megabytes; counts the message is too short to hold are
 * refused before decoding.
 */
export function decodeMessage (bytes: Buffer): DecodedPacket | null {
  if (bytes.length < 12) return null
  const records = bytes.readUInt16BE(6) + bytes.readUInt16BE(8) + bytes.readUInt16BE(10)
  if (12 + bytes.readUInt16BE(4) * MIN_QUESTION_BYTES + records * MIN_RECORD_BYTES > bytes.length) return null
  try {
    return dnsPacket.decode(bytes)
  } catch {
    return null
  }
}

/**
 * The header and question of a message, or null when they do not decode; the records after them are not read,
 * so a reply with a record dns-packet cannot parse still shows which question it answers.
 */
export function decodeHead (bytes: Buffer): DecodedPacket | null {
  if (bytes.length < 12) return null
  const head = Buffer.from(bytes)
  head.writeUInt16BE(0, 6)
  head.writeUInt16BE(0, 8)
  head.writeUInt16BE(0, 10)
  return decodeMessage(head)
}

/** The 4-bit opcode of a message (dns-packet keeps it inside `flags`). */
export function opcodeOf (p: Packet): number {
  return ((p.flags ?? 0) >> 11) & 0xf
}

/** The 4-bit header response code of a message. */
export function rcodeOf (p: Packet): number {
  return (p.flags ?? 0) & 0xf
}

/** Every OPT record of a message's additional section (a valid message has at most one). */
export function optsOf (p: Packet): OptAnswer[] {
  return (p.additionals ?? []).filter((a): a is OptAnswer => a.type === 'OPT')
}

/** The OPT record the resolver puts in a response to an EDNS query; `rcode` carries the extended bits of a BADVERS. */
export function responseOpt (rcode: number): OptAnswer {
  return { name: '.', type: 'OPT', udpPayloadSize: EDNS_UDP_PAYLOAD, extendedRcode: rcode >> 4, ednsVersion: 0, flags: 0, flag_do: false, options: [] }
}

/** The most bytes a UDP response to `query` may have: 512 without EDNS, else the client's size clamped to 512..1232. */
export function udpLimit (query: Packet): number {
  const opt = optsOf(query)[0]
  if (opt === undefined) return PLAIN_UDP_LIMIT
  return Math.min(EDNS_UDP_PAYLOAD, Math.max(PLAIN_UDP_LIMIT, opt.udpPayloadSize))
}

/**
 * `response` encoded for UDP: whole when it fits `limit`, else with its records dropped and TC set, so the
 * client asks again over TCP (RFC 2181 9). The question and the OPT record stay.
 */
export function encodeForUdp (response: Packet, limit: number): Buffer {
  const whole = dnsPacket.encode(response)
  if (whole.length <= limit) return whole
  const additionals: Answer[] = optsOf(response)
  return dnsPacket.encode({
    ...response,
    flags: (response.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE,
    answers: [],
    authorities: [],
    additionals
  })
}

/** `message` with a 2-byte length prefix, as DNS over TCP carries it (RFC 1035 4.2.2). */
export function frame (message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(2 + message.length)
  out.writeUInt16BE(message.length, 0)
  message.copy(out, 2)
  return out
}

/**
 * Splits a TCP byte stream into the messages its 2-byte length prefixes delimit. Feed it chunks as they arrive;
 * each call returns the messages the chunk completed, in order.
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0)

  /** The messages `chunk` completes. A zero-length message is returned as an empty Buffer, for the caller to refuse. */
  push (chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    const out: Buffer[] = []
    let at = 0
    while (this.buf.length - at >= 2) {
      const len = this.buf.readUInt16BE(at)
      if (this.buf.length - at - 2 < len) break
      out.push(this.buf.subarray(at + 2, at + 2 + len))
      at += 2 + len
    }
    this.buf = this.buf.subarray(at)
    return out
  }

  /** Bytes received that do not yet make a whole message. */
  get pending (): number {
    return this.buf.length
  }
}
