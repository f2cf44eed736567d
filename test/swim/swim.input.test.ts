import t from 'tap'
import { encodeHead, encodePacket, encodeUpdate, type Message, type Update } from '../../lib/swim/codec.js'
import { localConfig } from '../../lib/swim/config.js'
import { SeededRandom } from '../../lib/swim/random.js'
import { Swim } from '../../lib/swim/swim.js'
import { hasCode } from '../../lib/errors.js'
import { claimsFor } from './cluster.js'

const craft = (from: string, msg: Message, updates: Update[] = []): Uint8Array => encodePacket(encodeHead(from, msg), updates.map(encodeUpdate))

function core (): Swim {
  const s = new Swim({ config: localConfig(), self: { id: 'a', addr: '100.64.0.1:7946' }, claims: claimsFor('a'), incarnation: 0, random: new SeededRandom(3) })
  s.setMembers(0, [{ id: 'a', addr: '100.64.0.1:7946' }, { id: 'b', addr: '100.64.0.2:7946' }, { id: 'c', addr: '100.64.0.3:7946' }])
  return s
}

t.test('nothing runs before setMembers; afterwards a timer is always armed', async t => {
  const s = new Swim({ config: localConfig(), self: { id: 'a', addr: 'x:1' }, claims: claimsFor('a'), incarnation: 0, random: new SeededRandom(1) })
  t.equal(s.pollTimeout(), undefined)
  s.setMembers(100, [{ id: 'b', addr: 'y:1' }])
  t.ok(s.pollTimeout()! >= 100)
})

t.test('packets whose claimed sender does not own the source address are dropped and counted', async t => {
  const s = core()
  s.handlePacket(1, '100.64.0.3:7946', craft('b', { type: 'ping', seq: 1, target: 'a' }))
  t.equal(s.stats().dropped.spoofed, 1)
  t.equal(s.pollTransmit(), undefined, 'no ack to a spoofed ping')
  s.handlePacket(1, '100.64.0.9:7946', craft('z', { type: 'ping', seq: 1, target: 'a' }))
  t.equal(s.stats().dropped['unknown-sender'], 1)
  s.handlePacket(1, '100.64.0.1:7946', craft('a', { type: 'ping', seq: 1, target: 'a' }))
  t.equal(s.stats().dropped['from-self'], 1)
  s.handlePacket(1, '100.64.0.2:7946', craft('b', { type: 'ping', seq: 1, target: 'c' }))
  t.equal(s.stats().dropped.misdirected, 1, 'a ping meant for another node (stale address) is not acked')
  s.handlePacket(1, '100.64.0.2:7946', craft('b', { type: 'ping-req', seq: 1, target: 'zz' }))
  t.equal(s.stats().dropped['unknown-target'], 1)
  s.handlePacket(1, '100.64.0.2:7946', new Uint8Array([1, 2, 3]))
  t.equal(s.stats().dropped.malformed, 1)
  t.equal(s.stats().packetsIn, 6)
  s.handlePacket(1, '100.64.0.2:7946', craft('b', { type: 'ping', seq: 42, target: 'a' }))
  const ack = s.pollTransmit()
  t.equal(ack?.to, '100.64.0.2:7946', 'a genuine ping is acked to its sender')
})

t.test('gossip never admits a stranger; setMembers adds, moves and forgets', async t => {
  const s = core()
  s.handlePacket(1, '100.64.0.2:7946', craft('b', { type: 'gossip' }, [{ state: 'alive', id: 'stranger', incarnation: 1, from: 'stranger' }]))
  t.equal(s.stats().updatesUnknownMember, 1)
  t.equal(s.member('stranger'), undefined)
  s.handlePacket(1, '100.64.0.2:7946', craft('b', { type: 'gossip' }, [{ state: 'suspect', id: 'c', incarnation: 0, from: 'b' }]))
  t.equal(s.member('c')?.state, 'suspect')
  s.setMembers(2, [{ id: 'b', addr: '100.64.0.20:7946' }, { id: 'd', addr: '100.64.0.4:7946' }])
  t.equal(s.member('c'), undefined, 'removed from the set: forgotten')
  t.same(s.report().suspect, [], 'with its suspicion')
  t.match(s.member('d'), { state: 'alive', incarnation: 0, since: 2 })
  t.equal(s.member('b')?.addr, '100.64.0.20:7946')
  s.handlePacket(3, '100.64.0.2:7946', craft('b', { type: 'gossip' }))
  t.equal(s.stats().dropped.spoofed, 1, 'the old address no longer speaks for b')
  s.handleTimeout(10_000)
  while (s.pollEvent() !== undefined);
  t.throws(() => s.setMembers(4, [{ id: 'b', addr: 'x' }, { id: 'b', addr: 'y' }]), /twice/)
  try { s.setMembers(4, [{ id: '', addr: 'x' }]) } catch (err) { t.ok(hasCode(err, 'WEFT_ERR_INVALID_INPUT')) }
})

t.test('every packet stays within maxPacketBytes however much there is to say', async t => {
  const ids = Array.from({ length: 300 }, (_, i) => `member-with-a-long-id-${String(i).padStart(4, '0')}`)
  const s = new Swim({ config: localConfig(), self: { id: ids[0]!, addr: 'a:1' }, claims: claimsFor(ids[0]!), incarnation: 0, random: new SeededRandom(5) })
  s.setMembers(0, ids.map((id, i) => ({ id, addr: `h${i}:1` })))
  // 299 suspicions to disseminate at once.
  for (let i = 1; i < ids.length; i++) {
    s.handlePacket(1, 'h1:1', craft(ids[1]!, { type: 'gossip' }, [{ state: 'suspect', id: ids[i]!, incarnation: 0, from: ids[1]! }]))
  }
  let max = 0
  let count = 0
  for (let now = 1; now < 20_000; now += 50) {
    s.handleTimeout(now)
    for (let tx = s.pollTransmit(); tx !== undefined; tx = s.pollTransmit()) { max = Math.max(max, tx.bytes.length); count++ }
  }
  t.ok(count > 100)
  t.ok(max <= 1200, `largest packet ${max} bytes`)
  t.ok(max > 1100, 'and packets are filled when there is a backlog')
})
