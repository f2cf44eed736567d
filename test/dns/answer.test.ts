import t from 'tap'
import dnsPacket, { type Packet } from 'dns-packet'
import { ANSWER_TTL_S, NEGATIVE_TTL_S, answer, type Decision } from '../../lib/dns/answer.js'
import { EDNS_UDP_PAYLOAD, Rcode, decodeMessage } from '../../lib/dns/message.js'
import { buildZone, type Zone } from '../../lib/dns/zone.js'
import { decodedQuery, namedNode, netmapOf, optRecord, rcode } from './helpers.js'

const POLICY = '{ "hosts": { "printer": "100.64.9.9", "db.prod": "100.64.9.10" } }'
const WEB = { name: 'web.weft.internal', type: 'A' as const }
const zone = buildZone(netmapOf([namedNode(0, 'web', '100.64.0.1'), namedNode(1, 'db', '100.64.0.2')], { policy: POLICY }))!

interface Row {
  what: string
  name: string
  type: string
  over?: Partial<Packet>
  forward?: boolean
  zone?: Zone | null
  /** `forward`, `drop`, or the reply's rcode. */
  want: 'forward' | 'drop' | number
  outcome?: string
  /** The answer section as `TYPE data` strings. */
  answers?: string[]
  /** The authority section's types and owners (`SOA weft.internal`). */
  authority?: string[]
  aa?: boolean
  /** The reply carries the question (default true for every rcode but FORMERR). */
  echo?: boolean
}

