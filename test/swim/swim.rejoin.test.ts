import t from 'tap'
import { encodeHead, encodePacket, encodeUpdate, type Message, type Update } from '../../lib/swim/codec.js'
import { restartIncarnation } from '../../lib/swim/incarnation.js'
import { Cluster, aliveSig } from './cluster.js'

const craft = (from: string, msg: Message, updates: Update[]): Uint8Array => encodePacket(encodeHead(from, msg), updates.map(encodeUpdate))

t.test('a healed partition rejoins by itself: dead members are re-probed and refute', async t => {
  const c = new Cluster(6)
  c.runUntil(1000)
  const side = (i: number): number => (i < 3 ? 0 : 1)
  c.cut = (a, b) => side(a) !== side(b)
  c.runUntilTrue(() => [0, 1, 2].every(i => [3, 4, 5].every(j => c.view(i, j) === 'dead' && c.view(j, i) === 'dead')), 60_000)
  t.pass('each side holds the other dead')
  const mark0 = c.sent.length
  c.cut = () => false
  const took = c.runUntilTrue(() => [0, 1, 2, 3, 4, 5].every(i => [0, 1, 2, 3, 4, 5].every(j => i === j || c.view(i, j) === 'alive')), 60_000)
  t.ok(took < 20_000, `everyone alive again ${took} ms after healing`)
  const first = c.sent.slice(mark0).find(s => side(s.from) !== side(s.to))!
  t.equal(first.packet.msg.type, 'ping', 'the first packet across is a dead re-probe')
  t.match(first.packet.updates[0], { state: 'dead', id: c.ids[first.to] }, 'carrying the death of its target')
  t.ok(c.events.some(x => x.e.type === 'refute'), 'members refuted their deaths')
  // And it stays healed.
  const mark = c.events.length
  c.runUntil(c.t + 20_000)
  t.same(c.events.slice(mark).filter(x => x.e.type === 'dead' || x.e.type === 'suspect'), [], 'no new accusations')
})

t.test('a restarted node held dead comes back for everyone, with or without its saved incarnation', async t => {
  for (const mode of ['saved + 1', 'state lost'] as const) {
    const c = new Cluster(4)
    c.runUntil(1000)
    c.crash(3)
    c.runUntilTrue(() => [0, 1, 2].every(i => c.view(i, 3) === 'dead'), 30_000)
    const inc = mode === 'saved + 1' ? restartIncarnation(0, 0) : 0
    c.make(3, inc)
    const took = c.runUntilTrue(() => [0, 1, 2].every(i => c.view(i, 3) === 'alive') && [0, 1, 2].every(j => c.view(3, j) === 'alive'), 20_000)
    t.ok(took < 5000, `${mode}: alive everywhere after ${took} ms`)
    t.equal(c.core(0).member(c.ids[3]!)!.incarnation, 1, `${mode}: at incarnation 1`)
    t.ok(c.eventsAbout('alive', 3).length >= 3, `${mode}: alive events for the daemon to re-add the peer`)
  }
})

t.test('restartIncarnation is above the saved one and at least the wall-clock second', async t => {
  t.equal(restartIncarnation(null, 0), 0)
  t.equal(restartIncarnation(4, 0), 5)
  t.equal(restartIncarnation(4, 1_700_000_000_000), 1_700_000_000)
  t.equal(restartIncarnation(1_700_000_005, 1_700_000_000_000), 1_700_000_006)
})

t.test('noteAlive: an authenticated announcement revives a member whose tunnel is gone', async t => {
  const c = new Cluster(2)
  c.runUntil(500)
  // Node 0 holds node 1 dead, and no packet passes between them (the daemon removed the peer).
  c.cut = () => true
  c.runUntilTrue(() => c.view(0, 1) === 'dead', 30_000)
  // Node 1 never heard: everything was cut.
  t.equal(c.core(0).noteAlive(c.t, c.ids[1]!, 0, aliveSig(c.ids[1]!, 0)), true, 'same incarnation: revived locally')
  c.drain(0)
  t.equal(c.view(0, 1), 'alive')
  t.match(c.eventsAbout('alive', 1, 0).at(-1), { reason: /announced/ })
  const ping = c.sent.filter(s => s.from === 0 && s.to === 1 && s.packet.msg.type === 'ping').at(-1)
  t.match(ping?.packet.updates[0], { state: 'dead', id: c.ids[1], incarnation: 0 }, 'our next ping tells it of its death')
  c.cut = () => false
  c.runUntilTrue(() => c.core(0).member(c.ids[1]!)!.incarnation === 1, 5000)
  t.equal(c.core(1).incarnation, 1, 'it refuted above the death, which now wins everywhere')
  t.equal(c.core(0).noteAlive(c.t, c.ids[1]!, 0, aliveSig(c.ids[1]!, 0)), false, 'an older announcement changes nothing')
  t.equal(c.core(0).noteAlive(c.t, c.ids[1]!, 5, aliveSig(c.ids[1]!, 5)), true, 'a newer one is adopted')
  t.equal(c.core(0).member(c.ids[1]!)!.incarnation, 5)
  t.equal(c.core(0).noteAlive(c.t, 'stranger', 9, aliveSig('stranger', 9)), false, 'not a member: ignored')
})

