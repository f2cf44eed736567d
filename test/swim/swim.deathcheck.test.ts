import t from 'tap'
import { decodePacket, encodeHead, encodePacket, encodeUpdate, type Packet } from '../../lib/swim/codec.js'
import { localConfig } from '../../lib/swim/config.js'
import { SeededRandom } from '../../lib/swim/random.js'
import { Swim } from '../../lib/swim/swim.js'
import type { SwimEvent } from '../../lib/swim/types.js'
import { claimsFor } from './cluster.js'

// Three members: `a` checks a death that `d` declared about `y`. `d` is only an id here: its claim is crafted.
const roster = [{ id: 'a', addr: 'A:1' }, { id: 'd', addr: 'D:1' }, { id: 'y', addr: 'Y:1' }]

function core (i: number): Swim {
  const s = new Swim({ config: localConfig(), self: roster[i]!, claims: claimsFor((roster[i]!).id), incarnation: 0, random: new SeededRandom(i + 1) })
  s.setMembers(0, roster)
  return s
}

function deathOfY (): Uint8Array {
  return encodePacket(encodeHead('d', { type: 'gossip' }), [encodeUpdate({ state: 'dead', id: 'y', incarnation: 0, from: 'd' })])
}

/** Everything `s` sends now, decoded, with its destination. */
function sent (s: Swim): Array<{ to: string, bytes: Uint8Array, packet: Packet }> {
  const out = []
  for (let tx = s.pollTransmit(); tx !== undefined; tx = s.pollTransmit()) {
    const d = decodePacket(tx.bytes, 1200)
    if (!d.ok) throw new Error(d.reason)
    out.push({ to: tx.to, bytes: tx.bytes, packet: d.packet })
  }
  return out
}

function events (s: Swim): SwimEvent[] {
  const out = []
  for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) out.push(e)
  return out
}

t.test('a death declared by another node is checked with a ping; a live member refutes and keeps its place', async t => {
  const A = core(0)
  const Y = core(2)
  sent(A); sent(Y); events(A)
  A.handlePacket(10, 'D:1', deathOfY())
  t.equal(A.member('y')?.state, 'alive', 'not applied on arrival')
  t.equal(A.stats().deathChecks, 1)
  const out = sent(A)
  const ping = out.find(p => p.to === 'Y:1')
  t.match(ping?.packet, {
    msg: { type: 'ping', target: 'y' },
    updates: [{ state: 'dead', id: 'y', incarnation: 0, from: 'd' }]
  }, 'a ping of y that carries the claim')
  t.notOk(out.some(p => p.to !== 'Y:1' && p.packet.updates.some(u => u.id === 'y' && u.state === 'dead')), 'the claim is not passed on while it is checked')

  Y.handlePacket(12, 'A:1', ping!.bytes)
  t.equal(Y.incarnation, 1, 'y refuted the claim it was told of')
  const ack = sent(Y).find(p => p.to === 'A:1' && p.packet.msg.type === 'ack')
  t.match(ack?.packet.updates, [{ state: 'alive', id: 'y', incarnation: 1 }], 'its ack carries the refutation')
  A.handlePacket(14, 'Y:1', ack!.bytes)
  A.handleTimeout(10 + localConfig().probeIntervalMs * 8)
  t.equal(A.member('y')?.state, 'alive')
  t.equal(A.member('y')?.incarnation, 1)
  t.same(events(A).filter(e => e.id === 'y' && e.type === 'dead'), [], 'a never held y dead')
  t.equal(A.stats().deathsDisproved, 1)
})

t.test('an answer without a refutation also drops the claim', async t => {
  const A = core(0)
  sent(A)
  A.handlePacket(10, 'D:1', deathOfY())
  const ping = sent(A).find(p => p.to === 'Y:1')!
  // y answers (an ack from its own address) but its refutation was lost on the way.
  A.handlePacket(15, 'Y:1', encodePacket(encodeHead('y', { type: 'ack', seq: (ping.packet.msg as { seq: number }).seq }), []))
  A.handleTimeout(10 + localConfig().probeIntervalMs)
  t.equal(A.member('y')?.state, 'alive')
  t.equal(A.stats().deathsDisproved, 1)
})