const rows: Row[] = [
  { what: 'A for a node', name: 'web.weft.internal', type: 'A', want: Rcode.NOERROR, outcome: 'answer', answers: ['A 100.64.0.1'], aa: true },
  { what: 'letter case is ignored and kept', name: 'WeB.WEFT.internal', type: 'A', want: Rcode.NOERROR, answers: ['A 100.64.0.1'] },
  { what: 'ANY for a node is its A', name: 'db.weft.internal', type: 'ANY', want: Rcode.NOERROR, answers: ['A 100.64.0.2'] },
  { what: 'A for a policy host', name: 'printer.weft.internal', type: 'A', want: Rcode.NOERROR, answers: ['A 100.64.9.9'] },
  {
    what: 'AAAA for a node is NODATA with the SOA',
    name: 'web.weft.internal',
    type: 'AAAA',
    want: Rcode.NOERROR,
    outcome: 'nodata',
    answers: [],
    authority: ['SOA weft.internal'],
    aa: true
  },
  { what: 'TXT for a node is NODATA', name: 'web.weft.internal', type: 'TXT', want: Rcode.NOERROR, outcome: 'nodata', answers: [] },
  {
    what: 'an unknown name in the domain is NXDOMAIN with the SOA',
    name: 'nope.weft.internal',
    type: 'A',
    want: Rcode.NXDOMAIN,
    outcome: 'nxdomain',
    authority: ['SOA weft.internal'],
    aa: true
  },
  { what: 'a name below a node is NXDOMAIN', name: 'x.web.weft.internal', type: 'A', want: Rcode.NXDOMAIN },
  { what: 'the parent of a dotted host exists (NODATA)', name: 'prod.weft.internal', type: 'A', want: Rcode.NOERROR, outcome: 'nodata' },
  { what: 'apex SOA', name: 'weft.internal', type: 'SOA', want: Rcode.NOERROR, answers: ['SOA weft.internal'], aa: true },
  { what: 'apex NS', name: 'Weft.Internal', type: 'NS', want: Rcode.NOERROR, answers: ['NS weft.internal'] },
  { what: 'apex ANY', name: 'weft.internal', type: 'ANY', want: Rcode.NOERROR, answers: ['SOA weft.internal', 'NS weft.internal'] },
  { what: 'apex A is NODATA', name: 'weft.internal', type: 'A', want: Rcode.NOERROR, outcome: 'nodata', authority: ['SOA weft.internal'] },
  { what: 'a zone transfer is refused', name: 'weft.internal', type: 'AXFR', want: Rcode.REFUSED, outcome: 'refused', aa: false },
  { what: 'PTR for a node', name: '1.0.64.100.in-addr.arpa', type: 'PTR', want: Rcode.NOERROR, answers: ['PTR web.weft.internal'], aa: true },
  { what: 'PTR for a host', name: '9.9.64.100.in-addr.arpa', type: 'PTR', want: Rcode.NOERROR, answers: ['PTR printer.weft.internal'] },
  {
    what: 'PTR for an unused mesh address is NXDOMAIN',
    name: '7.0.64.100.in-addr.arpa',
    type: 'PTR',
    want: Rcode.NXDOMAIN,
    authority: ['SOA 100.in-addr.arpa']
  },
  { what: 'A for a node reverse name is NODATA', name: '1.0.64.100.in-addr.arpa', type: 'A', want: Rcode.NOERROR, outcome: 'nodata' },
  { what: 'PTR outside the mesh is forwarded', name: '1.1.168.192.in-addr.arpa', type: 'PTR', forward: true, want: 'forward' },
  { what: 'PTR outside the mesh is refused without forwarding', name: '1.1.168.192.in-addr.arpa', type: 'PTR', want: Rcode.REFUSED },
  { what: 'a partial reverse name is not the zone\'s', name: '64.100.in-addr.arpa', type: 'PTR', forward: true, want: 'forward' },
  { what: 'another name is forwarded', name: 'example.com', type: 'A', forward: true, want: 'forward' },
  { what: 'another name is refused without forwarding', name: 'example.com', type: 'A', want: Rcode.REFUSED, outcome: 'refused', aa: false },
  { what: 'a lookalike domain is not the zone', name: 'web.notweft.internal', type: 'A', want: Rcode.REFUSED },
  { what: 'class CH is not the zone', name: 'web.weft.internal', type: 'TXT', over: { questions: [{ ...WEB, class: 'CH' }] }, want: Rcode.REFUSED },
  { what: 'class ANY is the zone', name: 'web.weft.internal', type: 'A', over: { questions: [{ ...WEB, class: 'ANY' }] }, want: Rcode.NOERROR },
  { what: 'no zone: the domain is refused', name: 'web.weft.internal', type: 'A', zone: null, want: Rcode.REFUSED },
  { what: 'no zone: forwarded when allowed', name: 'web.weft.internal', type: 'A', zone: null, forward: true, want: 'forward' },
  { what: 'a response is dropped', name: 'web.weft.internal', type: 'A', over: { type: 'response' }, want: 'drop' },
  { what: 'no question is FORMERR', name: '', type: 'A', over: { questions: [] }, want: Rcode.FORMERR, outcome: 'formerr', echo: false },
  {
    what: 'two questions are FORMERR',
    name: '',
    type: 'A',
    over: { questions: [{ name: 'a.weft.internal', type: 'A' }, { name: 'b.weft.internal', type: 'A' }] },
    want: Rcode.FORMERR,
    echo: false
  },
  {
    what: 'opcode STATUS is NOTIMP',
    name: 'web.weft.internal',
    type: 'A',
    over: { flags: (2 << 11) | dnsPacket.RECURSION_DESIRED },
    want: Rcode.NOTIMP,
    outcome: 'notimp'
  },
  {
    what: 'two OPT records are FORMERR',
    name: 'web.weft.internal',
    type: 'A',
    over: { additionals: [optRecord(), optRecord()] },
    want: Rcode.FORMERR,
    echo: false
  },
  { what: 'EDNS version 1 is BADVERS', name: 'web.weft.internal', type: 'A', over: { additionals: [optRecord(4096, 1)] }, want: 0, outcome: 'badvers' }
]

/** The parts of a decision the table compares. */
function summary (d: Decision): { kind: string, rcode?: number, outcome?: string, response?: Packet } {
  if (d.kind !== 'reply') return { kind: d.kind }
  // Through the wire and back, as the client sees it.
  const response = decodeMessage(dnsPacket.encode(d.response))!
  return { kind: 'reply', rcode: rcode(response), outcome: d.outcome, response }
}

const show = (r: dnsPacket.Answer): string => {
  if (r.type === 'SOA') return `SOA ${r.name}`
  if (r.type === 'A' || r.type === 'PTR' || r.type === 'NS') return `${r.type} ${r.data}`
  return r.type
}

