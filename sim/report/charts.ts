/**
 * The report page's charts as plain data: one Chart.js config per chart, with no functions in it, so the page
 * only hands each to `new Chart` and a test can read exactly what will be drawn.
 */
import type { Report } from './build.js'
import type { GroupSample, ResourceSample } from '../run/resources.js'
import { HEALTH_STATES, healthSegments, nodeName, type HealthState } from './health.js'
import { timeMarks } from './marks.js'

/** One dataset of a chart; `data` holds {x, y} points (on a floating bar, x is a [from, to] pair). */
export interface Dataset { label: string, data: unknown[], [option: string]: unknown }

/** One axis: its title carries the unit. */
export interface Axis { type: string, title: { display: boolean, text: string }, [option: string]: unknown }

/** A Chart.js config as JSON. */
export interface ChartConfig {
  type: 'line' | 'bar'
  data: { labels?: string[], datasets: Dataset[] }
  options: {
    parsing?: boolean
    scales: { x: Axis, y: Axis }
    plugins: { legend: { display: boolean, position?: string }, [plugin: string]: unknown }
    [option: string]: unknown
  }
}

/** One chart of the page: canvas id, heading, caption under the heading, canvas height in px, config. */
export interface ChartSpec { id: string, title: string, caption: string, heightPx: number, config: ChartConfig }

/** Series colours, in the order charts take them. */
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f']

/** At most `max` evenly spaced elements of a sorted array as [value, cumulative fraction] (always keeping the last). */
export function thin (v: readonly number[], max: number): Array<[number, number]> {
  const out: Array<[number, number]> = []
  if (v.length === 0) return out
  const step = Math.max(1, Math.ceil(v.length / max))
  for (let i = 0; i < v.length; i += step) out.push([v[i]!, (i + 1) / v.length])
  if (out[out.length - 1]![0] !== v[v.length - 1]) out.push([v[v.length - 1]!, 1])
  return out
}

/** Rows of mark labels above a run-time chart's plot area, and their height in px: the room its layout leaves. */
export const MARK_ROWS = 2
export const MARK_ROW_PX = 13

/** Options of the page's `marks` plugin: vertical lines and bands on the x axis, in seconds of run time. */
export interface MarksOptions {
  marks: Array<{ x: number, kind: string, label: string }>
  bands: Array<{ from: number, to: number, label: string }>
}

const sec = (ms: number): number => ms / 1000

/**
 * What every chart over run time shares: one x axis over the whole run (so the same time is at the same place on
 * each), the marks, room above the plot for their labels, and the legend below.
 */
interface RunFrame { x: Axis, marks: MarksOptions }

function runFrame (r: Report): RunFrame {
  const m = timeMarks(r)
  return {
    x: { type: 'linear', min: 0, max: sec(r.durationMs), ticks: { includeBounds: false }, title: { display: true, text: 'run time (s)' } },
    marks: {
      marks: m.marks.map(k => ({ x: sec(k.tMs), kind: k.kind, label: k.label })),
      bands: m.bands.map(b => ({ from: sec(b.fromMs), to: sec(b.toMs), label: b.label }))
    }
  }
}

/** Options of a chart over run time with `y` as its value axis. */
function overRunTime (f: RunFrame, y: Axis, more: Record<string, unknown> = {}): ChartConfig['options'] {
  return {
    maintainAspectRatio: false,
    ...more,
    layout: { padding: { top: MARK_ROWS * MARK_ROW_PX + 6 } },
    scales: { x: f.x, y },
    plugins: { legend: { display: true, position: 'bottom' }, marks: f.marks }
  }
}

/** A line series of {x, y} points; `clip: false` draws a value on the plot's edge (100 %, full load) whole. */
function line (label: string, colour: string, data: Array<{ x: number, y: number | null }>): Dataset {
  return { label, borderColor: colour, backgroundColor: colour, data, pointRadius: 1.5, borderWidth: 2, clip: false }
}

