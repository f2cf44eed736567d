// The subpath imports resolve to msgpackr's pure-JS build: the root import also loads its native string
// extractor, which costs every daemon ~6 MB of RSS and gains nothing on packets under 1200 bytes.
import { Packr } from 'msgpackr/pack'
import { Unpackr } from 'msgpackr/unpack'
import { SIGNATURE_BYTES } from './claims.js'
import { isIncarnation } from './incarnation.js'
import type { MemberState } from './state.js'

/**
 * The SWIM wire format (docs/protocol.md is the reference). One packet is one msgpack array:
 *
 *   [version, senderId, type, body, updates]
 *
 * `version` is 2. `body` is an array whose layout depends on `type`; `updates` is an array of gossip
 * updates: `[state, memberId, incarnation, signature?]` for alive and left (the member's own claims, signed
 * by it: claims.ts), `[state, memberId, incarnation, fromId]` for suspect and dead. Decoding never throws:
 * it returns a drop reason that the core counts.
 */

/** The only envelope version this code speaks; anything else is dropped as `unknown-version`. */
export const WIRE_VERSION = 2

/** Longest node id accepted on the wire, in UTF-16 code units; longer ids are malformed. */
export const MAX_ID_LENGTH = 64

/** Updates carried by one packet at most; a bound on decode work independent of byte size. */
export const MAX_UPDATES_PER_PACKET = 255

/** Message type codes on the wire. */
export const MSG = { ping: 1, ack: 2, pingReq: 3, nack: 4, sync: 5, gossip: 6 } as const

/** Member state codes on the wire. */
const STATE_CODE: Record<MemberState, number> = { alive: 1, suspect: 2, dead: 3, left: 4 }
const CODE_STATE: readonly (MemberState | undefined)[] = [undefined, 'alive', 'suspect', 'dead', 'left']

/** A gossip claim: `id` is in `state` at `incarnation`, as originated by `from` (the subject itself for alive and left). */
export interface Update {
  state: MemberState
  id: string
  incarnation: number
  from: string
  /** The member's signature of an alive or left claim (claims.ts); never on suspect or dead. */
  sig?: Uint8Array
}

/** The message a packet carries besides its updates. */
export type Message =
  | { type: 'ping', seq: number, target: string }
  | { type: 'ack', seq: number }
  | { type: 'ping-req', seq: number, target: string }
  | { type: 'nack', seq: number }
  | { type: 'sync', reply: boolean }
  | { type: 'gossip' }

/** A decoded packet. */
export interface Packet {
  from: string
  msg: Message
  updates: Update[]
}

/** Why a packet was dropped by the decoder. */
export type DecodeDrop = 'oversized' | 'truncated' | 'malformed' | 'unknown-version'

/** Result of decodePacket: a packet, or the reason it was dropped. */
export type Decoded = { ok: true, packet: Packet } | { ok: false, reason: DecodeDrop }

const packr = new Packr({ useRecords: false, structuredClone: false, variableMapSize: true })
const unpackr = new Unpackr({ useRecords: false, structuredClone: false, mapsAsObjects: true })

/** msgpack bytes of one update; the broadcast queue caches these so a retransmit costs a copy, not an encode. */
export function encodeUpdate (u: Update): Uint8Array {
  const arr: unknown[] = [STATE_CODE[u.state], u.id, u.incarnation]
  if (u.state === 'alive' || u.state === 'left') {
    if (u.sig !== undefined) arr.push(u.sig)
  } else if (u.from !== u.id) {
    arr.push(u.from)
  }
  return packr.pack(arr)
}

function bodyOf (msg: Message): unknown[] {
  switch (msg.type) {
    case 'ping': return [MSG.ping, [msg.seq, msg.target]]
    case 'ack': return [MSG.ack, [msg.seq]]
    case 'ping-req': return [MSG.pingReq, [msg.seq, msg.target]]
    case 'nack': return [MSG.nack, [msg.seq]]
    case 'sync': return [MSG.sync, [msg.reply ? 1 : 0]]
    case 'gossip': return [MSG.gossip, []]
    default: { const never: never = msg; return never }
  }
}

/** Bytes of the envelope without its updates array: what the caller subtracts from the size budget. */
export function encodeHead (from: string, msg: Message): Uint8Array {
  const [type, body] = bodyOf(msg)
  // A 4-element array; encodePacket turns its header into a 5-element one and appends the updates.
  return packr.pack([WIRE_VERSION, from, type, body])
}