for (const row of rows) {
  t.test(row.what, async t => {
    const query = decodedQuery(row.name, row.type, row.over)
    const s = summary(answer(query, row.zone === undefined ? zone : row.zone, { forward: row.forward ?? false }))
    if (row.want === 'forward' || row.want === 'drop') {
      t.equal(s.kind, row.want)
      return
    }
    t.equal(s.kind, 'reply')
    t.equal(s.rcode, row.want, 'rcode')
    if (row.outcome !== undefined) t.equal(s.outcome, row.outcome, 'outcome')
    const r = s.response!
    t.equal(r.id, 4242, 'id echoed')
    t.equal(r.type, 'response')
    t.equal(((r.flags ?? 0) & dnsPacket.RECURSION_DESIRED) !== 0, true, 'RD copied')
    t.equal(((r.flags ?? 0) & dnsPacket.RECURSION_AVAILABLE) !== 0, row.forward ?? false, 'RA only when forwarding')
    if (row.aa !== undefined) t.equal(((r.flags ?? 0) & dnsPacket.AUTHORITATIVE_ANSWER) !== 0, row.aa, 'AA')
    if (row.echo ?? true) t.same(r.questions, query.questions, 'question echoed as asked')
    else t.same(r.questions, [], 'no question')
    if (row.answers !== undefined) t.same(r.answers!.map(show), row.answers, 'answers')
    if (row.authority !== undefined) t.same(r.authorities!.map(show), row.authority, 'authority')
    for (const rec of [...r.answers!, ...r.authorities!]) {
      if (rec.type !== 'OPT') t.equal(rec.ttl, rec.type === 'SOA' ? NEGATIVE_TTL_S : ANSWER_TTL_S, `${rec.type} TTL`)
    }
  })
}

t.test('answers keep the owner name as asked', async t => {
  const d = answer(decodedQuery('WEB.weft.INTERNAL', 'A'), zone, { forward: false })
  t.equal(d.kind === 'reply' && d.response.answers![0]!.name, 'WEB.weft.INTERNAL')
})

t.test('a query with OPT gets one back, payload 1232; a query without gets none', async t => {
  const withOpt = answer(decodedQuery('web.weft.internal', 'A', { additionals: [optRecord(4096)] }), zone, { forward: false })
  const opts = withOpt.kind === 'reply' ? withOpt.response.additionals!.filter(a => a.type === 'OPT') : []
  t.equal(opts.length, 1)
  t.equal(opts[0]!.type === 'OPT' && opts[0]!.udpPayloadSize, EDNS_UDP_PAYLOAD)
  const plain = answer(decodedQuery('web.weft.internal', 'A'), zone, { forward: false })
  t.same(plain.kind === 'reply' && plain.response.additionals, [])
})

t.test('BADVERS carries its upper bits in the OPT record', async t => {
  const d = answer(decodedQuery('web.weft.internal', 'A', { additionals: [optRecord(4096, 1)] }), zone, { forward: false })
  const r = decodeMessage(dnsPacket.encode(d.kind === 'reply' ? d.response : {}))!
  const opt = r.additionals!.find(a => a.type === 'OPT')
  t.equal(opt?.type === 'OPT' && opt.extendedRcode, 1, 'extended rcode 1 << 4 = 16 (BADVERS)')
})

t.test('a question the resolver cannot repeat exactly is FORMERR without a question', async t => {
  const cases: Array<[string, Partial<Packet>]> = [
    ['a non-ASCII label', { questions: [{ name: 'wéb.weft.internal', type: 'A' }] }],
    ['a label of 64 bytes', { questions: [{ name: `${'a'.repeat(64)}.weft.internal`, type: 'A' }] }]
  ]
  for (const [what, over] of cases) {
    const d = answer({ type: 'query', id: 1, flags: 0, ...over }, zone, { forward: true })
    t.equal(d.kind === 'reply' && d.outcome, 'formerr', what)
    t.same(d.kind === 'reply' && d.response.questions, [], what)
  }
  // An unknown class decodes as UNKNOWN_n, which dns-packet cannot encode back.
  const bytes = dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'web.weft.internal', type: 'A' }] })
  bytes.writeUInt16BE(77, bytes.length - 2)
  const d = answer(decodeMessage(bytes)!, zone, { forward: true })
  t.equal(d.kind === 'reply' && d.outcome, 'formerr', 'class 77')
})

t.test('the SOA serial is the netmap version', async t => {
  const z = buildZone(netmapOf([], { version: 123 }))!
  const d = answer(decodedQuery('weft.internal', 'SOA'), z, { forward: false })
  const soa = d.kind === 'reply' ? d.response.answers![0]! : null
  t.equal(soa?.type === 'SOA' && soa.data.serial, 123)
})