function cdfChart (r: Report): ChartSpec {
  return {
    id: 'cdf',
    title: 'Detection and convergence (CDF)',
    caption: 'For every event and every live node: time from the event (kill, drop, partition, restart, heal, daemon start) until that node\'s ' +
      'WireGuard device, read from outside through UAPI, no longer had (or had again) the peer.',
    heightPx: 360,
    config: {
      type: 'line',
      data: {
        datasets: Object.entries(r.cdf).map(([kind, v], i) => ({
          ...line(`${kind}: ${v.length} reactions`, PALETTE[i % PALETTE.length]!, thin(v, 400).map(([x, y]) => ({ x: sec(x), y: Math.round(1000 * y) / 10 }))),
          pointRadius: 0,
          stepped: true
        }))
      },
      options: {
        maintainAspectRatio: false,
        parsing: false,
        scales: {
          x: { type: 'linear', min: 0, title: { display: true, text: 'time from the event until a live node removed / added the peer (s)' } },
          y: { type: 'linear', min: 0, max: 100, title: { display: true, text: 'reactions this fast or faster (%)' } }
        },
        plugins: { legend: { display: true } }
      }
    }
  }
}

const pct = (ok: number, total: number): number | null => total === 0 ? null : Math.round(1000 * ok / total) / 10

/** Sampled pairs, then the all-pairs pass as the line's last point and as a marker of its own. */
function reachChart (r: Report, f: RunFrame): ChartSpec {
  const samples = r.reachability.samples
  const final = r.reachability.final
  const end = { x: sec(final.tMs), y: pct(final.ok, final.total) }
  const perSample = Math.max(0, ...samples.map(s => s.total))
  return {
    id: 'reach',
    title: 'Reachable pairs over time',
    caption: `From the full mesh on, each second up to ${perSample} random pairs that should reach each other ping over the mesh IPs; ` +
      'at the end every such pair does (the last point).',
    heightPx: 360,
    config: {
      type: 'line',
      data: {
        datasets: [
          line('pairs answering: sampled each second, then every pair', PALETTE[0]!, [...samples.map(s => ({ x: sec(s.tMs), y: pct(s.ok, s.total) })), end]),
          { ...line(`every pair at the end: ${final.ok}/${final.total} answered`, PALETTE[0]!, [end]), pointRadius: 6, pointStyle: 'rectRot', showLine: false }
        ]
      },
      options: overRunTime(f, { type: 'linear', min: 0, max: 100, title: { display: true, text: 'pairs answering (%)' } }, { parsing: false })
    }
  }
}

/** Colours of the health states: greens to reds for a running node, greys for one down on purpose. */
const HEALTH_COLOUR: Record<HealthState, string> = {
  'in-sync': '#2ca02c',
  partly: '#f2b701',
  'out-of-sync': '#d62728',
  'not-started': '#e3e3e3',
  crashed: '#555555',
  vanished: '#8c8c8c',
  left: '#b8b8d8'
}

/** One row per node (its hostname), one floating bar per run of a state, one dataset per state that occurs. */
function healthChart (r: Report, f: RunFrame): ChartSpec {
  const nodes = r.params.nodes
  const segs = healthSegments(r.timeline, r.intent.down, r.params.tickMs)
  const datasets: Dataset[] = []
  for (const { state, label } of HEALTH_STATES) {
    const mine = segs.filter(s => s.state === state)
    if (mine.length === 0) continue
    datasets.push({
      label,
      data: mine.map(s => ({ y: nodeName(s.node), x: [sec(s.fromMs), sec(s.toMs)] })),
      backgroundColor: HEALTH_COLOUR[state],
      borderWidth: 0,
      grouped: false,
      barPercentage: 1,
      categoryPercentage: 0.85
    })
  }
  return {
    id: 'health',
    title: 'Per-node health',
    caption: 'Each read pass compares the peers a node\'s device holds with the peers it should hold (Jaccard: shared / either); ' +
      'a node down on purpose says why.',
    heightPx: Math.min(900, Math.max(300, 140 + nodes * 18)),
    config: {
      type: 'bar',
      data: { labels: Array.from({ length: nodes }, (_, i) => nodeName(i)), datasets },
      options: overRunTime(f, { type: 'category', title: { display: true, text: 'node (hostname)' } }, { indexAxis: 'y' })
    }
  }
}

