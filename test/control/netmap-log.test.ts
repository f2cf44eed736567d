import t from 'tap'
import { NetmapLog } from '../../lib/control/netmap-log.js'
import type { NetmapDelta, NodeRecord } from '../../lib/wire/netmap.js'
import { generateKeyPair } from '../../lib/wire/keys.js'

const node = (i: number): NodeRecord => ({
  id: `n${i}`, hostname: `h${i}`, publicKey: generateKeyPair().publicKey, meshIp: `100.64.0.${i}`, endpoints: [], observedEndpoint: null,
  swimPort: 7946, health: 'online', createdAt: 1, updatedAt: 1
})

/** A log whose published deltas land in `out`, with a hand-driven monotonic clock. */
function setup (minIntervalMs: number): { log: NetmapLog, out: NetmapDelta[], clock: { ms: number } } {
  const out: NetmapDelta[] = []
  const clock = { ms: 1000 }
  const log = new NetmapLog('e', '100.64.0.0/10', 16, (_line, d) => out.push(d), minIntervalMs, () => clock.ms)
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
  clock.ms += 60_000
  log.upsert(node(4))
  await tick()
  t.equal(out.length, 4, 'once the interval has passed the next change goes out on the next tick again')
  t.same(log.catchUp('e', 1), { type: 'delta', epoch: 'e', from: 1, to: 5, upsert: [out[1]!.upsert[0]!, out[1]!.upsert[1]!, out[2]!.upsert[0]!, out[3]!.upsert[0]!], remove: ['n1'] },
    'catch-up merges the paced versions like any others')
})

t.test('paced: the held changes go out when the interval ends (real time)', async (t) => {
  const out: NetmapDelta[] = []
  const log = new NetmapLog('e', '100.64.0.0/10', 16, (_line, d) => out.push(d), 150)
  log.upsert(node(1))
  await tick()
  const held = performance.now()
  log.upsert(node(2))
  const deadline = Date.now() + 10_000
  while (out.length < 2 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
  t.equal(out.length, 2, 'published within the bound')
  t.ok(performance.now() - held >= 140, 'not before the interval ended')
})
