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

t.test('the health chart names its nodes by hostname and its states in a legend', async t => {
  const health = chart('health').config
  t.equal(health.options.plugins.legend.display, true, 'legend shown')
  t.same(health.data.labels, ['node-0', 'node-1', 'node-2', 'node-3'], 'one row per node, by hostname')
  t.equal(health.options.scales.y.type, 'category')
  t.same(health.data.datasets.map(d => d.label), [
    'in sync: exactly the right peers', 'partly in sync: 50-99 % right', 'out of sync: under 50 % right', 'not started yet', 'crashed (on purpose)'
  ], 'one dataset per state that occurs, named')
  const crashed = health.data.datasets.find(d => d.label.startsWith('crashed'))!
  t.same(crashed.data, [{ y: 'node-3', x: [20, 30] }], 'node-3 crashed from 20 s to 30 s')
})

t.test('every chart over run time marks the faults at their times, the same on each', async t => {
  const specs = chartSpecs(sampleReport())
  const timed = specs.filter(s => s.config.options.scales.x.title.text === 'run time (s)')
  t.same(timed.map(s => s.id), ['reach', 'health', 'mem', 'cpu'], 'every chart over run time')
  for (const s of timed) {
    const marks = s.config.options.plugins['marks'] as { marks: Array<{ x: number, kind: string, label: string }> } | undefined
    t.same(marks?.marks, [
      { x: 6, kind: 'milestone', label: 'full mesh' },
      { x: 20, kind: 'fault', label: 'crash node-3' },
      { x: 30, kind: 'recovery', label: 'restart node-3' }
    ], `${s.id}: full mesh, the crash and the restart`)
  }
})

t.test('every chart fills its box, names every series in a legend and titles every axis with its unit', async t => {
  for (const s of chartSpecs(sampleReport())) {
    const o = s.config.options
    t.equal(o['maintainAspectRatio'], false, `${s.id}: the canvas fills its box (${s.heightPx} px high) instead of keeping a 2:1 shape`)
    t.equal(o.plugins.legend.display, true, `${s.id}: legend shown`)
    for (const d of s.config.data.datasets) t.match(d.label, /\w{3}/, `${s.id}: series named`)
    for (const [name, axis] of Object.entries(o.scales)) {
      t.equal(axis.title.display, true, `${s.id} ${name}: titled`)
      if (axis.type === 'linear') t.match(axis.title.text, /\((s|%|MB|% of one core[^)]*)\)$/, `${s.id} ${name}: unit given`)
    }
  }
})

t.test('charts over run time share one x range, the whole run; the CDF starts at 0 s', async t => {
  const specs = chartSpecs(sampleReport())
  for (const s of specs.filter(s => s.id !== 'cdf')) {
    t.equal(s.config.options.scales.x['min'], 0, `${s.id} starts at 0`)
    t.equal(s.config.options.scales.x['max'], 40, `${s.id} ends with the run at 40 s`)
  }
  t.equal(chart('cdf', specs).config.options.scales.x['min'], 0)
})

t.test('memory shows no value where no process of the group ran', async t => {
  const r = sampleReport()
  r.resources.samples[0]!.daemons = { count: 0, rssKbP50: 0, rssKbMax: 0, rssKbSum: 0, cpuPctSum: 0 }
  const daemons = chart('mem', chartSpecs(r)).config.data.datasets.find(d => d.label.startsWith('daemon'))!
  t.same((daemons.data as Point[])[0], { x: 2, y: null })
})

t.test('the CPU chart keeps full load inside its scale and draws its series whole', async t => {
  const cpu = chart('cpu').config
  const y = cpu.options.scales.y
  t.equal(y['suggestedMax'], 200, 'the scale reaches the machine\'s 2 cores')
  t.ok(y['grace'], 'with room above, so a saturated machine is not drawn on the edge')
  for (const d of cpu.data.datasets) t.equal(d['clip'], false, `${d.label}: not clipped at the plot's edge`)
  const machine = cpu.data.datasets[0]!.data as Point[]
  t.equal(machine[0]!.x, 3, 'the first sample, with no interval behind it, is not plotted')
})

t.test('the CPU caption gives the sampling interval and what the sampling cost', async t => {
  t.match(chart('cpu').caption, /about 1 s/)
  t.match(chart('cpu').caption, /cost this run 20 ms of CPU \(0\.1 % of one core\)/, '20 ms over the 37 s sampled')
})
