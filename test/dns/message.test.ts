import t from 'tap'
import dnsPacket, { type Packet } from 'dns-packet'
import {
  EDNS_UDP_PAYLOAD, FrameReader, PLAIN_UDP_LIMIT, decodeHead, decodeMessage, encodeForUdp, frame, opcodeOf, rcodeOf, udpLimit
} from '../../lib/dns/message.js'
import { decodedQuery, optRecord, queryBytes } from './helpers.js'

t.test('decodeMessage returns null for what dns-packet cannot decode, never throws', async t => {
  const valid = queryBytes('web.weft.internal', 'A')
  const loop = Buffer.from(valid)
  loop.writeUInt16BE(0xc00c, 12) // a pointer to itself
  const cases: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['short header', valid.subarray(0, 11)],
    ['truncated question', valid.subarray(0, valid.length - 3)],
    ['compression loop', loop],
    ['absurd counts', Buffer.concat([Buffer.from([0, 1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), valid.subarray(12)])]
  ]
  for (const [what, bytes] of cases) t.equal(decodeMessage(bytes), null, what)
  t.equal(decodeMessage(valid)?.questions?.[0]?.name, 'web.weft.internal')
})

t.test('decodeHead reads the question and skips records it could not parse', async t => {
  const reply = dnsPacket.encode({
    type: 'response',
    id: 9,
    questions: [{ name: 'example.com', type: 'A' }],
    answers: [{ name: 'example.com', type: 'A', ttl: 1, data: '192.0.2.1' }]
  })
  const broken = reply.subarray(0, 12 + 17 + 5) // header, question, part of the answer's name
  t.equal(decodeMessage(broken), null)
  t.equal(decodeHead(broken)?.questions?.[0]?.name, 'example.com')
  t.equal(decodeHead(Buffer.alloc(5)), null)
})

t.test('header fields dns-packet keeps in flags', async t => {
  t.equal(opcodeOf({ flags: (5 << 11) | 0x100 }), 5)
  t.equal(rcodeOf({ flags: 0x8403 }), 3)
  t.equal(opcodeOf({}), 0)
})

t.test('udpLimit: 512 without EDNS, the client size clamped to 512..1232 with', async t => {
  const cases: Array<[Packet, number]> = [
    [decodedQuery('a.b', 'A'), PLAIN_UDP_LIMIT],
    [decodedQuery('a.b', 'A', { additionals: [optRecord(4096)] }), EDNS_UDP_PAYLOAD],
    [decodedQuery('a.b', 'A', { additionals: [optRecord(800)] }), 800],
    [decodedQuery('a.b', 'A', { additionals: [optRecord(100)] }), PLAIN_UDP_LIMIT]
  ]
  for (const [q, want] of cases) t.equal(udpLimit(q), want)
})

t.test('encodeForUdp sets TC and keeps question and OPT when the answer does not fit', async t => {
  const answers = Array.from({ length: 30 }, (_, i) => ({ name: 'big.weft.internal', type: 'A' as const, ttl: 5, data: `100.64.0.${i + 1}` }))
  const response: Packet = {
    type: 'response',
    id: 3,
    flags: dnsPacket.AUTHORITATIVE_ANSWER,
    questions: [{ name: 'big.weft.internal', type: 'A' }],
    answers,
    additionals: [optRecord(EDNS_UDP_PAYLOAD)]
  }
  const small = dnsPacket.decode(encodeForUdp(response, 512))
  t.equal(small.flag_tc, true)
  t.equal(small.flag_aa, true)
  t.same(small.answers, [])
  t.equal(small.questions?.length, 1)
  t.equal(small.additionals?.[0]?.type, 'OPT')
  const whole = dnsPacket.decode(encodeForUdp(response, 1232))
  t.equal(whole.flag_tc, false)
  t.equal(whole.answers?.length, 30)
})

t.test('FrameReader splits a stream at any chunking', async t => {
  const messages = [Buffer.from('one'), Buffer.alloc(0), Buffer.alloc(300, 7), Buffer.from('last')]
  const stream = Buffer.concat(messages.map(frame))
  for (const size of [1, 2, 3, 7, 64, stream.length]) {
    const r = new FrameReader()
    const out: Buffer[] = []
    for (let at = 0; at < stream.length; at += size) out.push(...r.push(stream.subarray(at, at + size)))
    t.same(out.map(b => b.toString('hex')), messages.map(b => b.toString('hex')), `chunks of ${size}`)
    t.equal(r.pending, 0)
  }
  const r = new FrameReader()
  t.same(r.push(Buffer.from([0, 10, 1, 2])), [])
  t.equal(r.pending, 4)
})
