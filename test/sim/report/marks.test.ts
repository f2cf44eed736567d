import t from 'tap'
import { faultMarks, timeMarks } from '../../../sim/report/marks.js'
import type { Report } from '../../../sim/report/build.js'
import { sampleReport } from './fixture.js'

type Intent = Report['intent']
const none: Intent = { down: [], partitions: [], losses: [], outages: [] }

t.test('every kind of fault and its end is a mark at its time', async t => {
  const cases: Array<[string, Partial<Intent>, Array<[number, string, string]>]> = [
    ['crash and restart', { down: [{ node: 3, kind: 'crash', fromMs: 20_000, toMs: 30_000 }] },
      [[20_000, 'fault', 'crash node-3'], [30_000, 'recovery', 'restart node-3']]],
    ['vanish and return', { down: [{ node: 1, kind: 'vanish', fromMs: 1000, toMs: 2000 }] },
      [[1000, 'fault', 'vanish node-1'], [2000, 'recovery', 'return node-1']]],
    ['leave and rejoin', { down: [{ node: 2, kind: 'left', fromMs: 1000, toMs: 9000 }] },
      [[1000, 'fault', 'leave node-2'], [9000, 'recovery', 'rejoin node-2']]],
    ['a crash not undone has no end', { down: [{ node: 2, kind: 'crash', fromMs: 5000, toMs: null }] },
      [[5000, 'fault', 'crash node-2']]],
    ['cut and heal', { partitions: [{ sides: [[0, 1, 2], [3, 4]], fromMs: 4000, toMs: 8000 }] },
      [[4000, 'fault', 'cut 3 | 2'], [8000, 'recovery', 'heal']]],
    ['loss on and off', { losses: [{ nodes: [0, 1, 2, 3, 4], percent: 5, fromMs: 3000, toMs: 7000 }] },
      [[3000, 'fault', '5 % loss on every node'], [7000, 'recovery', 'loss off']]],
    ['loss on a few nodes', { losses: [{ nodes: [1, 4], percent: 20, fromMs: 3000, toMs: null }] },
      [[3000, 'fault', '20 % loss on node-1, node-4']]],
    ['loss changed, not ended', {
      losses: [
        { nodes: [0, 1, 2, 3, 4], percent: 5, fromMs: 3000, toMs: 7000 },
        { nodes: [0, 1, 2, 3, 4], percent: 10, fromMs: 7000, toMs: 9000 }
      ]
    },
    [[3000, 'fault', '5 % loss on every node'], [7000, 'fault', '10 % loss on every node'], [9000, 'recovery', 'loss off']]],
    ['controller stop and start', { outages: [{ fromMs: 2000, toMs: 6000 }] },
      [[2000, 'fault', 'controller stop'], [6000, 'recovery', 'controller start']]]
  ]
  for (const [name, intent, want] of cases) {
    const { marks } = faultMarks({ ...none, ...intent }, 5, 10_000)
    t.same(marks.map(m => [m.tMs, m.kind, m.label]), want, name)
  }
})

t.test('nodes hit by one action share one mark; more than three are counted', async t => {
  const down = (nodes: number[]): Intent['down'] => nodes.map(node => ({ node, kind: 'crash' as const, fromMs: 1000, toMs: 2000 }))
  t.same(faultMarks({ ...none, down: down([7, 2]) }, 10, 5000).marks.map(m => m.label), ['crash node-2, node-7', 'restart node-2, node-7'])
  t.same(faultMarks({ ...none, down: down([1, 2, 3, 4, 5]) }, 10, 5000).marks.map(m => m.label), ['crash 5 nodes', 'restart 5 nodes'])
})

t.test('lasting faults are bands; one still in force at the end runs to the end', async t => {
  const { bands } = faultMarks({
    ...none,
    partitions: [{ sides: [[0], [1]], fromMs: 4000, toMs: 8000 }],
    losses: [{ nodes: [0, 1], percent: 5, fromMs: 1000, toMs: null }],
    outages: [{ fromMs: 2000, toMs: 3000 }]
  }, 2, 10_000)
  t.same(bands, [
    { fromMs: 1000, toMs: 10_000, label: '5 % loss' },
    { fromMs: 2000, toMs: 3000, label: 'controller down' },
    { fromMs: 4000, toMs: 8000, label: 'partition' }
  ])
})

t.test('the time axes also mark the first full mesh', async t => {
  t.same(timeMarks(sampleReport()).marks.map(m => [m.tMs, m.kind, m.label]), [
    [6000, 'milestone', 'full mesh'], [20_000, 'fault', 'crash node-3'], [30_000, 'recovery', 'restart node-3']
  ])
})
