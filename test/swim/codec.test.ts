import t from 'tap'
import { Packr } from 'msgpackr'
import { decodePacket, encodeHead, encodePacket, encodeUpdate, MAX_UPDATES_PER_PACKET, WIRE_VERSION, type Message, type Update } from '../../lib/swim/codec.js'

const packr = new Packr({ useRecords: false })

t.test('every message type round-trips with updates', async t => {
  const msgs: Message[] = [
    { type: 'ping', seq: 7, target: 'b' },
    { type: 'ack', seq: 0xffffffff },
    { type: 'ping-req', seq: 1, target: 'c' },
    { type: 'nack', seq: 2 },
    { type: 'sync', reply: false },
    { type: 'sync', reply: true },
    { type: 'gossip' }
  ]
  const updates: Update[] = [
    { state: 'alive', id: 'x', incarnation: 3, from: 'x', sig: new Uint8Array(64).fill(9) },
    { state: 'alive', id: 'v', incarnation: 0, from: 'v' },
    { state: 'left', id: 'u', incarnation: 2 ** 48, from: 'u', sig: new Uint8Array(64).fill(1) },
    { state: 'suspect', id: 'y', incarnation: 0, from: 'a' },
    { state: 'dead', id: 'z', incarnation: 2 ** 40, from: 'b' },
    { state: 'left', id: 'w', incarnation: 1, from: 'w' }
  ]
  for (const msg of msgs) {
    const bytes = encodePacket(encodeHead('node-a', msg), updates.map(encodeUpdate))
    const d = decodePacket(bytes, 1200)
    t.ok(d.ok, msg.type)
    if (d.ok) t.same(d.packet, { from: 'node-a', msg, updates }, msg.type)
  }
})

t.test('alive and left updates omit the redundant from; suspect and dead carry it', async t => {
  const short = encodeUpdate({ state: 'alive', id: 'x', incarnation: 1, from: 'x' })
  const long = encodeUpdate({ state: 'suspect', id: 'x', incarnation: 1, from: 'y' })
  t.equal(short.length, 5)
  t.equal(long.length, 7)
})

t.test('more than 15 updates uses the long array header', async t => {
  const ups = Array.from({ length: 40 }, (_, i) => encodeUpdate({ state: 'alive', id: `m${i}`, incarnation: i, from: `m${i}` }))
  const d = decodePacket(encodePacket(encodeHead('a', { type: 'gossip' }), ups), 1200)
  t.ok(d.ok)
  if (d.ok) t.equal(d.packet.updates.length, 40)
})

t.test('bad packets are classified, never thrown', async t => {
  const good = encodePacket(encodeHead('a', { type: 'ping', seq: 1, target: 'b' }), [])
  const cases: Array<[string, Uint8Array, string]> = [
    ['empty', new Uint8Array(0), 'truncated'],
    ['oversized', new Uint8Array(1201), 'oversized'],
    ['truncated', good.subarray(0, good.length - 2), 'truncated'],
    ['trailing bytes', new Uint8Array([...good, 0]), 'malformed'],
    ['not an array', packr.pack({ v: 1 }), 'malformed'],
    ['version 1', packr.pack([1, 'a', 1, [1, 'b'], []]), 'unknown-version'],
    ['version 3 with any layout', packr.pack([3, 'whatever']), 'unknown-version'],
    ['unknown type', packr.pack([WIRE_VERSION, 'a', 99, [], []]), 'malformed'],
    ['bad body', packr.pack([WIRE_VERSION, 'a', 1, [1], []]), 'malformed'],
    ['negative seq', packr.pack([WIRE_VERSION, 'a', 2, [-1], []]), 'malformed'],
    ['float seq', packr.pack([WIRE_VERSION, 'a', 2, [1.5], []]), 'malformed'],
    ['empty sender', packr.pack([WIRE_VERSION, '', 6, [], []]), 'malformed'],
    ['long sender', packr.pack([WIRE_VERSION, 'x'.repeat(65), 6, [], []]), 'malformed'],
    ['bad state', packr.pack([WIRE_VERSION, 'a', 6, [], [[9, 'x', 1]]]), 'malformed'],
    ['negative incarnation', packr.pack([WIRE_VERSION, 'a', 6, [], [[1, 'x', -1]]]), 'malformed'],
    ['bigint incarnation', packr.pack([WIRE_VERSION, 'a', 6, [], [[1, 'x', 2n ** 60n]]]), 'malformed'],
    ['incarnation above 2^48', packr.pack([WIRE_VERSION, 'a', 6, [], [[2, 'x', 2 ** 48 + 1, 'b']]]), 'malformed'],
    ['incarnation 2^53', packr.pack([WIRE_VERSION, 'a', 6, [], [[3, 'x', 2 ** 53, 'b']]]), 'malformed'],
    ['short signature', packr.pack([WIRE_VERSION, 'a', 6, [], [[1, 'x', 1, new Uint8Array(63)]]]), 'malformed'],
    ['signature as a string', packr.pack([WIRE_VERSION, 'a', 6, [], [[4, 'x', 1, 'b']]]), 'malformed'],
    ['suspect with a signature', packr.pack([WIRE_VERSION, 'a', 6, [], [[2, 'x', 1, new Uint8Array(64)]]]), 'malformed'],
    ['too many updates', packr.pack([WIRE_VERSION, 'a', 6, [], Array.from({ length: MAX_UPDATES_PER_PACKET + 1 }, () => 0)]), 'malformed'],
    ['record extension', new Uint8Array([0xd4, 0x72, 0x01]), 'truncated'],
    ['unknown extension', new Uint8Array([0xd4, 0x10, 0x01]), 'malformed']
  ]
  for (const [name, bytes, reason] of cases) {
    const d = decodePacket(bytes, 1200)
    t.same(d, { ok: false, reason }, name)
  }
})
