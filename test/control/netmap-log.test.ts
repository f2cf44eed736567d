import t from 'tap'
import { ManualClock } from '../../lib/clock.js'
import { NetmapLog } from '../../lib/control/netmap-log.js'
import type { NetmapDelta, NodeRecord } from '../../lib/wire/netmap.js'
import { generateKeyPair } from '../../lib/wire/keys.js'

const node = (i: number): NodeRecord => ({
  id: `n${i}`,
  hostname: `h${i}`,
  publicKey: generateKeyPair().publicKey,
  meshIp: `100.64.0.${i}`,
  endpoints: [],
  observedEndpoint: null,
  swimPort: 7946,
  health: 'online',
  createdAt: 1,
  updatedAt: 1
})

/** A log whose published deltas land in `out`, paced on a manual clock. */
function setup (minIntervalMs: number, healthIntervalMs?: number): { log: NetmapLog, out: NetmapDelta[], clock: ManualClock } {
  const out: NetmapDelta[] = []
  const clock = new ManualClock()
  const log = new NetmapLog({ epoch: 'e', cidr: '100.64.0.0/10', historyLimit: 16, onDelta: (_line, d) => out.push(d), minIntervalMs, healthIntervalMs, clock })
  return { log, out, clock }
}

const tick = async (): Promise<void> => await new Promise(resolve => setImmediate(resolve))

t.test('without pacing, each tick publishes its changes as one version', async (t) => {
  const { log, out } = setup(0)
  log.upsert(node(1))
  log.upsert(node(2))
  await tick()
  t.same(out.map(d => [d.from, d.to, d.upsert.map(n => n.id)]), [[1, 2, ['n1', 'n2']]])
  log.upsert(node(3))
  await tick()
  t.equal(out.length, 2, 'the next change goes out on the next tick')
})

t.test('paced: a lone change goes out at once; changes within the interval wait and go out together', async (t) => {
  const { log, out, clock } = setup(60_000)
  log.upsert(node(1))
  await tick()
  t.equal(out.length, 1, 'nothing was published recently: no wait')
  log.upsert(node(2))
  log.upsert(node(3))
  await tick()
  await tick()
  t.equal(out.length, 1, 'within the interval the changes are held')
  t.equal(log.version, 2)
  t.same(log.get('n3')?.id, 'n3', 'held changes are visible to get() at once')
  log.flush()
  t.same(out.map(d => [d.from, d.to, d.upsert.map(n => n.id), d.remove]), [[1, 2, ['n1'], []], [2, 3, ['n2', 'n3'], []]],
    'one version for everything held')
  log.upsert(node(5))
  log.remove('n1')
  await tick()
  t.same(out.map(d => [d.from, d.to, d.upsert.map(n => n.id), d.remove]).slice(2), [[3, 4, ['n5'], ['n1']]],
    'a removal is not held: it goes out on the next tick with whatever waited')
  t.equal(log.get('n1'), undefined)
  clock.advance(60_000)
  log.upsert(node(4))
  await tick()
  t.equal(out.length, 4, 'once the interval has passed the next change goes out on the next tick again')
  t.same(log.catchUp('e', 1), {
    type: 'delta',
    epoch: 'e',
    from: 1,
    to: 5,
    upsert: [
      out[1]!.upsert[0]!,
      out[1]!.upsert[1]!,
      out[2]!.upsert[0]!,
      out[3]!.upsert[0]!
    ],
    remove: ['n1']
  },
  'catch-up merges the paced versions like any others')
})

t.test('paced: the held changes go out when the interval ends on the clock', async (t) => {
  const { log, out, clock } = setup(150)
  log.upsert(node(1))
  await tick()
  clock.advance(50)
  log.upsert(node(2))
  t.equal(clock.timers, 1, 'one clock timer for the held change')
  clock.advance(99)
  t.equal(out.length, 1, 'not before the interval ended')
  clock.advance(1)
  t.equal(out.length, 2, 'published when it ended')
  t.equal(clock.timers, 0)
})

t.test('a wall clock set back does not hold versions back: pacing runs on monotonic time', async (t) => {
  const { log, out, clock } = setup(1000)
  log.upsert(node(1))
  await tick()
  clock.set(clock.now() - 3_600_000)
  clock.advance(1000)
  log.upsert(node(2))
  await tick()
  t.equal(out.length, 2, 'the interval since the last version has passed, whatever the wall time says')
})

