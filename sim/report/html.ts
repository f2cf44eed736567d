/**
 * report.html: one self-contained file (chart.js's UMD build inlined, the report's data embedded as JSON) so
 * it opens offline. Plots: CDF of detection and convergence times per event kind, reachable-pair fraction
 * over time, per-node health timeline, memory over time; tables of the headline figures.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { Report } from './build.js'

/** chart.js's UMD bundle (a maintained charting library; exposes the global `Chart`). */
function chartJsSource (): string {
  const main = createRequire(import.meta.url).resolve('chart.js')
  return readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8')
}

function esc (s: string): string {
  return s.replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)
}

/** JSON safe to put inside a <script> element. */
function scriptJson (v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c')
}

/** At most `max` evenly spaced elements of a sorted array (always keeping the last). */
function thin (v: readonly number[], max: number): Array<[number, number]> {
  const out: Array<[number, number]> = []
  if (v.length === 0) return out
  const step = Math.max(1, Math.ceil(v.length / max))
  for (let i = 0; i < v.length; i += step) out.push([v[i]!, (i + 1) / v.length])
  if (out[out.length - 1]![0] !== v[v.length - 1]) out.push([v[v.length - 1]!, 1])
  return out
}

/** Data the page's script draws from; thinned so the file stays small at N=200. */
function plotData (r: Report): unknown {
  const cdf = Object.fromEntries(Object.entries(r.cdf).map(([k, v]) => [k, thin(v, 400)]))
  const cols = r.timeline.tMs.length
  // Health heatmap: at most ~40k cells.
  const colStep = Math.max(1, Math.ceil(cols * r.params.nodes / 40_000))
  const health: Array<[number, number, number]> = []
  for (let c = 0; c < cols; c += colStep) {
    for (let i = 0; i < r.params.nodes; i++) health.push([r.timeline.tMs[c]!, i, r.timeline.health[i]![c]!])
  }
  return {
    cdf,
    reach: r.reachability.samples.map(s => [s.tMs, s.total === 0 ? null : s.ok / s.total]),
    health,
    cellMs: (r.params.tickMs * colStep),
    nodes: r.params.nodes,
    memory: r.resources.samples.map(s => [s.tMs, s.daemons.rssKbP50 / 1024, s.wireguard.rssKbP50 / 1024, s.controller.rssKbMax / 1024]),
    // The first sample has no interval behind it.
    cpu: r.resources.samples.slice(1).map(s => [s.tMs, s.daemons.cpuPctSum, s.wireguard.cpuPctSum, s.controller.cpuPctSum, s.machineCpuPct]),
    cores: r.machine.cores,
    phases: r.phases
  }
}

function sec (ms: number | null): string {
  return ms === null ? '-' : (ms / 1000).toFixed(2) + ' s'
}

