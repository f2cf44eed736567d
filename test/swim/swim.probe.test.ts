import t from 'tap'
import { Cluster } from './cluster.js'

t.test('round-robin probing: every member is probed once per round, in a fresh order each round', async t => {
  const c = new Cluster(6)
  c.runUntil(20_000)
  const pings = c.sent.filter(s => s.from === 0 && s.packet.msg.type === 'ping').map(s => s.to)
  t.ok(pings.length >= 90, `node 0 probed ${pings.length} times in 20 s at 200 ms`)
  const rounds: string[] = []
  // The first round may be partial (new members are inserted mid-round); check the full ones after it.
  for (let i = 5; i + 5 <= pings.length; i += 5) {
    const round = pings.slice(i, i + 5)
    if (new Set(round).size === 5) rounds.push(round.join(','))
  }
  t.ok(rounds.length >= 15, `most windows of 5 probes cover all 5 others (${rounds.length})`)
  t.ok(new Set(rounds).size > 3, 'orders differ between rounds (reshuffled)')
  t.equal(c.events.length, 0, 'a healthy mesh produces no events')
  for (let i = 0; i < 6; i++) t.equal(c.core(i).healthScore, 0)
})

t.test('a crashed node is suspected, then declared dead by every live member', async t => {
  const c = new Cluster(5)
  c.runUntil(3000)
  c.crash(4)
  const took = c.runUntilTrue(() => [0, 1, 2, 3].every(i => c.view(i, 4) === 'dead'), 30_000)
  // local preset, n=5: min 3 * 200 = 600 ms, max 3.6 s; a probe round is at most 5 * 200 ms.
  t.ok(took < 6000, `all four agree within ${took} ms`)
  t.ok(c.eventsAbout('suspect', 4).length >= 1)
  t.equal(c.eventsAbout('dead', 4).length, 4, 'one dead event per live member')
  t.ok(c.events.every(x => x.e.id === c.ids[4]), 'nobody else was accused')
  const r = c.core(0).report()
  t.same(r.dead, [{ id: c.ids[4], incarnation: 0 }])
  t.same(r.suspect, [])
})

t.test('indirect probes: a member unreachable directly but reachable through relays is not suspected', async t => {
  const c = new Cluster(4)
  c.cut = (a, b) => (a === 0 && b === 3) || (a === 3 && b === 0)
  c.runUntil(15_000)
  t.ok(c.core(0).stats().indirectProbes > 0, 'node 0 asked relays')
  t.ok(c.core(1).stats().relaysServed + c.core(2).stats().relaysServed > 0, 'relays served')
  t.equal(c.eventsAbout('suspect', 3).length, 0, 'never suspected')
  t.equal(c.view(0, 3), 'alive')
  t.equal(c.core(0).healthScore, 0, 'relayed acks keep node 0 healthy')
})

t.test('a relay that cannot reach the target nacks, so the requester does not blame itself', async t => {
  const c = new Cluster(3)
  c.runUntil(2000)
  c.crash(2)
  c.runUntilTrue(() => c.core(0).stats().probeFailures > 0, 10_000, 5)
  t.ok(c.core(0).stats().nacksReceived > 0, 'node 1 nacked')
  t.equal(c.core(0).healthScore, 0, 'failure explained by the nack: no health penalty')
})

t.test('local health: an isolated node stretches its own timeouts instead of racing to accuse', async t => {
  const c = new Cluster(4)
  c.runUntil(2000)
  const before = c.core(0).stats().probes
  // Node 0 hears nothing (inbound cut): its probes and relays all fail silently.
  c.cut = (_a, b) => b === 0
  c.runUntil(12_000)
  t.equal(c.core(0).healthScore, c.config.awarenessMaxMultiplier - 1, 'score at its ceiling')
  const probes = c.core(0).stats().probes - before
  t.ok(probes < 10_000 / 200 / 2, `probe rate fell (${probes} probes in 10 s instead of 50)`)
  c.cut = () => false
  c.runUntilTrue(() => c.core(0).healthScore === 0, 30_000)
  t.pass('score recovers with acks')
})

t.test('same seed, same packets', async t => {
  const run = (): string => {
    const c = new Cluster(5, { seed: 99 })
    c.runUntil(5000)
    c.crash(1)
    c.runUntil(15_000)
    return c.sent.map(s => `${s.t}:${s.from}>${s.to}:${Buffer.from(s.bytes).toString('hex')}`).join('\n')
  }
  t.equal(run(), run())
})

t.test('a node woken a probe timeout late for its own deadlines raises its local health score', async t => {
  const c = new Cluster(3)
  c.runUntil(2000)
  const core = c.core(0)
  t.equal(core.healthScore, 0)
  const due = core.pollTimeout()!
  core.handleTimeout(due + 1) // on time: nothing
  t.equal(core.stats().lateWakeups, 0)
  const next = core.pollTimeout()!
  core.handleTimeout(next + 500) // the process was starved for half a second
  t.equal(core.stats().lateWakeups, 1)
  // Its probe's ack deadline passed too, unanswered in this direct call: that may add a failed-probe step.
  t.ok(core.healthScore >= 1, `its own timeouts stretch instead of accusing its peers (score ${core.healthScore})`)
})
