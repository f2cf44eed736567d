import t from 'tap'
import { localConfig, type SwimConfig } from '../../lib/swim/config.js'
import { encodeHead, encodePacket, encodeUpdate } from '../../lib/swim/codec.js'
import { SeededRandom } from '../../lib/swim/random.js'
import { Swim } from '../../lib/swim/swim.js'
import type { SwimEvent } from '../../lib/swim/types.js'
import { Cluster, claimsFor, aliveSig, signed } from './cluster.js'

const graced = (ms: number): SwimConfig => ({ ...localConfig(), joinGraceMs: ms })

/** Runs a lone core (every probe fails: nobody answers) until `until`, collecting its events. */
function runAlone (s: Swim, from: number, until: number, events: SwimEvent[]): void {
  for (let now = from; now <= until; now += 10) {
    s.handleTimeout(now)
    while (s.pollTransmit() !== undefined) { /* nobody is there */ }
    for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) events.push(e)
  }
}

t.test('a member never heard from is not accused during its join grace, and is after it', async t => {
  const c = new Cluster(3, { config: graced(5000) })
  c.cut = (a, b) => a === 2 || b === 2
  c.runUntil(4900)
  t.equal(c.eventsAbout('suspect', 2).length, 0, 'no suspicion inside the grace')
  t.ok(c.core(0).stats().graceSpared > 0, 'failed probes were spared')
  t.equal(c.core(0).healthScore, 0, 'and did not count against our own health')
  t.equal(c.core(0).stats().indirectProbes, 0, 'no relays asked about a member in its grace')
  c.runUntilTrue(() => c.eventsAbout('suspect', 2).length > 0, 5000)
  t.ok(c.events.find(x => x.e.type === 'suspect')!.e.at >= 5000, 'accused only after the grace')
})

t.test('the grace ends at the first ack: a member that answered once and then crashed is accused at once', async t => {
  const c = new Cluster(3, { config: graced(60_000) })
  const acked = (to: number): boolean => c.sent.some(p => p.from === 2 && p.to === to && p.packet.msg.type === 'ack')
  c.runUntilTrue(() => acked(0) && acked(1), 2000, 1)
  const crashAt = c.t
  c.crash(2)
  c.runUntilTrue(() => c.eventsAbout('suspect', 2).length > 0, 3000)
  t.ok(c.t - crashAt < 3000, `suspected ${c.t - crashAt} ms after the crash, far inside the 60 s grace`)
})

t.test('a member heard from but never answering (a half-keyed tunnel) stays in grace', async t => {
  const c = new Cluster(3, { config: graced(5000) })
  // Node 2's packets reach the others, theirs never reach it: it pings and gossips, never acks.
  c.cut = (_a, b) => b === 2
  c.runUntil(4900)
  t.ok(c.sent.some(p => p.from === 2 && p.to === 0), 'node 0 heard from node 2')
  t.equal(c.eventsAbout('suspect', 2).filter(e => e.reason.startsWith('no ack')).length, 0, 'no accusation inside the grace')
})

t.test('a member that appears later is not accused before it is heard from, then gets its own grace', async t => {
  const s = new Swim({ config: graced(2000), self: { id: 'a', addr: '100.64.0.1:7946' }, claims: claimsFor('a'), incarnation: 0, random: new SeededRandom(5) })
  const events: SwimEvent[] = []
  s.setMembers(0, [{ id: 'b', addr: '100.64.0.2:7946' }])
  runAlone(s, 0, 10_000, events)
  t.ok(events.some(e => e.type === 'suspect' && e.id === 'b' && e.at >= 2000), 'b (a member at start) accused once its grace ended')
  // c registers at 20 s; its daemon is slow to come up: 30 s of failed probes accuse no one.
  s.setMembers(20_000, [{ id: 'b', addr: '100.64.0.2:7946' }, { id: 'c', addr: '100.64.0.3:7946' }])
  runAlone(s, 20_000, 50_000, events)
  t.equal(events.filter(e => e.id === 'c').length, 0, 'c never heard from: never accused')
  t.ok(s.stats().graceSpared > 0, 'its probes failed and were spared')
  // At 50 s its start announcement arrives (an alive at a newer incarnation, here over the underlay); its
  // tunnel to us still does not work: accused once the grace that starts now has run out.
  t.equal(s.noteAlive(50_000, 'c', 7, aliveSig('c', 7)), true)
  runAlone(s, 50_000, 60_000, events)
  const onC = events.filter(e => e.type === 'suspect' && e.id === 'c')
  t.equal(onC.length, 1)
  t.ok(onC[0]!.at >= 52_000, `c accused at ${onC[0]!.at}, not before its grace ended at 52000`)
})

t.test('gossip that a later member runs starts its grace too', async t => {
  const s = new Swim({ config: graced(2000), self: { id: 'a', addr: '100.64.0.1:7946' }, claims: claimsFor('a'), incarnation: 0, random: new SeededRandom(5) })
  const events: SwimEvent[] = []
  s.setMembers(0, [{ id: 'b', addr: '100.64.0.2:7946' }])
  s.setMembers(100, [{ id: 'b', addr: '100.64.0.2:7946' }, { id: 'c', addr: '100.64.0.3:7946' }])
  // b tells us c is alive at incarnation 3 (c's own start announcement, relayed).
  s.handlePacket(5000, '100.64.0.2:7946', encodePacket(encodeHead('b', { type: 'gossip' }), [encodeUpdate(signed({
    state: 'alive',
    id: 'c',
    incarnation: 3,
    from: 'c'
  }))]))
  runAlone(s, 5000, 15_000, events)
  const onC = events.filter(e => e.type === 'suspect' && e.id === 'c')
  t.ok(onC.length >= 1 && onC[0]!.at >= 7000, `c accused at ${onC[0]?.at}, after the grace that started at 5000`)
})

t.test('joinGraceMs 0 turns the grace off', async t => {
  const s = new Swim({ config: graced(0), self: { id: 'a', addr: '100.64.0.1:7946' }, claims: claimsFor('a'), incarnation: 0, random: new SeededRandom(5) })
  const events: SwimEvent[] = []
  s.setMembers(0, [{ id: 'b', addr: '100.64.0.2:7946' }])
  runAlone(s, 0, 1000, events)
  t.ok(events.some(e => e.type === 'suspect' && e.id === 'b' && e.at < 1000))
})

t.test('a member back from dead gets a fresh grace: its tunnel is being re-added', async t => {
  const s = new Swim({ config: graced(2000), self: { id: 'a', addr: '100.64.0.1:7946' }, claims: claimsFor('a'), incarnation: 0, random: new SeededRandom(5) })
  const events: SwimEvent[] = []
  s.setMembers(0, [{ id: 'b', addr: '100.64.0.2:7946' }])
  runAlone(s, 0, 60_000, events)
  t.equal(s.member('b')?.state, 'dead', 'b never answered: dead')
  // Its restart announcement over the underlay arrives before its new tunnel works (the daemon's case).
  t.equal(s.noteAlive(60_000, 'b', 1, aliveSig('b', 1)), true)
  const before = events.length
  runAlone(s, 60_000, 61_900, events)
  t.equal(events.slice(before).filter(e => e.type === 'suspect').length, 0, 'no accusation inside the fresh grace')
  runAlone(s, 61_900, 70_000, events)
  const again = events.slice(before).find(e => e.type === 'suspect' && e.id === 'b')
  t.ok(again !== undefined && again.at >= 62_000, `accused again only after the grace, at ${again?.at}`)
})
