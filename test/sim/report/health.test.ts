import t from 'tap'
import { healthSegments, healthState, nodeName, type HealthState } from '../../../sim/report/health.js'
import type { DownInterval } from '../../../sim/run/intent.js'

const down: DownInterval[] = [
  { node: 1, kind: 'crash', fromMs: 10_000, toMs: 20_000 },
  { node: 2, kind: 'vanish', fromMs: 10_000, toMs: null },
  { node: 3, kind: 'left', fromMs: 5000, toMs: 8000 }
]

t.test('a health value and the ground truth name the state', async t => {
  const cases: Array<[number, number, number, HealthState]> = [
    [1, 0, 0, 'in-sync'],
    [0.9995, 0, 0, 'in-sync'],
    [0.75, 0, 0, 'partly'],
    [0.5, 0, 0, 'partly'],
    [0.49, 0, 0, 'out-of-sync'],
    [0, 0, 0, 'out-of-sync'],
    [-1, 0, 0, 'not-started'],
    [-1, 1, 10_000, 'crashed'],
    [-1, 1, 20_000, 'not-started'],
    [-1, 2, 99_000, 'vanished'],
    [-1, 3, 6000, 'left']
  ]
  for (const [v, node, tMs, want] of cases) t.equal(healthState(v, node, tMs, down), want, `${v} for node ${node} at ${tMs} ms`)
})

t.test('runs of one state become one segment that lasts until the next column', async t => {
  const timeline = { tMs: [0, 1000, 2000, 3000, 4000], health: [[-1, 0, 1, 1, 1], [1, 1, 1, 1, 1]] }
  t.same(healthSegments(timeline, [], 1000), [
    { node: 0, state: 'not-started', fromMs: 0, toMs: 1000 },
    { node: 0, state: 'out-of-sync', fromMs: 1000, toMs: 2000 },
    { node: 0, state: 'in-sync', fromMs: 2000, toMs: 5000 },
    { node: 1, state: 'in-sync', fromMs: 0, toMs: 5000 }
  ])
})

t.test('past maxCells every k-th column is used (here every 5th) and segments still cover the run', async t => {
  const tMs = Array.from({ length: 100 }, (_, k) => k * 200)
  const timeline = { tMs, health: [tMs.map(t => t < 10_000 ? 0 : 1)] }
  const segs = healthSegments(timeline, [], 200, 20)
  t.same(segs, [
    { node: 0, state: 'out-of-sync', fromMs: 0, toMs: 10_000 },
    { node: 0, state: 'in-sync', fromMs: 10_000, toMs: 20_000 }
  ])
})

t.test('node names are the hostnames the sim daemons register', async t => {
  t.equal(nodeName(7), 'node-7')
})
