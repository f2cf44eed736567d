import t from 'tap'
import { decodePacket, encodeHead, encodePacket, encodeUpdate } from '../../lib/swim/codec.js'
import { localConfig } from '../../lib/swim/config.js'
import { SeededRandom } from '../../lib/swim/random.js'
import { Swim } from '../../lib/swim/swim.js'
import type { Transmit } from '../../lib/swim/types.js'
import { claimsFor } from './cluster.js'

t.test('anti-entropy: a death that gossip never delivered arrives by sync', async t => {
  const roster = [{ id: 'a', addr: 'A:1' }, { id: 'b', addr: 'B:1' }, { id: 'x', addr: 'X:1' }]
  const A = new Swim({ config: localConfig(), self: roster[0]!, claims: claimsFor((roster[0]!).id), incarnation: 0, random: new SeededRandom(1) })
  const B = new Swim({ config: localConfig(), self: roster[1]!, claims: claimsFor((roster[1]!).id), incarnation: 0, random: new SeededRandom(2) })
  A.setMembers(0, roster)
  B.setMembers(0, roster)
  // A holds x dead; x itself is never run, and B never runs its own timers, so B cannot find out by itself.
  A.handlePacket(0, 'X:1', encodePacket(encodeHead('x', { type: 'gossip' }), [encodeUpdate({ state: 'dead', id: 'x', incarnation: 0, from: 'a' })]))
  t.equal(A.member('x')?.state, 'dead')

  let gossipCarryingDeath = 0
  let learnedBy: string | undefined
  let learnedAt = 0
  const toX: Transmit[] = []
  for (let now = 0; now < 30_000 && learnedBy === undefined; now += 10) {
    A.handleTimeout(now)
    for (let tx = A.pollTransmit(); tx !== undefined; tx = A.pollTransmit()) {
      if (tx.to !== 'B:1') continue
      const d = decodePacket(tx.bytes, 1200)
      if (!d.ok) throw new Error(d.reason)
      const carries = d.packet.updates.some(u => u.id === 'x')
      // Loss eats every ordinary packet that carries the news; only sync gets through with it.
      if (carries && d.packet.msg.type !== 'sync') { gossipCarryingDeath++; continue }
      B.handlePacket(now, 'A:1', tx.bytes)
      // B holds a death declared by another node only once its own ping of x goes unanswered (checkDeath).
      if (B.stats().deathChecks > 0) { learnedBy = d.packet.msg.type; learnedAt = now }
      for (let back = B.pollTransmit(); back !== undefined; back = B.pollTransmit()) {
        if (back.to === 'X:1') toX.push(back)
        else A.handlePacket(now, 'B:1', back.bytes)
      }
    }
  }
  t.equal(learnedBy, 'sync', 'B learned of the death from a sync chunk')
  t.ok(gossipCarryingDeath >= 1, `after ${gossipCarryingDeath} lost gossip packets`)
  t.equal(A.stats().syncs >= 1, true)
  t.equal(B.member('x')?.state, 'alive', 'B checks the claim before it applies it')
  t.equal(toX.length, 1, 'with one ping of x')
  t.match(decodePacket(toX[0]!.bytes, 1200), {
    ok: true,
    packet: { msg: { type: 'ping' }, updates: [{ state: 'dead', id: 'x', incarnation: 0, from: 'a' }] }
  }, 'that carries the claim, so a live x would refute it')
  B.handleTimeout(learnedAt + localConfig().probeIntervalMs)
  t.equal(B.member('x')?.state, 'dead', 'x did not answer within a probe interval: dead')
  t.same(A.report().dead, [{ id: 'x', incarnation: 0 }])
  t.same(B.report().dead, [{ id: 'x', incarnation: 0 }])
})