t.test('health-only changes wait for the health interval unless a member change takes them along', async (t) => {
  const { log, out, clock } = setup(1000, 5000)
  const a = node(1)
  const b = node(2)
  log.upsert(a)
  log.upsert(b)
  await tick()
  t.equal(out.length, 1, 'new nodes are member changes: out at once')
  clock.advance(1500)
  log.upsert({ ...a, health: 'control-lost', updatedAt: 2 }, 'health')
  await tick()
  t.equal(out.length, 1, 'past the member interval, a health change still waits')
  clock.advance(1000)
  log.upsert({ ...b, endpoints: ['198.18.0.2:51820'], updatedAt: 3 })
  await tick()
  t.same(out.map(d => d.upsert.map(n => [n.id, n.health, n.endpoints.length])).slice(1), [[['n1', 'control-lost', 0], ['n2', 'online', 1]]],
    'a member change goes out after the member interval and carries the waiting health change')
  log.upsert({ ...a, health: 'online', updatedAt: 4 }, 'health')
  await tick()
  t.equal(out.length, 2, 'right after a version, a health change waits again')
  log.flush()
  t.equal(out.length, 3, 'flushed when its interval ends')
  t.equal(out[2]!.upsert[0]!.health, 'online')
})

t.test('a health flap that reverts while it waits is never published', async (t) => {
  const { log, out } = setup(1000, 5000)
  const a = node(1)
  log.upsert(a)
  await tick()
  log.upsert({ ...a, health: 'control-lost', updatedAt: 2 }, 'health')
  log.upsert({ ...a, health: 'online', updatedAt: 3 }, 'health')
  log.flush()
  t.equal(out.length, 1, 'no version: the record is what was published but for its change time')
  t.equal(log.version, 2)
  t.equal(log.get('n1')?.updatedAt, 1, 'the published record stands')
  log.upsert({ ...a, health: 'control-lost', updatedAt: 4 }, 'health')
  log.flush()
  t.same(out.map(d => [d.from, d.to, d.upsert.map(n => n.health)]).slice(1), [[2, 3, ['control-lost']]], 'a change that stands goes out')
})

t.test('a health change of a node not yet published goes out as a member change', async (t) => {
  const { log, out } = setup(1000, 5000)
  log.upsert(node(1), 'health')
  await tick()
  t.equal(out.length, 1, 'a node nobody has seen is news, whatever its kind')
})

t.test('a new policy is published at once, in a delta that carries it; the full map carries the latest', async (t) => {
  const { log, out, clock } = setup(1000, 5000)
  t.notOk('policy' in log.snapshot(), 'no policy ever set: the map has none (every flow allowed)')
  log.upsert(node(1))
  await tick()
  clock.advance(500)
  log.upsert(node(3), 'health')
  log.setPolicy({ version: 1, text: '{}' })
  await tick()
  t.same(out.map(d => [d.from, d.to, d.upsert.map(n => n.id), d.policy]).slice(1), [[2, 3, ['n3'], { version: 1, text: '{}' }]],
    'within the member interval it goes out at once, taking what was staged along')
  t.same(log.snapshot().policy, { version: 1, text: '{}' })
  log.upsert(node(2))
  clock.advance(1000)
  t.notOk('policy' in out[2]!, 'a delta that does not change the policy does not carry it')
  t.same(log.snapshot().policy, { version: 1, text: '{}' }, 'the full map keeps carrying it')
})

t.test('setting the policy that is already published publishes nothing', async (t) => {
  const { log, out } = setup(0)
  log.seed([node(1)], { version: 3, text: '{"acls":[]}' })
  t.same(log.snapshot(), { epoch: 'e', version: 1, cidr: '100.64.0.0/10', nodes: [log.get('n1')], policy: { version: 3, text: '{"acls":[]}' } },
    'a seeded policy is in version 1, published by no delta')
  log.setPolicy({ version: 3, text: '{"acls":[]}' })
  log.flush()
  t.equal(out.length, 0)
  t.equal(log.version, 1)
})

t.test('catch-up carries the latest policy when a delta in its range changed it, and none otherwise', async (t) => {
  const { log } = setup(0)
  log.upsert(node(1))
  log.flush()
  log.setPolicy({ version: 1, text: 'one' })
  log.flush()
  log.upsert(node(2))
  log.flush()
  log.setPolicy({ version: 2, text: 'two' })
  log.upsert(node(3))
  log.flush()
  log.upsert(node(4))
  log.flush()
  t.equal(log.version, 6)
  t.match(log.catchUp('e', 1), { type: 'delta', from: 1, to: 6, policy: { version: 2, text: 'two' } }, 'two changes in range: the later one')
  t.match(log.catchUp('e', 2), { type: 'delta', from: 2, to: 6, policy: { version: 2, text: 'two' } })
  const late = log.catchUp('e', 5)
  t.match(late, { type: 'delta', from: 5, to: 6 })
  t.notOk(late !== null && 'policy' in late, 'no change of the policy in range: the delta has none, the client keeps the one it holds')
  const full = log.catchUp('other', 5)
  t.match(full, { type: 'full', netmap: { version: 6, policy: { version: 2, text: 'two' } } })
})
