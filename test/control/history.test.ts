import t from 'tap'
import { ManualClock } from '../../lib/clock.js'
import { silentLogger } from '../../lib/log.js'
import { HealthHistory, HISTORY_KEEP_MS, HISTORY_MAX_CHANGES } from '../../lib/control/history.js'
import type { GroupCommit } from '../../lib/control/group-commit.js'
import type { StoreOp } from '../../lib/control/store.js'

/** A HealthHistory over a commit that records its batches (and fails while `failing`). */
function history (writes: (id: string) => boolean = () => true): { h: HealthHistory, clock: ManualClock, batches: StoreOp[][], fail: (on: boolean) => void } {
  const clock = new ManualClock()
  const batches: StoreOp[][] = []
  let failing = false
  const commit = { commit: async (ops: StoreOp[]) => { if (failing) throw new Error('disk full'); batches.push(ops) } } as unknown as GroupCommit
  return { h: new HealthHistory({ clock, log: silentLogger(), commit, writes }), clock, batches, fail: on => { failing = on } }
}

t.test('changes are kept in order, and since() starts with the health a node had at the window\'s start', async (t) => {
  const { h, clock } = history()
  h.record('n1', 'online', 'joined')
  clock.set(clock.now() + 60_000)
  h.record('n1', 'offline', 'controller lost it')
  const mid = clock.now() + 1000
  clock.set(clock.now() + 60_000)
  h.record('n1', 'online', 'controller hears it')
  t.same(h.since('n1', mid).map(c => c.health), ['offline', 'online'], 'the change before the window, then those in it')
  t.same(h.since('n1', 0).map(c => c.health), ['online', 'offline', 'online'])
  t.same(h.since('n1', clock.now() + 1).map(c => c.health), ['online'], 'after the last change: the health in force')
  t.same(h.since('nope', 0), [])
})

t.test('bounded: 7 days back (and the change before them), at most 500 changes', async (t) => {
  const { h, clock } = history()
  h.record('n1', 'online', 'old')
  clock.set(clock.now() + HISTORY_KEEP_MS + 60_000)
  h.record('n1', 'offline', 'new')
  t.same(h.since('n1', 0).map(c => c.reason), ['old', 'new'], 'the last change before the window stays: it says how the window began')
  clock.set(clock.now() + 1000)
  h.record('n1', 'online', 'newer')
  clock.set(clock.now() + HISTORY_KEEP_MS + 1000)
  h.record('n1', 'offline', 'latest')
  t.same(h.since('n1', 0).map(c => c.reason), ['newer', 'latest'], 'older ones go')
  for (let i = 0; i < HISTORY_MAX_CHANGES + 50; i++) { clock.set(clock.now() + 10); h.record('n2', i % 2 === 0 ? 'online' : 'offline', `flap ${i}`) }
  const kept = h.since('n2', 0)
  t.equal(kept.length, HISTORY_MAX_CHANGES)
  t.equal(kept.at(-1)!.reason, `flap ${HISTORY_MAX_CHANGES + 49}`, 'the newest are kept')
})

t.test('flush writes what changed in one batch, keeps it for the next on a failure, and deletes a forgotten node\'s record', async (t) => {
  const { h, batches, fail } = history(id => id !== 'elsewhere')
  await h.flush()
  t.equal(batches.length, 0, 'nothing changed, nothing written')
  h.record('n1', 'online', 'a')
  h.record('n2', 'online', 'b')
  h.record('elsewhere', 'online', 'another controller writes this one')
  fail(true)
  await h.flush()
  t.equal(batches.length, 0)
  fail(false)
  await h.flush()
  t.same(batches.map(b => b.map(op => `${op.kind}:${'nodeId' in op ? op.nodeId : ''}`).sort()), [['history:n1', 'history:n2']], 'retried as one batch')
  await h.flush()
  t.equal(batches.length, 1, 'written once')
  h.forget('n1')
  await h.flush()
  t.same(batches[1], [{ kind: 'del-history', nodeId: 'n1' }])
  t.same(h.since('n1', 0), [])
})

t.test('a record another controller wrote is taken in, keeping the changes only this one saw', async (t) => {
  const { h, clock } = history()
  const t0 = clock.now()
  h.record('n1', 'mesh-lost', 'seen only here')
  h.applyStored('n1', [{ at: t0 - 5000, health: 'online', reason: 'there' }, { at: t0 + 5000, health: 'offline', reason: 'there' }])
  t.same(h.since('n1', 0).map(c => c.health), ['online', 'mesh-lost', 'offline'])
  h.applyStored('n1', null)
  t.same(h.since('n1', 0), [], 'deleted there, gone here')
})