t.test('noteClaimedDead: an underlay notice of our death is refuted like the same claim in a packet', async t => {
  const c = new Cluster(3)
  c.runUntil(500)
  t.equal(c.core(0).noteClaimedDead(c.t, c.ids[1]!, 0), true, 'at our incarnation: refuted')
  t.equal(c.core(0).incarnation, 1)
  c.drain(0)
  t.match(c.events.filter(x => x.node === 0 && x.e.type === 'refute').at(-1)?.e, { incarnation: 1, reason: /node-1 claimed dead at incarnation 0/ })
  t.equal(c.core(0).noteClaimedDead(c.t, c.ids[1]!, 0), false, 'an older one: no new refutation')
  t.equal(c.core(0).stats().staleClaimsAnswered, 1, 'but our incarnation is gossiped again')
  t.equal(c.core(0).noteClaimedDead(c.t, 'stranger', 5), false, 'not a member: ignored')
  t.equal(c.core(0).noteClaimedDead(c.t, c.ids[1]!, -1), false, 'a bad incarnation: ignored')
  t.equal(c.core(0).incarnation, 1)
  c.runUntilTrue(() => [1, 2].every(j => c.core(j).member(c.ids[0]!)!.incarnation === 1), 5000)
  t.pass('the others learned incarnation 1')
})

t.test('after a heal, deaths the far side declared do not bury members this side still hears from', async t => {
  const c = new Cluster(6)
  c.runUntil(1000)
  const side = (i: number): number => (i < 3 ? 0 : 1)
  c.cut = (a, b) => side(a) !== side(b)
  c.runUntilTrue(() => [0, 1, 2].every(i => [3, 4, 5].every(j => c.view(i, j) === 'dead' && c.view(j, i) === 'dead')), 60_000)
  const mark = c.events.length
  // The far side's deaths arrive as gossip; here from node 3, about node 1, at the incarnation node 0 holds.
  c.cut = () => false
  c.inject(0, c.addrs[3]!, craft(c.ids[3]!, { type: 'gossip' }, [{
    state: 'dead',
    id: c.ids[1]!,
    incarnation: c.core(0).member(c.ids[1]!)!.incarnation,
    from: c.ids[3]!
  }]))
  t.equal(c.view(0, 1), 'suspect', 'held as a suspicion: node 0 heard from node 1 since node 3 could have')
  t.match(c.eventsAbout('suspect', 1, 0).at(-1), { reason: /declared dead by .* but heard from directly \d+ ms ago/ })
  t.equal(c.core(0).stats().deathsDoubted, 1)
  c.runUntilTrue(() => [0, 1, 2, 3, 4, 5].every(i => [0, 1, 2, 3, 4, 5].every(j => i === j || c.view(i, j) === 'alive')), 30_000)
  const buried = c.events.slice(mark).filter(x => x.e.type === 'dead' && side(x.node) === side(c.ids.indexOf(x.e.id)))
  t.same(buried, [], 'nobody held a member of its own side dead')
})

t.test('a death declared by another node about a member not heard from lately applies at once', async t => {
  const c = new Cluster(3)
  c.runUntil(1000)
  // Outside evidence holds every suspicion of node 1 at its maximum, so nobody concludes by itself first.
  for (const i of [0, 2]) c.core(i).setControlHint(c.t, c.ids[1]!, 'fresh')
  c.cut = (a, b) => a === 1 || b === 1
  c.runUntil(c.t + 1000) // past the first-hand window at n=3 (600 + 200 ms)
  t.equal(c.view(0, 1), 'suspect', 'node 0 suspects node 1 itself, held open')
  c.inject(0, c.addrs[2]!, craft(c.ids[2]!, { type: 'gossip' }, [{
    state: 'dead',
    id: c.ids[1]!,
    incarnation: c.core(0).member(c.ids[1]!)?.incarnation ?? 0,
    from: c.ids[2]!
  }]))
  t.equal(c.view(0, 1), 'dead')
  t.equal(c.core(0).stats().deathsDoubted, 0)
})

t.test('leave: others see left (not dead), the leaver stops probing', async t => {
  const c = new Cluster(4)
  c.runUntil(1000)
  c.core(3).leave(c.t)
  c.drain(3)
  c.runUntilTrue(() => [0, 1, 2].every(i => c.view(i, 3) === 'left'), 5000)
  const probes = c.core(3).stats().probes
  c.runUntil(c.t + 5000)
  t.equal(c.core(3).stats().probes, probes, 'no probes after leaving')
  t.equal(c.eventsAbout('left', 3).length, 3)
  t.equal(c.eventsAbout('dead', 3).length, 0)
  t.equal(c.core(3).pendingBroadcasts, 0, 'the leave was fully disseminated')
  c.crash(3)
  c.runUntil(c.t + 20_000)
  t.equal(c.eventsAbout('dead', 3).length, 0, 'a left member is not probed into death')
  t.same(c.core(0).report(), { incarnation: 0, suspect: [], dead: [] }, 'left members are not reported')
})