function tables (r: Report): string {
  const rows = r.events.map(k => `<tr><td>${esc(k.kind)}</td><td>${k.expect}</td><td>${k.events}</td><td>${k.observers}</td>` +
    `<td>${sec(k.first.p50)}</td><td>${sec(k.last.p50)}</td><td>${sec(k.last.p99)}</td><td>${sec(k.last.max)}</td>` +
    `<td>${sec(k.all.p50)}</td><td>${sec(k.all.p99)}</td><td>${k.missed}</td></tr>`).join('\n')
  const m = r.resources.perNodeKb
  const mb = (kb: number): string => (kb / 1024).toFixed(1) + ' MB'
  const phases = r.phases.map(p => `<tr><td>${sec(p.fromMs)}</td><td>${esc(p.name)}</td></tr>`).join('')
  const notes = r.notes.map(n => `<li>${esc(n)}</li>`).join('')
  return `
<table><caption>Events (seen through UAPI every ${r.params.tickMs} ms)</caption>
<tr><th>event</th><th>expect</th><th>events</th><th>observers</th><th>first p50</th><th>everywhere p50</th><th>everywhere p99</th><th>everywhere max</th><th>per-node p50</th><th>per-node p99</th><th>missed</th></tr>
${rows}</table>
<table><caption>Run</caption>
<tr><td>world set-up</td><td>${sec(r.setup.worldMs)}</td></tr>
<tr><td>all daemons answering</td><td>${sec(r.setup.daemonsUpMs)}</td></tr>
<tr><td>full mesh (from run start)</td><td>${sec(r.setup.fullMeshMs)}</td></tr>
<tr><td>join to full mesh</td><td>${sec(r.setup.joinToFullMeshMs)}</td></tr>
<tr><td>false removals after the mesh formed / during the join</td><td>${r.falseRemovals.afterJoin} / ${r.falseRemovals.duringJoin}</td></tr>
<tr><td>all pairs reachable at the end (of them only on a retry)</td><td>${r.reachability.final.ok} / ${r.reachability.final.total} (${r.reachability.final.lateOk})</td></tr>
<tr><td>memory per node (p50)</td><td>daemon ${mb(m.daemonP50)} + wireguard-go ${mb(m.wireguardP50)} = ${mb(m.totalP50)}</td></tr>
<tr><td>machine memory per node</td><td>${mb(r.resources.machinePerNodeKb)}</td></tr>
<tr><td>controller RSS max</td><td>${mb(r.resources.controllerRssKbMax)}</td></tr>
</table>
<table><caption>Phases</caption><tr><th>at</th><th>phase</th></tr>${phases}</table>
${notes === '' ? '' : `<h3>Notes</h3><ul>${notes}</ul>`}`
}

const PAGE_SCRIPT = `
const D = JSON.parse(document.getElementById('data').textContent);
const palette = ['#1f77b4','#d62728','#2ca02c','#ff7f0e','#9467bd','#8c564b','#e377c2','#17becf','#7f7f7f'];
Chart.defaults.animation = false;
new Chart(document.getElementById('cdf'), { type: 'line', data: { datasets: Object.entries(D.cdf).map(([k, pts], i) => ({
  label: k, data: pts.map(([x, y]) => ({ x: x / 1000, y })), borderColor: palette[i % palette.length], pointRadius: 0, stepped: true })) },
  options: { parsing: false, scales: { x: { type: 'linear', title: { display: true, text: 'seconds from the event until a live node removed / added the peer' } },
    y: { min: 0, max: 1, title: { display: true, text: 'fraction of (event, node) pairs' } } } } });
new Chart(document.getElementById('reach'), { type: 'line', data: { datasets: [{ label: 'sampled pairs that answered', borderColor: palette[0],
  data: D.reach.map(([t, f]) => ({ x: t / 1000, y: f })), pointRadius: 1 }] },
  options: { parsing: false, scales: { x: { type: 'linear', title: { display: true, text: 'run time (s)' } }, y: { min: 0, max: 1 } } } });
const color = v => v < 0 ? 'rgba(160,160,160,0.6)' : v >= 0.999 ? 'rgba(44,160,44,0.9)' : 'rgba(' + Math.round(214) + ',' + Math.round(39 + 180 * v) + ',40,0.9)';
new Chart(document.getElementById('health'), { type: 'scatter', data: { datasets: [{ label: 'node health', data: D.health.map(([t, n, v]) => ({ x: t / 1000, y: n, v })),
  pointStyle: 'rect', pointRadius: Math.max(1.5, Math.min(4, 300 / D.nodes)), backgroundColor: ctx => color(ctx.raw ? ctx.raw.v : 1), borderWidth: 0 }] },
  options: { parsing: false, plugins: { legend: { display: false }, tooltip: { callbacks: { label: c => 'node ' + c.raw.y + ' at ' + c.raw.x.toFixed(1) + ' s: ' + (c.raw.v < 0 ? 'down on purpose' : Math.round(c.raw.v * 100) + '% of the right peers') } } },
    scales: { x: { type: 'linear', title: { display: true, text: 'run time (s)' } }, y: { reverse: true, min: -0.5, max: D.nodes - 0.5, title: { display: true, text: 'node' } } } } });
new Chart(document.getElementById('mem'), { type: 'line', data: { datasets: [
  { label: 'daemon RSS p50 (MB)', borderColor: palette[0], data: D.memory.map(r => ({ x: r[0] / 1000, y: r[1] })) },
  { label: 'wireguard-go RSS p50 (MB)', borderColor: palette[2], data: D.memory.map(r => ({ x: r[0] / 1000, y: r[2] })) },
  { label: 'controller RSS (MB)', borderColor: palette[1], data: D.memory.map(r => ({ x: r[0] / 1000, y: r[3] })) }] },
  options: { parsing: false, scales: { x: { type: 'linear', title: { display: true, text: 'run time (s)' } }, y: { min: 0 } } } });
new Chart(document.getElementById('cpu'), { type: 'line', data: { datasets: [
  { label: 'machine busy', borderColor: palette[8], data: D.cpu.map(r => ({ x: r[0] / 1000, y: r[4] })) },
  { label: 'daemons', borderColor: palette[0], data: D.cpu.map(r => ({ x: r[0] / 1000, y: r[1] })) },
  { label: 'wireguard-go', borderColor: palette[2], data: D.cpu.map(r => ({ x: r[0] / 1000, y: r[2] })) },
  { label: 'controller', borderColor: palette[1], data: D.cpu.map(r => ({ x: r[0] / 1000, y: r[3] })) }] },
  options: { parsing: false, scales: { x: { type: 'linear', title: { display: true, text: 'run time (s)' } },
    y: { min: 0, suggestedMax: 100 * D.cores, title: { display: true, text: '% of one core (' + D.cores + ' cores = ' + 100 * D.cores + ')' } } } } });
`

