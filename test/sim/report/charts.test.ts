import t from 'tap'
import { chartSpecs, type ChartSpec } from '../../../sim/report/charts.js'
import { sampleReport } from './fixture.js'

function chart (id: string, specs: ChartSpec[] = chartSpecs(sampleReport())): ChartSpec {
  const s = specs.find(c => c.id === id)
  if (s === undefined) throw new Error(`no chart ${id}`)
  return s
}

type Point = { x: number, y: number | null }

t.test('the reachability line ends with the final all-pairs pass, at its time', async t => {
  const reach = chart('reach').config.data.datasets
  const line = reach[0]!.data as Point[]
  t.same(line[line.length - 1], { x: 36, y: 100 }, 'last point: every pair answered at 36 s')
  t.same(line[line.length - 2], { x: 33, y: 75 }, 'the dip sampled before it stays')
  const final = reach.find(d => d.label.startsWith('every pair at the end'))
  t.ok(final, 'the final pass has a dataset of its own')
  t.match(final!.label, /12\/12/, 'its legend says how many pairs answered')
  t.same(final!.data, [{ x: 36, y: 100 }])
})
