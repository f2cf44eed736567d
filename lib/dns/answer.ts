/**
 * What the resolver does with one decoded query: answer it from the zone (authoritatively), pass it to the
 * forwarder, or refuse it. Pure: a query, a zone and whether forwarding is allowed in; a decision out. Every
 * query gets a decision; nothing here throws on what a client sent.
 */
import dnsPacket, { type Answer, type Packet, type Question } from 'dns-packet'
import { cidrContains, formatIPv4 } from '../wire/addr.js'
import { OPCODE_QUERY, Rcode, opcodeOf, optsOf, responseOpt } from './message.js'
import { MAX_NAME_CHARS, parseReverseName, type Zone } from './zone.js'

/** TTL of every record the resolver answers with, in seconds: short, since a netmap change moves names at once. */
export const ANSWER_TTL_S = 5

/** TTL of negative answers (the SOA minimum and the SOA's own TTL, RFC 2308), in seconds. */
export const NEGATIVE_TTL_S = 5

/** How a locally made reply ends, for the server's counters. */
export type Outcome = 'answer' | 'nodata' | 'nxdomain' | 'refused' | 'formerr' | 'notimp' | 'badvers'

/**
 * What to do with a query:
 * - `reply`: send `response`.
 * - `forward`: the name is not the zone's and forwarding is allowed; the forwarder relays an upstream's answer.
 * - `drop`: the message has the response bit set. Answering a response could start a loop between two
 *   resolvers, so it gets nothing and counts as malformed.
 */
export type Decision =
  | { kind: 'reply', outcome: Outcome, response: Packet }
  | { kind: 'forward' }
  | { kind: 'drop' }

/** Whether the reply may forward: sets RA in every response, and sends names outside the zone to the forwarder. */
export interface AnswerOptions { forward: boolean }

/** Characters a question name may hold for the resolver to repeat it exactly: printable ASCII. */
const PRINTABLE_RE = /^[\x21-\x7e]*$/
const CLASSES = new Set(['IN', 'CS', 'CH', 'HS', 'ANY'])

/**
 * Decides what to do with `query`. FORMERR goes to a query that is not exactly one question, has more than one
 * OPT record or an OPT not owned by the root, or asks a question this resolver cannot repeat byte for byte (a
 * label of non-printable bytes or over 63 bytes, a class dns-packet does not name); its response carries no
 * question. An opcode other than QUERY gets NOTIMP, an EDNS version other than 0 gets BADVERS (RFC 6891).
 * dns-packet joins labels with dots, so a label that itself holds a dot reads as two labels.
 */
export function answer (query: Packet, zone: Zone | null, opts: AnswerOptions): Decision {
  if (query.type === 'response') return { kind: 'drop' }
  const q = questionOf(query)
  if (opcodeOf(query) !== OPCODE_QUERY) return reply(query, q, opts, Rcode.NOTIMP, 'notimp')
  const optRecords = optsOf(query)
  if (optRecords.length > 1 || optRecords.some(o => o.name !== '.')) return reply(query, null, opts, Rcode.FORMERR, 'formerr')
  if (optRecords.length === 1 && optRecords[0]!.ednsVersion !== 0) return reply(query, q, opts, Rcode.BADVERS, 'badvers')
  if (q === null) return reply(query, null, opts, Rcode.FORMERR, 'formerr')

  const name = q.name.toLowerCase()
  if (zone !== null && (q.class === 'IN' || q.class === 'ANY')) {
    if (name === zone.domain || name.endsWith(`.${zone.domain}`)) return fromZone(query, q, name, zone, opts)
    const ip = parseReverseName(name)
    if (ip !== null && zone.cidr !== null && zone.reverseApex !== null && cidrContains(zone.cidr, ip)) {
      const fqdn = zone.reverse.get(formatIPv4(ip))
      if (fqdn === undefined) return negative(query, q, zone, zone.reverseApex, opts, Rcode.NXDOMAIN)
      if (q.type !== 'PTR' && (q.type as string) !== 'ANY') return negative(query, q, zone, zone.reverseApex, opts, Rcode.NOERROR)
      return positive(query, q, opts, [{ name: q.name, type: 'PTR', class: 'IN', ttl: ANSWER_TTL_S, data: fqdn }])
    }
  }
  if (opts.forward) return { kind: 'forward' }
  return reply(query, q, opts, Rcode.REFUSED, 'refused')
}