/** A group's value, or null (a gap) where no process of the group ran. */
const ran = (g: GroupSample, v: number): number | null => g.count === 0 ? null : v

/** The median interval between resource samples, in s (what the captions say). */
function sampleEveryS (samples: readonly ResourceSample[]): number {
  const gaps = samples.slice(1).map((s, k) => s.tMs - samples[k]!.tMs).sort((a, b) => a - b)
  return gaps.length === 0 ? 0 : Math.round(gaps[Math.floor(gaps.length / 2)]! / 100) / 10
}

function memoryChart (r: Report, f: RunFrame): ChartSpec {
  const s = r.resources.samples
  const mb = (g: GroupSample, kb: number): number | null => ran(g, Math.round(kb / 102.4) / 10)
  return {
    id: 'mem',
    title: 'Memory',
    caption: `Resident memory, sampled about every ${sampleEveryS(s)} s from the first daemon's start: the median daemon and wireguard-go ` +
      'over the nodes running, and the controller.',
    heightPx: 360,
    config: {
      type: 'line',
      data: {
        datasets: [
          line('daemon (median over nodes)', PALETTE[0]!, s.map(x => ({ x: sec(x.tMs), y: mb(x.daemons, x.daemons.rssKbP50) }))),
          line('wireguard-go (median over nodes)', PALETTE[2]!, s.map(x => ({ x: sec(x.tMs), y: mb(x.wireguard, x.wireguard.rssKbP50) }))),
          line('controller', PALETTE[1]!, s.map(x => ({ x: sec(x.tMs), y: mb(x.controller, x.controller.rssKbMax) })))
        ]
      },
      options: overRunTime(f, { type: 'linear', min: 0, title: { display: true, text: 'RSS (MB)' } }, { parsing: false })
    }
  }
}

/** The resource sampler's own CPU over the stretch it sampled, % of one core. */
function samplerShare (r: Report): number {
  const s = r.resources.samples
  const spanMs = s.length < 2 ? 0 : s[s.length - 1]!.tMs - s[0]!.tMs
  return spanMs === 0 ? 0 : Math.round(1000 * r.resources.samplerCpuMs / spanMs) / 10
}

function cpuChart (r: Report, f: RunFrame): ChartSpec {
  // The first sample has no interval behind it.
  const s = r.resources.samples.slice(1)
  const cores = r.machine.cores
  const series = (label: string, colour: string, v: (x: ResourceSample) => number): Dataset => line(label, colour, s.map(x => ({ x: sec(x.tMs), y: v(x) })))
  return {
    id: 'cpu',
    title: 'CPU',
    caption: `Over each interval between samples (about ${sampleEveryS(r.resources.samples)} s, from the first daemon's start); a group is the sum over ` +
      'its processes. ' +
      'What the groups leave of the machine\'s busy time is the kernel\'s packet work (veth, bridge, tun), the harness and anything else on the host. ' +
      `Taking the samples cost this run ${Math.round(r.resources.samplerCpuMs)} ms of CPU (${samplerShare(r)} % of one core).`,
    heightPx: 400,
    config: {
      type: 'line',
      data: {
        datasets: [
          series('whole machine (busy)', PALETTE[8]!, x => x.machineCpuPct),
          series('daemons (sum)', PALETTE[0]!, x => x.daemons.cpuPctSum),
          series('wireguard-go (sum)', PALETTE[2]!, x => x.wireguard.cpuPctSum),
          series('controller', PALETTE[1]!, x => x.controller.cpuPctSum)
        ]
      },
      options: overRunTime(f, {
        type: 'linear',
        min: 0,
        suggestedMax: 100 * cores,
        grace: '5%',
        title: { display: true, text: `CPU (% of one core, ${cores} cores = ${100 * cores} %)` }
      }, { parsing: false })
    }
  }
}

/** Every chart of the report page, in page order. */
export function chartSpecs (r: Report): ChartSpec[] {
  const f = runFrame(r)
  return [cdfChart(r), reachChart(r, f), healthChart(r, f), memoryChart(r, f), cpuChart(r, f)]
}
