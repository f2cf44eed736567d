/**
 * The report page's charts as plain data: one Chart.js config per chart, with no functions in it, so the page
 * only hands each to `new Chart` and a test can read exactly what will be drawn.
 */
import type { Report } from './build.js'
import { HEALTH_STATES, healthSegments, nodeName, type HealthState } from './health.js'
import { timeMarks } from './marks.js'

/** One dataset of a chart; `data` holds {x, y} points (y may be a [from, to] pair for floating bars). */
export interface Dataset { label: string, data: unknown[], [option: string]: unknown }

/** One axis: its title carries the unit. */
export interface Axis { type: string, title: { display: boolean, text: string }, [option: string]: unknown }

/** A Chart.js config as JSON. */
export interface ChartConfig {
  type: 'line' | 'scatter' | 'bar'
  data: { labels?: string[], datasets: Dataset[] }
  options: {
    parsing?: boolean
    scales: { x: Axis, y: Axis }
    plugins: { legend: { display: boolean }, [plugin: string]: unknown }
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
const runTime = (): Axis => ({ type: 'linear', title: { display: true, text: 'run time (s)' } })

/** Layout and plugins of a chart over run time: the marks, room above the plot for their labels, the legend below. */
function overRunTime (marks: MarksOptions): { layout: unknown, plugins: { legend: { display: boolean, position: string }, marks: MarksOptions } } {
  return { layout: { padding: { top: MARK_ROWS * MARK_ROW_PX + 6 } }, plugins: { legend: { display: true, position: 'bottom' }, marks } }
}

/** The marks every run-time chart of `r` draws. */
function marksOptions (r: Report): MarksOptions {
  const m = timeMarks(r)
  return {
    marks: m.marks.map(k => ({ x: sec(k.tMs), kind: k.kind, label: k.label })),
    bands: m.bands.map(b => ({ from: sec(b.fromMs), to: sec(b.toMs), label: b.label }))
  }
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
          label: kind, data: thin(v, 400).map(([x, y]) => ({ x: sec(x), y })), borderColor: PALETTE[i % PALETTE.length], pointRadius: 0, stepped: true
        }))
      },
      options: {
        parsing: false,
        scales: {
          x: { type: 'linear', title: { display: true, text: 'seconds from the event until a live node removed / added the peer' } },
          y: { type: 'linear', min: 0, max: 1, title: { display: true, text: 'fraction of (event, node) pairs' } }
        },
        plugins: { legend: { display: true } }
      }
    }
  }
}

const pct = (ok: number, total: number): number | null => total === 0 ? null : Math.round(1000 * ok / total) / 10

/** Sampled pairs, then the all-pairs pass as the line's last point and as a marker of its own. */
function reachChart (r: Report, marks: MarksOptions): ChartSpec {
  const samples = r.reachability.samples
  const f = r.reachability.final
  const end = { x: sec(f.tMs), y: pct(f.ok, f.total) }
  const perSample = Math.max(0, ...samples.map(s => s.total))
  return {
    id: 'reach',
    title: 'Reachable pairs over time',
    caption: `Each second up to ${perSample} random pairs that should reach each other ping over the mesh IPs; at the end every such pair does (the last point).`,
    heightPx: 360,
    config: {
      type: 'line',
      data: {
        datasets: [{
          label: 'pairs answering: sampled each second, then every pair',
          borderColor: PALETTE[0],
          data: [...samples.map(s => ({ x: sec(s.tMs), y: pct(s.ok, s.total) })), end],
          pointRadius: 1
        }, {
          label: `every pair at the end: ${f.ok}/${f.total} answered`,
          borderColor: PALETTE[0],
          backgroundColor: PALETTE[0],
          data: [end],
          pointRadius: 5,
          pointStyle: 'rectRot',
          showLine: false
        }]
      },
      options: {
        parsing: false,
        scales: { x: runTime(), y: { type: 'linear', min: 0, max: 100, title: { display: true, text: 'pairs answering (%)' } } },
        ...overRunTime(marks)
      }
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
function healthChart (r: Report, marks: MarksOptions): ChartSpec {
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
      options: {
        indexAxis: 'y',
        scales: { x: runTime(), y: { type: 'category', title: { display: true, text: 'node (hostname)' } } },
        ...overRunTime(marks)
      }
    }
  }
}

function memoryChart (r: Report, marks: MarksOptions): ChartSpec {
  const s = r.resources.samples
  const series = (label: string, colour: string, f: (x: typeof s[number]) => number): Dataset =>
    ({ label, borderColor: colour, data: s.map(x => ({ x: sec(x.tMs), y: f(x) / 1024 })) })
  return {
    id: 'mem',
    title: 'Memory',
    caption: '',
    heightPx: 360,
    config: {
      type: 'line',
      data: {
        datasets: [
          series('daemon RSS p50 (MB)', PALETTE[0]!, x => x.daemons.rssKbP50),
          series('wireguard-go RSS p50 (MB)', PALETTE[2]!, x => x.wireguard.rssKbP50),
          series('controller RSS (MB)', PALETTE[1]!, x => x.controller.rssKbMax)
        ]
      },
      options: { parsing: false, scales: { x: runTime(), y: { type: 'linear', min: 0, title: { display: false, text: '' } } }, ...overRunTime(marks) }
    }
  }
}

function cpuChart (r: Report, marks: MarksOptions): ChartSpec {
  // The first sample has no interval behind it.
  const s = r.resources.samples.slice(1)
  const series = (label: string, colour: string, f: (x: typeof s[number]) => number): Dataset =>
    ({ label, borderColor: colour, data: s.map(x => ({ x: sec(x.tMs), y: f(x) })) })
  const cores = r.machine.cores
  return {
    id: 'cpu',
    title: 'CPU',
    caption: 'Sums over the group, sampled every 5 s from the first daemon\'s start. What the groups leave of the machine\'s busy time is the kernel\'s ' +
      'packet work (veth, bridge, tun), the harness and anything else on the host.',
    heightPx: 360,
    config: {
      type: 'line',
      data: {
        datasets: [
          series('machine busy', PALETTE[8]!, x => x.machineCpuPct),
          series('daemons', PALETTE[0]!, x => x.daemons.cpuPctSum),
          series('wireguard-go', PALETTE[2]!, x => x.wireguard.cpuPctSum),
          series('controller', PALETTE[1]!, x => x.controller.cpuPctSum)
        ]
      },
      options: {
        parsing: false,
        scales: { x: runTime(), y: { type: 'linear', min: 0, suggestedMax: 100 * cores, title: { display: true, text: `% of one core (${cores} cores = ${100 * cores})` } } },
        ...overRunTime(marks)
      }
    }
  }
}

/** Every chart of the report page, in page order. */
export function chartSpecs (r: Report): ChartSpec[] {
  const marks = marksOptions(r)
  return [cdfChart(r), reachChart(r, marks), healthChart(r, marks), memoryChart(r, marks), cpuChart(r, marks)]
}
