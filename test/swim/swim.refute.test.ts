import t from 'tap'
import { decodePacket, encodeHead, encodePacket, encodeUpdate, type Message, type Update } from '../../lib/swim/codec.js'
import { localConfig } from '../../lib/swim/config.js'
import { SeededRandom } from '../../lib/swim/random.js'
import { Swim } from '../../lib/swim/swim.js'
import { Cluster, claimsFor, signed } from './cluster.js'

const craft = (from: string, msg: Message, updates: Update[]): Uint8Array => encodePacket(encodeHead(from, msg), updates.map(encodeUpdate))

t.test('refutation: a live node told it is suspected raises its incarnation and everyone takes it back', async t => {
  const c = new Cluster(4)
  c.runUntil(1000)
  // node-1 tells node-2 that node-0 is suspect at incarnation 0.
  c.inject(2, c.addrs[1]!, craft(c.ids[1]!, { type: 'gossip' }, [{ state: 'suspect', id: c.ids[0]!, incarnation: 0, from: c.ids[1]! }]))
  t.equal(c.view(2, 0), 'suspect')
  c.runUntilTrue(() => [1, 2, 3].every(i => c.view(i, 0) === 'alive' && c.core(i).member(c.ids[0]!)!.incarnation === 1), 5000)
  t.equal(c.core(0).incarnation, 1)
  const refutes = c.events.filter(x => x.e.type === 'refute')
  t.equal(refutes.length, 1)
  t.match(refutes[0]!.e, { id: c.ids[0], incarnation: 1, reason: /node-1 claimed suspect at incarnation 0/ })
  t.equal(c.eventsAbout('dead', 0).length, 0, 'never declared dead')
  t.equal(c.core(0).healthScore, 1, 'having to refute counts against our own health')
})

t.test('refutation beats a death too, and a newer alive claim about ourselves is jumped past', async t => {
  const c = new Cluster(3)
  c.runUntil(1000)
  c.inject(0, c.addrs[1]!, craft(c.ids[1]!, { type: 'gossip' }, [{ state: 'dead', id: c.ids[0]!, incarnation: 0, from: c.ids[1]! }]))
  t.equal(c.core(0).incarnation, 1)
  // An alive claim at 7 with our own signature: an earlier run of ours announced it, and we lost count.
  c.inject(0, c.addrs[1]!, craft(c.ids[1]!, { type: 'gossip' }, [signed({ state: 'alive', id: c.ids[0]!, incarnation: 7, from: c.ids[0]! })]))
  t.equal(c.core(0).incarnation, 8, 'someone held us at 7: we restart above it')
  c.inject(0, c.addrs[1]!, craft(c.ids[1]!, { type: 'gossip' }, [{ state: 'suspect', id: c.ids[0]!, incarnation: 3, from: c.ids[1]! }]))
  t.equal(c.core(0).incarnation, 8, 'an old suspicion does not raise it again')
  c.runUntilTrue(() => c.core(1).member(c.ids[0]!)!.incarnation === 8 && c.core(2).member(c.ids[0]!)!.incarnation === 8, 5000)
  t.pass('peers learned the new incarnation')
})

t.test('a death older than our incarnation is answered with it: a prober that missed our refutation revives us', async t => {
  // node-0 refuted once (incarnation 1) and its refutation has been gossiped out; node-1 never heard it.
  const Y = new Swim({ config: localConfig(), self: { id: 'y', addr: 'Y:1' }, claims: claimsFor('y'), incarnation: 1, random: new SeededRandom(1) })
  Y.setMembers(0, [{ id: 'y', addr: 'Y:1' }, { id: 'p', addr: 'P:1' }])
  for (let now = 0; now < 10_000 && Y.pendingBroadcasts > 0; now += 10) { Y.handleTimeout(now); while (Y.pollTransmit() !== undefined); }
  t.equal(Y.pendingBroadcasts, 0, 'nothing left to gossip')
  // node-1's dead re-probe: a ping carrying the death it holds, at the old incarnation.
  Y.handlePacket(10_000, 'P:1', craft('p', { type: 'ping', seq: 9, target: 'y' }, [{ state: 'dead', id: 'y', incarnation: 0, from: 'p' }]))
  t.equal(Y.incarnation, 1, 'no new refutation')
  const ack = Y.pollTransmit()
  const d = decodePacket(ack!.bytes, 1200)
  t.match(d, { ok: true, packet: { msg: { type: 'ack', seq: 9 }, updates: [{ state: 'alive', id: 'y', incarnation: 1 }] } }, 'the ack carries our incarnation')
  t.equal(Y.stats().staleClaimsAnswered, 1)
})