/** The answer for a name at or below the zone's domain. */
function fromZone (query: Packet, q: Question, name: string, zone: Zone, opts: AnswerOptions): Decision {
  const type = q.type as string
  if (type === 'AXFR' || type === 'IXFR') return reply(query, q, opts, Rcode.REFUSED, 'refused')
  if (name === zone.domain) {
    const records: Answer[] = []
    if (type === 'SOA' || type === 'ANY') records.push(soaRecord(zone, zone.domain))
    if (type === 'NS' || type === 'ANY') records.push({ name: zone.domain, type: 'NS', class: 'IN', ttl: ANSWER_TTL_S, data: zone.domain })
    if (records.length === 0) return negative(query, q, zone, zone.domain, opts, Rcode.NOERROR)
    return positive(query, q, opts, records.map(r => ({ ...r, name: q.name })))
  }
  const ip = zone.names.get(name)
  if (ip === undefined) return negative(query, q, zone, zone.domain, opts, zone.interior.has(name) ? Rcode.NOERROR : Rcode.NXDOMAIN)
  if (type !== 'A' && type !== 'ANY') return negative(query, q, zone, zone.domain, opts, Rcode.NOERROR)
  return positive(query, q, opts, [{ name: q.name, type: 'A', class: 'IN', ttl: ANSWER_TTL_S, data: ip }])
}

/** An authoritative NOERROR with `answers`. */
function positive (query: Packet, q: Question, opts: AnswerOptions, answers: Answer[]): Decision {
  const response = responseTo(query, q, opts.forward, Rcode.NOERROR)
  return { kind: 'reply', outcome: 'answer', response: { ...response, flags: response.flags! | dnsPacket.AUTHORITATIVE_ANSWER, answers } }
}

/** An authoritative NXDOMAIN, or NODATA (NOERROR, no answer), with the SOA of `apex` in authority so it is cached (RFC 2308). */
function negative (query: Packet, q: Question, zone: Zone, apex: string, opts: AnswerOptions, rcode: number): Decision {
  const response = responseTo(query, q, opts.forward, rcode)
  return {
    kind: 'reply',
    outcome: rcode === Rcode.NXDOMAIN ? 'nxdomain' : 'nodata',
    response: { ...response, flags: response.flags! | dnsPacket.AUTHORITATIVE_ANSWER, authorities: [soaRecord(zone, apex)] }
  }
}

/**
 * The SOA the zone answers with. It names the domain as its own primary: every daemon answers on its own mesh
 * IP, so no one address is the zone's server. Refresh, retry and expire mean nothing without transfers.
 */
function soaRecord (zone: Zone, apex: string): Answer {
  return {
    name: apex,
    type: 'SOA',
    class: 'IN',
    ttl: NEGATIVE_TTL_S,
    data: {
      mname: zone.domain,
      rname: `hostmaster.${zone.domain}`,
      serial: zone.serial,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: NEGATIVE_TTL_S
    }
  }
}

/**
 * A response to `query` with `rcode`: same id, opcode and RD bit, RA when forwarding is allowed, the question
 * `q` as asked (none when null), and an OPT record when the query had one.
 */
function reply (query: Packet, q: Question | null, opts: AnswerOptions, rcode: number, outcome: Outcome): Decision {
  return { kind: 'reply', outcome, response: responseTo(query, q, opts.forward, rcode) }
}

/** The bare response to `query` with `rcode`, for the server's own failures (SERVFAIL when no upstream answers). */
export function responseTo (query: Packet, q: Question | null, forward: boolean, rcode: number): Packet {
  const flags = (opcodeOf(query) << 11) | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) |
    (forward ? dnsPacket.RECURSION_AVAILABLE : 0) | (rcode & 0xf)
  const edns = optsOf(query).length > 0
  return {
    id: query.id ?? 0,
    type: 'response',
    flags,
    questions: q === null ? [] : [{ name: q.name, type: q.type, class: q.class ?? 'IN' }],
    answers: [],
    authorities: [],
    additionals: edns ? [responseOpt(rcode)] : []
  }
}

/** The one question of `query` when the resolver can repeat it exactly, else null. */
export function questionOf (query: Packet): Question | null {
  const questions = query.questions ?? []
  return questions.length === 1 && echoable(questions[0]!) ? questions[0]! : null
}

/**
 * Whether dns-packet encodes `q` back to the bytes it came from: the root, or labels of 1-63 printable ASCII
 * bytes making at most 253 characters, and a class it names.
 */
function echoable (q: Question): boolean {
  if (!CLASSES.has(q.class ?? 'IN')) return false
  if (q.name === '.') return true
  if (q.name.length > MAX_NAME_CHARS || !PRINTABLE_RE.test(q.name)) return false
  for (const label of q.name.split('.')) if (label.length === 0 || label.length > 63) return false
  return true
}