t.test('a member that does not answer within a probe interval is held dead, on the declarer\'s word', async t => {
  const A = core(0)
  sent(A); events(A)
  A.handlePacket(10, 'D:1', deathOfY())
  A.handleTimeout(10 + localConfig().probeIntervalMs - 1)
  t.equal(A.member('y')?.state, 'alive', 'still checking one ms before the interval ends')
  A.handleTimeout(10 + localConfig().probeIntervalMs)
  t.equal(A.member('y')?.state, 'dead')
  t.match(events(A).filter(e => e.id === 'y'), [{ type: 'dead', reason: /declared dead by d; no answer to our ping within 200 ms/ }])
  A.handleTimeout(A.pollTimeout()!) // the gossip round the death queued
  t.ok(sent(A).some(p => p.to !== 'Y:1' && p.packet.updates.some(u => u.id === 'y' && u.state === 'dead')), 'and now gossiped')
  t.equal(A.stats().deathsDisproved, 0)
})

t.test('the same claim arriving again during the check starts no second check', async t => {
  const A = core(0)
  sent(A)
  A.handlePacket(10, 'D:1', deathOfY())
  A.handlePacket(11, 'D:1', deathOfY())
  t.equal(A.stats().deathChecks, 1)
  t.equal(sent(A).filter(p => p.to === 'Y:1').length, 1, 'one ping')
})

t.test('a suspicion on one node\'s word is checked; one that others confirmed is not', async t => {
  const suspectY = (from: string): Uint8Array => encodePacket(encodeHead(from, { type: 'gossip' }), [encodeUpdate({
    state: 'suspect',
    id: 'y',
    incarnation: 0,
    from
  })])
  const A = core(0)
  sent(A)
  A.handlePacket(10, 'D:1', suspectY('d'))
  t.equal(A.member('y')?.state, 'suspect', 'suspected on d\'s word alone')
  A.handlePacket(11, 'D:1', deathOfY())
  t.equal(A.member('y')?.state, 'suspect', 'the death is checked')
  t.equal(A.stats().deathChecks, 1)

  // With a fourth member c holding it: d suspects y, and a's suspicion of y confirms it.
  const C = new Swim({ config: localConfig(), self: { id: 'c', addr: 'C:1' }, claims: claimsFor('c'), incarnation: 0, random: new SeededRandom(9) })
  C.setMembers(0, [...roster, { id: 'c', addr: 'C:1' }])
  sent(C)
  C.handlePacket(10, 'D:1', suspectY('d'))
  C.handlePacket(10, 'A:1', encodePacket(encodeHead('a', { type: 'gossip' }), [encodeUpdate({ state: 'suspect', id: 'y', incarnation: 0, from: 'a' })]))
  t.equal(C.stats().confirmations, 1, 'a second suspector confirmed it')
  C.handlePacket(11, 'D:1', deathOfY())
  t.equal(C.member('y')?.state, 'dead', 'corroborated: buried at once')
  t.equal(C.stats().deathChecks, 0)
})

t.test('our own suspicion agrees with the declarer: its death applies at once', async t => {
  const A = core(0)
  sent(A)
  // A suspects y itself once y's join grace is over: every ping to y and every relayed ping is lost.
  for (let now = 0; now < 30_000 && A.member('y')?.state !== 'suspect'; now += 10) { A.handleTimeout(now); sent(A) }
  t.equal(A.member('y')?.state, 'suspect')
  A.handlePacket(A.pollTimeout()!, 'D:1', deathOfY())
  t.equal(A.member('y')?.state, 'dead')
  t.equal(A.stats().deathChecks, 0)
})

t.test('an answer counts however long the check waits: a check stretched by local health outlasts the contacts window', async t => {
  const A = core(0)
  sent(A)
  // Woken late again and again (a starved process), A stretches its timeouts; y and d are in their join grace,
  // so none of the probes it sends meanwhile accuses anyone.
  let now = 0
  for (let k = 0; k < 8; k++) { now += 1000; A.handleTimeout(now); sent(A) }
  t.ok(A.healthScore >= 4, `local health score ${A.healthScore}`)
  A.handlePacket(now, 'D:1', deathOfY())
  const ping = sent(A).find(p => p.to === 'Y:1' && p.packet.msg.type === 'ping')!
  A.handlePacket(now + 5, 'Y:1', encodePacket(encodeHead('y', { type: 'ack', seq: (ping.packet.msg as { seq: number }).seq }), []))
  // d keeps talking: each of its packets prunes contacts older than the first-hand window (800 ms here).
  const checkEnds = now + (A.healthScore + 1) * localConfig().probeIntervalMs
  for (let at = now + 100; at < checkEnds; at += 100) A.handlePacket(at, 'D:1', encodePacket(encodeHead('d', { type: 'gossip' }), []))
  A.handleTimeout(checkEnds)
  t.equal(A.member('y')?.state, 'alive', 'y answered: the claim is dropped')
  t.equal(A.stats().deathsDisproved, 1)
})