t.test('buddy system: a ping to a member we suspect carries the suspicion first, so it refutes at once', async t => {
  const c = new Cluster(3)
  c.runUntil(500)
  // Only node 1 hears that node 2 is suspect, and node 2 hears nothing but node 1's pings: the only way the
  // news can reach it is the buddy claim on a ping.
  c.cut = (a, b, p) => (a === 1 && b === 0) || (b === 2 && !(a === 1 && p.msg.type === 'ping'))
  c.inject(1, c.addrs[0]!, craft(c.ids[0]!, { type: 'gossip' }, [{ state: 'suspect', id: c.ids[2]!, incarnation: 0, from: c.ids[0]! }]))
  const mark = c.sent.length
  const pingsToTwo = (): typeof c.sent => c.sent.slice(mark).filter(s => s.from === 1 && s.to === 2 && s.packet.msg.type === 'ping')
  c.runUntilTrue(() => pingsToTwo().length > 0, 5000, 1)
  const ping = pingsToTwo()[0]!
  t.match(ping.packet.updates[0], { state: 'suspect', id: c.ids[2], incarnation: 0 }, 'the suspicion leads the piggyback')
  t.equal(ping.packet.updates.filter(u => u.id === c.ids[2]).length, 1, 'and is not repeated from the queue')
  c.runUntilTrue(() => c.core(2).incarnation === 1, 1000, 1)
  t.ok(c.t - ping.t <= 10, 'node 2 refuted on receiving that ping')
  c.cut = () => false
  c.runUntilTrue(() => c.view(1, 2) === 'alive', 5000)
  t.equal(c.eventsAbout('dead', 2).length, 0)
})

t.test('a suspicion that runs out makes a last call: a live member that never heard of it refutes in its answer', async t => {
  const c = new Cluster(6)
  c.runUntil(500)
  // Nothing reaches node 2 until somebody's suspicion of it runs out: it cannot learn that it is suspected.
  const lastCalls = (): number => c.cores.reduce((sum, n) => sum + (n?.stats().lastCalls ?? 0), 0)
  c.cut = (_from, to) => to === 2 && lastCalls() === 0
  c.inject(1, c.addrs[0]!, craft(c.ids[0]!, { type: 'gossip' }, [{ state: 'suspect', id: c.ids[2]!, incarnation: 0, from: c.ids[0]! }]))
  c.runUntilTrue(() => lastCalls() > 0, 10_000, 1)
  t.equal(c.core(2).incarnation, 0, 'node 2 had heard nothing before the last call')
  c.runUntilTrue(() => [0, 1, 3, 4, 5].every(i => c.view(i, 2) === 'alive' && c.core(i).member(c.ids[2]!)!.incarnation === 1), 5000, 1)
  t.equal(c.eventsAbout('dead', 2).length, 0, 'nobody declared it dead')
})

