import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'
import { SIGNATURE_BYTES } from '../swim/claims.js'
import { isIncarnation, MAX_INCARNATION } from '../swim/incarnation.js'

/**
 * The underlay announcement: a tiny authenticated UDP message a daemon sends straight to a peer's underlay
 * address, outside WireGuard. It exists for one job the overlay cannot do: telling a peer that removed our
 * tunnel (SWIM held us dead) that we are back, when the controller is not there to say it.
 *
 * Layout (docs/protocol.md, "Underlay announcement"), all integers big-endian:
 *   0  4  magic "WFA2"
 *   4  1  type: 1 = ping (answer me), 2 = ack, 3 = dead (I hold you dead; incarnation is yours, not mine)
 *   5  1  length F of the sender's node id, then F bytes UTF-8
 *   .  1  length T of the receiver's node id, then T bytes UTF-8
 *   .  8  an incarnation, 0..2^48: ping and ack the sender's own; dead the receiver's it was buried at
 *   .  8  sender's clock, ms since epoch (uint64)
 *   . 64  ping and ack only: the sender's signature of its SWIM alive claim at that incarnation (claims.ts)
 *   . 16  MAC: first 16 bytes of HMAC-SHA256(K, every byte before it)
 * K = HKDF-SHA256(X25519(own private key, peer public key), salt "", info "weft-announce-v1", 32 bytes): only the
 * two holders of the pair's static keys can make or check it. Replays are refused by the receiver keeping the
 * newest timestamp it accepted per sender and a clock-skew window. The signature lets the receiver gossip the
 * sender's return to members that cannot check this MAC.
 */

/** The announcement's format version; it is the last byte of the magic, so another version never parses. */
export const ANNOUNCE_VERSION = 2
const MAGIC = Buffer.from(`WFA${ANNOUNCE_VERSION}`)
const MAC_BYTES = 16
const FIXED_BYTES = 4 + 1 + 1 + 1 + 8 + 8 + MAC_BYTES
/** Largest encoded announcement: ids are at most 64 bytes each. */
export const MAX_ANNOUNCE_BYTES = FIXED_BYTES + 64 + 64 + SIGNATURE_BYTES

/** Message kinds. */
export type AnnounceType = 'ping' | 'ack' | 'dead'
const TYPE_CODES: Readonly<Record<AnnounceType, number>> = { ping: 1, ack: 2, dead: 3 }
const CODE_TYPES: ReadonlyArray<AnnounceType | undefined> = [undefined, 'ping', 'ack', 'dead']

/** A decoded announcement (its MAC not yet checked: see verifyAnnounce). */
export interface Announce {
  type: AnnounceType
  from: string
  to: string
  incarnation: number
  timestampMs: number
  /** ping and ack: the sender's signature of its alive claim at `incarnation`; absent on dead. */
  sig?: Uint8Array
}

/** Why a datagram was dropped before its MAC was checked. */
export type AnnounceDrop = 'size' | 'magic' | 'type' | 'layout' | 'incarnation'

/** The pair key for announcements between us and a peer, from our static DH secret with it. */
export function announceKey (dhSecret: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', dhSecret, Buffer.alloc(0), 'weft-announce-v1', 32))
}

const signed = (type: AnnounceType): boolean => type !== 'dead'

/** Encodes and MACs an announcement with the pair key. Throws RangeError on what no peer would accept. */
export function encodeAnnounce (a: Announce, key: Buffer): Buffer {
  const from = Buffer.from(a.from, 'utf8')
  const to = Buffer.from(a.to, 'utf8')
  if (from.length > 64 || to.length > 64) throw new RangeError('node ids are at most 64 bytes')
  if (!isIncarnation(a.incarnation)) throw new RangeError(`incarnation ${a.incarnation} is outside 0..2^48`)
  const sigBytes = signed(a.type) ? SIGNATURE_BYTES : 0
  if ((a.sig?.length ?? 0) !== sigBytes) throw new RangeError(`a ${a.type} carries ${sigBytes === 0 ? 'no' : 'a 64-byte'} signature`)
  const body = Buffer.alloc(FIXED_BYTES - MAC_BYTES + from.length + to.length + sigBytes)
  let o = MAGIC.copy(body, 0)
  o = body.writeUInt8(TYPE_CODES[a.type], o)
  o = body.writeUInt8(from.length, o); o += from.copy(body, o)
  o = body.writeUInt8(to.length, o); o += to.copy(body, o)
  o = body.writeBigUInt64BE(BigInt(a.incarnation), o)
  o = body.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(a.timestampMs))), o)
  if (a.sig !== undefined) body.set(a.sig, o)
  return Buffer.concat([body, mac(key, body)])
}

/** Parses a datagram's layout; the MAC is checked separately once the sender's key is known. */
export function decodeAnnounce (buf: Buffer): { ok: true, msg: Announce } | { ok: false, reason: AnnounceDrop } {
  if (buf.length < FIXED_BYTES + 2 || buf.length > MAX_ANNOUNCE_BYTES) return { ok: false, reason: 'size' }
  if (!buf.subarray(0, 4).equals(MAGIC)) return { ok: false, reason: 'magic' }
  const type = CODE_TYPES[buf.readUInt8(4)]
  if (type === undefined) return { ok: false, reason: 'type' }
  const sigBytes = signed(type) ? SIGNATURE_BYTES : 0
  let o = 5
  const fl = buf.readUInt8(o++)
  if (fl === 0 || o + fl + 1 > buf.length) return { ok: false, reason: 'layout' }
  const from = buf.toString('utf8', o, o + fl); o += fl
  const tl = buf.readUInt8(o++)
  if (tl === 0 || o + tl + 8 + 8 + sigBytes + MAC_BYTES !== buf.length) return { ok: false, reason: 'layout' }
  const to = buf.toString('utf8', o, o + tl); o += tl
  const incarnation = buf.readBigUInt64BE(o); o += 8
  if (incarnation > BigInt(MAX_INCARNATION)) return { ok: false, reason: 'incarnation' }
  const timestampMs = Number(buf.readBigUInt64BE(o)); o += 8
  const msg: Announce = { type, from, to, incarnation: Number(incarnation), timestampMs }
  if (sigBytes > 0) msg.sig = Buffer.from(buf.subarray(o, o + sigBytes))
  return { ok: true, msg }
}

/** True when the datagram's MAC is the one the pair key gives. Constant time. */
export function verifyAnnounce (buf: Buffer, key: Buffer): boolean {
  const body = buf.subarray(0, buf.length - MAC_BYTES)
  return timingSafeEqual(buf.subarray(buf.length - MAC_BYTES), mac(key, body))
}

function mac (key: Buffer, body: Buffer): Buffer {
  return createHmac('sha256', key).update(body).digest().subarray(0, MAC_BYTES)
}
