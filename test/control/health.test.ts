import t from 'tap'
import { fuseHealth, meshView, type HealthEvidence } from '../../lib/control/health.js'
import { Liveness } from '../../lib/control/liveness.js'
import { ManualClock } from '../../lib/clock.js'
import type { NodeHealth } from '../../lib/wire/netmap.js'

const ev = (o: Partial<HealthEvidence>): HealthEvidence => ({
  removed: false,
  left: false,
  controlFresh: true,
  reporters: 0,
  deadVotes: 0,
  suspectVotes: 0,
  ...o
})

t.test('fusion table', async (t) => {
  const rows: Array<[Partial<HealthEvidence>, NodeHealth]> = [
    [{ removed: true, left: true, controlFresh: true }, 'removed'],
    [{ left: true, controlFresh: true }, 'left'],
    [{ left: true, controlFresh: false, reporters: 3, deadVotes: 3 }, 'left'],
    [{ controlFresh: true }, 'online'],
    [{ controlFresh: true, reporters: 3, deadVotes: 1 }, 'online'],
    [{ controlFresh: true, reporters: 3, deadVotes: 0, suspectVotes: 3 }, 'online'],
    [{ controlFresh: true, reporters: 3, deadVotes: 2 }, 'mesh-lost'],
    [{ controlFresh: true, reporters: 1, deadVotes: 1 }, 'mesh-lost'],
    [{ controlFresh: true, reporters: 2, deadVotes: 1 }, 'online'],
    [{ controlFresh: false, reporters: 3, deadVotes: 0 }, 'control-lost'],
    [{ controlFresh: false, reporters: 4, deadVotes: 2 }, 'control-lost'],
    [{ controlFresh: false, reporters: 3, deadVotes: 2 }, 'offline'],
    [{ controlFresh: false, reporters: 0 }, 'offline']
  ]
  for (const [input, want] of rows) t.equal(fuseHealth(ev(input)).health, want, JSON.stringify(input))
})

t.test('mesh view: a tie is not a majority, no reporters is silent', async (t) => {
  t.equal(meshView(0, 0), 'silent')
  t.equal(meshView(2, 1), 'up')
  t.equal(meshView(3, 2), 'down')
  t.equal(meshView(1, 1), 'down')
})

t.test('every verdict carries a reason', async (t) => {
  t.match(fuseHealth(ev({ controlFresh: false, reporters: 3, deadVotes: 2, suspectVotes: 1 })).reason, /2\/3 peers hold it dead, 1 suspect/)
})

function setup (): { clock: ManualClock, live: Liveness, changes: Array<[string, NodeHealth, NodeHealth]> } {
  const clock = new ManualClock()
  const changes: Array<[string, NodeHealth, NodeHealth]> = []
  const live = new Liveness({
    clock,
    controlStaleMs: 15000,
    streamGraceMs: 3000,
    reportFreshMs: 15000,
    onVerdict: (id, from, to) => changes.push([id, from.health, to.health]),
    onSuspicions: () => {}
  })
  return { clock, live, changes }
}

const alive = { incarnation: 0, suspect: [], dead: [] }

t.test('liveness: no heartbeat for the stale window -> offline, on the timer table', async (t) => {
  const { clock, live, changes } = setup()
  live.add('a', { left: false, seen: true })
  clock.advance(14_999)
  live.sweep()
  t.equal(live.verdict('a')?.health, 'online')
  clock.advance(251) // deadline rounded up to the 250 ms granularity, never early
  live.sweep()
  t.equal(live.verdict('a')?.health, 'offline')
  t.same(changes, [['a', 'online', 'offline']])
  live.heartbeat('a')
  t.equal(live.verdict('a')?.health, 'online')
})

t.test('liveness: update channel closed beyond the grace -> stale even with a recent heartbeat', async (t) => {
  const { clock, live } = setup()
  live.add('a', { left: false, seen: true })
  live.streams('a', 1)
  clock.advance(1000)
  live.streams('a', 0)
  clock.advance(2999)
  live.sweep()
  t.equal(live.verdict('a')?.health, 'online', 'within grace')
  clock.advance(251)
  live.sweep()
  t.equal(live.verdict('a')?.health, 'offline')
  live.streams('a', 1)
  t.equal(live.verdict('a')?.health, 'online', 'reconnect restores it')
})

t.test('liveness: peers holding a node dead make it mesh-lost, then offline when control goes stale', async (t) => {
  const { clock, live } = setup()
  for (const id of ['a', 'b', 'c', 'x']) live.add(id, { left: false, seen: true })
  live.heartbeat('a', { incarnation: 0, suspect: [], dead: [{ id: 'x', incarnation: 0 }] })
  live.heartbeat('b', { incarnation: 0, suspect: [], dead: [{ id: 'x', incarnation: 0 }] })
  live.heartbeat('c', alive)
  live.heartbeat('x', alive)
  t.equal(live.verdict('x')?.health, 'mesh-lost', '2 of 3 fresh reporters hold x dead')
  t.same(live.evidence('x'), { removed: false, left: false, controlFresh: true, reporters: 3, deadVotes: 2, suspectVotes: 0 })
  live.heartbeat('x', { incarnation: 1, suspect: [], dead: [] })
  t.equal(live.verdict('x')?.health, 'online', 'a higher incarnation refutes older death reports')
  live.heartbeat('a', { incarnation: 0, suspect: [], dead: [{ id: 'x', incarnation: 1 }] })
  live.heartbeat('b', { incarnation: 0, suspect: [], dead: [{ id: 'x', incarnation: 1 }] })
  t.equal(live.verdict('x')?.health, 'mesh-lost')
  clock.advance(10_000)
  for (const id of ['a', 'b', 'c']) live.heartbeat(id, id === 'c' ? alive : { incarnation: 0, suspect: [], dead: [{ id: 'x', incarnation: 1 }] })
  clock.advance(5_250)
  live.sweep()
  t.equal(live.verdict('x')?.health, 'offline', 'control stale and the mesh agrees')
})

t.test('liveness: control stale but peers see it -> control-lost; reporters going stale -> offline', async (t) => {
  const { clock, live } = setup()
  for (const id of ['a', 'b', 'x']) live.add(id, { left: false, seen: true })
  clock.advance(10_000)
  live.heartbeat('a', alive)
  live.heartbeat('b', alive)
  clock.advance(5_250)
  live.sweep()
  t.equal(live.verdict('x')?.health, 'control-lost')
  clock.advance(10_000)
  live.sweep()
  t.equal(live.verdict('a')?.health, 'offline')
  t.equal(live.verdict('x')?.health, 'offline', 'no fresh reporters left')
})

t.test('liveness: left nodes stay left and do not report', async (t) => {
  const { live } = setup()
  live.add('a', { left: false, seen: true })
  live.add('x', { left: false, seen: true })
  live.heartbeat('a', { incarnation: 0, suspect: [], dead: [{ id: 'x', incarnation: 0 }] })
  t.equal(live.verdict('x')?.health, 'mesh-lost')
  live.setLeft('a', true)
  t.equal(live.verdict('a')?.health, 'left')
  t.equal(live.verdict('x')?.health, 'online', 'a left node is not a reporter')
})