/** Renders the whole report page. */
export function renderHtml (r: Report): string {
  const p = r.params
  const title = `weft sim run: ${p.scenario}, ${p.nodes} nodes, seed ${p.seed}`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222 }
table { border-collapse: collapse; margin: 1em 0 } td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: right }
td:first-child, th:first-child { text-align: left } caption { text-align: left; font-weight: 600; padding: 4px 0 }
.plot { position: relative; height: 360px; margin: 1em 0 2em } .tall { height: ${Math.min(900, Math.max(300, p.nodes * 6))}px }
</style></head><body>
<h1>${esc(title)}</h1>
<p>${esc(p.scenarioSummary)}. Started ${esc(r.startedAt)}, ${(r.durationMs / 1000).toFixed(1)} s. Machine: ${r.machine.cores} cores,
${r.machine.memTotalMb} MB, Linux ${esc(r.machine.kernel)}, Node ${esc(r.machine.node)}. Every figure is in report.json beside this file.</p>
${tables(r)}
<h2>Detection and convergence (CDF)</h2>
<p>For every event and every live node: time from the event (kill, drop, partition, restart, heal, daemon start) until that node's
WireGuard device, read from outside through UAPI, no longer had (or had again) the peer.</p>
<div class="plot"><canvas id="cdf"></canvas></div>
<h2>Reachable pairs over time</h2>
<p>Each second a random sample of pairs that should reach each other pings over the mesh IPs.</p>
<div class="plot"><canvas id="reach"></canvas></div>
<h2>Per-node health</h2>
<p>Green: the node's device holds exactly the peers it should. Red to yellow: fraction right (Jaccard). Grey: down on purpose.</p>
<div class="plot tall"><canvas id="health"></canvas></div>
<h2>Memory</h2>
<div class="plot"><canvas id="mem"></canvas></div>
<h2>CPU</h2>
<p>Sums over the group, sampled every 5 s from the first daemon's start. What the groups leave of the machine's busy time is the kernel's
packet work (veth, bridge, tun), the harness and anything else on the host.</p>
<div class="plot"><canvas id="cpu"></canvas></div>
<script type="application/json" id="data">${scriptJson(plotData(r))}</script>
<script>${chartJsSource()}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`
}