/** msgpack array header length for `n` elements. */
export function arrayHeaderBytes (n: number): number {
  return n < 16 ? 1 : n < 0x10000 ? 3 : 5
}

/** Concatenates a head (from encodeHead) and pre-encoded updates into one packet. */
export function encodePacket (head: Uint8Array, updates: readonly Uint8Array[]): Uint8Array {
  const n = updates.length
  let size = head.length + arrayHeaderBytes(n)
  for (const u of updates) size += u.length
  const out = new Uint8Array(size)
  out.set(head, 0)
  out[0] = 0x95 // fixarray of 5: the head was packed as fixarray of 4
  let at = head.length
  if (n < 16) {
    out[at++] = 0x90 | n
  } else {
    out[at++] = 0xdc
    out[at++] = n >>> 8
    out[at++] = n & 0xff
  }
  for (const u of updates) { out.set(u, at); at += u.length }
  return out
}

const isSeq = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffffffff
const isId = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= MAX_ID_LENGTH

function decodeBody (type: unknown, body: unknown): Message | undefined {
  if (!Array.isArray(body)) return undefined
  switch (type) {
    case MSG.ping: return body.length === 2 && isSeq(body[0]) && isId(body[1]) ? { type: 'ping', seq: body[0], target: body[1] } : undefined
    case MSG.ack: return body.length === 1 && isSeq(body[0]) ? { type: 'ack', seq: body[0] } : undefined
    case MSG.pingReq: return body.length === 2 && isSeq(body[0]) && isId(body[1]) ? { type: 'ping-req', seq: body[0], target: body[1] } : undefined
    case MSG.nack: return body.length === 1 && isSeq(body[0]) ? { type: 'nack', seq: body[0] } : undefined
    case MSG.sync: return body.length === 1 && (body[0] === 0 || body[0] === 1) ? { type: 'sync', reply: body[0] === 1 } : undefined
    case MSG.gossip: return body.length === 0 ? { type: 'gossip' } : undefined
    default: return undefined
  }
}

function decodeUpdate (x: unknown): Update | undefined {
  if (!Array.isArray(x) || (x.length !== 3 && x.length !== 4)) return undefined
  const state = typeof x[0] === 'number' ? CODE_STATE[x[0]] : undefined
  if (state === undefined || !isId(x[1]) || !isIncarnation(x[2])) return undefined
  const u: Update = { state, id: x[1], incarnation: x[2], from: x[1] }
  if (x.length === 3) return u
  if (state === 'alive' || state === 'left') {
    if (!(x[3] instanceof Uint8Array) || x[3].length !== SIGNATURE_BYTES) return undefined
    u.sig = x[3]
  } else {
    if (!isId(x[3])) return undefined
    u.from = x[3]
  }
  return u
}

/** Decodes and validates one packet of at most `maxBytes`; never throws. */
export function decodePacket (bytes: Uint8Array, maxBytes: number): Decoded {
  if (bytes.length > maxBytes) return { ok: false, reason: 'oversized' }
  if (bytes.length === 0) return { ok: false, reason: 'truncated' }
  let v: unknown
  try {
    v = unpackr.unpack(bytes)
  } catch (err) {
    return { ok: false, reason: (err as { incomplete?: boolean }).incomplete === true ? 'truncated' : 'malformed' }
  }
  // The version is checked before the rest of the layout so a future version may change everything after it.
  if (!Array.isArray(v) || v.length < 1) return { ok: false, reason: 'malformed' }
  if (v[0] !== WIRE_VERSION) return { ok: false, reason: 'unknown-version' }
  if (v.length !== 5 || !isId(v[1])) return { ok: false, reason: 'malformed' }
  const msg = decodeBody(v[2], v[3])
  if (msg === undefined) return { ok: false, reason: 'malformed' }
  const raw = v[4]
  if (!Array.isArray(raw) || raw.length > MAX_UPDATES_PER_PACKET) return { ok: false, reason: 'malformed' }
  const updates: Update[] = []
  for (const r of raw) {
    const u = decodeUpdate(r)
    if (u === undefined) return { ok: false, reason: 'malformed' }
    updates.push(u)
  }
  return { ok: true, packet: { from: v[1], msg, updates } }
}