t.test('confirmations from independent suspectors shorten the suspicion; the controller hint counts once', async t => {
  const c = new Cluster(6)
  c.runUntil(500)
  c.crash(5)
  const n = c.core(0)
  const sus = (from: number): Uint8Array => craft(c.ids[from]!, { type: 'gossip' }, [{ state: 'suspect', id: c.ids[5]!, incarnation: 0, from: c.ids[from]! }])
  // local preset: mult 3, n = 6 -> min 600 ms, max 3600 ms, k = 1.
  const t0 = c.t
  c.inject(0, c.addrs[1]!, sus(1))
  t.equal(n.stats().suspicions, 1)
  c.inject(0, c.addrs[1]!, sus(1))
  t.equal(n.stats().confirmations, 0, 'a repeat from the same suspector is not a confirmation')
  c.inject(0, c.addrs[2]!, sus(2))
  t.equal(n.stats().confirmations, 1)
  const { ranOut, dead } = lastCall(c, 0, 5)
  t.ok(ranOut - t0 <= 601, `the suspicion runs out at the minimum (${ranOut - t0} ms)`)
  t.ok(Math.abs(dead.lateBy) <= 1, `dead one probe interval after its last call (${dead.lateBy} ms off)`)
})

/**
 * Runs until node `i`'s suspicion of `j` runs out (its last call: one direct ping) and then ends in death.
 * `lateBy`: how far past one health-scaled probe interval after the last call the death came.
 */
function lastCall (c: Cluster, i: number, j: number): { ranOut: number, dead: { at: number, lateBy: number } } {
  const n = c.core(i)
  const calls = n.stats().lastCalls
  const mark = c.sent.length
  c.runUntilTrue(() => n.stats().lastCalls > calls, 10_000, 1)
  const ranOut = c.t
  const window = n.config.probeIntervalMs * (n.healthScore + 1)
  const pinged = c.sent.slice(mark).some(s => s.from === i && s.to === j && s.packet.msg.type === 'ping' && s.t === ranOut)
  if (!pinged) throw new Error('the last call sent no ping')
  c.runUntilTrue(() => c.view(i, j) === 'dead', 10_000, 1)
  return { ranOut, dead: { at: c.t, lateBy: c.t - ranOut - window } }
}

t.test("controller hint 'fresh' holds a suspicion at its maximum; 'stale' confirms it", async t => {
  const timeToDead = (hint: 'fresh' | 'stale' | null): number => {
    const c = new Cluster(6)
    c.runUntil(500)
    c.crash(5)
    c.core(0).setControlHint(c.t, c.ids[5]!, hint)
    const t0 = c.t
    c.inject(0, c.addrs[1]!, craft(c.ids[1]!, { type: 'gossip' }, [{ state: 'suspect', id: c.ids[5]!, incarnation: 0, from: c.ids[1]! }]))
    c.inject(0, c.addrs[2]!, craft(c.ids[2]!, { type: 'gossip' }, [{ state: 'suspect', id: c.ids[5]!, incarnation: 0, from: c.ids[2]! }]))
    // Keep other nodes from declaring it dead first and gossiping that: node 0 must decide by its own timer.
    c.cut = (_a, b) => b === 0
    const { ranOut, dead } = lastCall(c, 0, 5)
    t.ok(Math.abs(dead.lateBy) <= 1, `${hint ?? 'no hint'}: dead one probe interval after the last call (${dead.lateBy} ms off)`)
    return ranOut - t0
  }
  const plain = timeToDead(null)
  const fresh = timeToDead('fresh')
  t.ok(plain <= 601, `confirmed suspicion runs out at the minimum (${plain} ms)`)
  t.ok(fresh >= 3599 && fresh <= 3601, `'fresh' waits the maximum despite the confirmation (${fresh} ms)`)

  const c = new Cluster(6)
  c.runUntil(500)
  c.crash(5)
  c.inject(0, c.addrs[1]!, craft(c.ids[1]!, { type: 'gossip' }, [{ state: 'suspect', id: c.ids[5]!, incarnation: 0, from: c.ids[1]! }]))
  const before = c.core(0).stats().confirmations
  c.core(0).setControlHint(c.t, c.ids[5]!, 'stale')
  t.equal(c.core(0).stats().confirmations, before + 1, "'stale' is one confirmation")
  c.core(0).setControlHint(c.t, c.ids[5]!, 'stale')
  t.equal(c.core(0).stats().confirmations, before + 1, 'and only one')
})
