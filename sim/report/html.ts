/**
 * report.html: one self-contained file (chart.js's UMD build inlined, the report's data embedded as JSON) so
 * it opens offline: the headline tables, then the charts of charts.ts.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { Report } from './build.js'
import { chartSpecs, type ChartSpec } from './charts.js'
import { timeMarks } from './marks.js'
import { MARK_COLOUR, PAGE_SCRIPT } from './page-script.js'

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

function sec (ms: number | null): string {
  return ms === null ? '-' : (ms / 1000).toFixed(2) + ' s'
}

/** Route failover rows (router-failover, exit-failover); nothing for other scenarios. */
function failoverTable (r: Report): string {
  const rows = (r.failover ?? []).map(f => `<tr><td>${esc(f.kill)}</td><td>${f.clients}</td><td>${sec(f.restoreMs.p50)}</td><td>${sec(f.restoreMs.p99)}</td>` +
    `<td>${sec(f.restoreMs.max)}</td><td>${f.probesLost.p50 ?? '-'} / ${f.probesLost.max ?? '-'}</td><td>${f.neverRestored}</td>` +
    `<td>${f.afterReturn === null ? '-' : `${f.afterReturn.changes.join('/')} (flaps ${f.afterReturn.flaps})`}</td></tr>`).join('\n')
  if (rows === '') return ''
  const head = ['kill', 'clients', 'restored p50', 'p99', 'max', 'probes lost p50 / max', 'never restored', 'primary changes after return']
  return `<table><caption>Route failover: from the kill of the primary to each client's first answered probe (100 ms probes)</caption>
<tr>${head.map(h => `<th>${h}</th>`).join('')}</tr>
${rows}</table>
`
}

/** Controller failover rows (controller-failover); nothing for other scenarios. */
function controllerTable (r: Report): string {
  const rows = (r.controllerFailover ?? []).map(c => `<tr><td>${esc(c.fault)}</td><td>${c.daemons}</td><td>${sec(c.reconnectMs?.p50 ?? null)}</td>` +
    `<td>${sec(c.reconnectMs?.p99 ?? null)}</td><td>${sec(c.reconnectMs?.max ?? null)}</td><td>${sec(c.writesBackMs)}</td>` +
    `<td>${c.missing}</td></tr>`).join('\n')
  if (rows === '') return ''
  const head = ['fault', 'daemons', 'on another controller p50', 'p99', 'max', 'writes back after', 'never moved / channel lost']
  return `<table><caption>Controller failover: from each kill</caption>
<tr>${head.map(h => `<th>${h}</th>`).join('')}</tr>
${rows}</table>
`
}

/** Access policy rows (policy-change); nothing for other scenarios. */
function policyTable (r: Report): string {
  const rows = (r.policy ?? []).map(p => `<tr><td>v${p.version}</td><td>${p.bytes}</td><td>${p.nodes}</td><td>${sec(p.enforceMs.p50)}</td>` +
    `<td>${sec(p.enforceMs.p99)}</td><td>${sec(p.enforceMs.max)}</td><td>${p.missing}</td></tr>`).join('\n')
  if (rows === '') return ''
  const head = ['policy', 'bytes', 'nodes', 'enforced p50', 'p99', 'max', 'missing']
  return `<table><caption>Access policy: from the controller accepting a version to each node enforcing it</caption>
<tr>${head.map(h => `<th>${h}</th>`).join('')}</tr>
${rows}</table>
`
}

function tables (r: Report): string {
  const rows = r.events.map(k => `<tr><td>${esc(k.kind)}</td><td>${k.expect}</td><td>${k.events}</td><td>${k.observers}</td>` +
    `<td>${sec(k.first.p50)}</td><td>${sec(k.last.p50)}</td><td>${sec(k.last.p99)}</td><td>${sec(k.last.max)}</td>` +
    `<td>${sec(k.all.p50)}</td><td>${sec(k.all.p99)}</td><td>${k.missed}</td></tr>`).join('\n')
  const m = r.resources.perNodeKb
  const mb = (kb: number): string => (kb / 1024).toFixed(1) + ' MB'
  const phases = r.phases.map(p => `<tr><td>${sec(p.fromMs)}</td><td>${esc(p.name)}</td></tr>`).join('')
  const notes = r.notes.map(n => `<li>${esc(n)}</li>`).join('')
  const head = ['event', 'expect', 'events', 'observers', 'first p50', 'everywhere p50', 'everywhere p99', 'everywhere max', 'per-node p50', 'per-node p99',
    'missed'].map(h => `<th>${h}</th>`).join('')
  const reach = r.reachability.final
  return `
<table><caption>Events (seen through UAPI every ${r.params.tickMs} ms)</caption>
<tr>${head}</tr>
${rows}</table>
<table><caption>Run</caption>
<tr><td>world set-up</td><td>${sec(r.setup.worldMs)}</td></tr>
<tr><td>all daemons answering</td><td>${sec(r.setup.daemonsUpMs)}</td></tr>
<tr><td>full mesh (from run start)</td><td>${sec(r.setup.fullMeshMs)}</td></tr>
<tr><td>join to full mesh</td><td>${sec(r.setup.joinToFullMeshMs)}</td></tr>
<tr><td>false removals after the mesh formed / during the join</td><td>${r.falseRemovals.afterJoin} / ${r.falseRemovals.duringJoin}</td></tr>
<tr><td>all pairs reachable at the end (of them only on a retry)</td><td>${reach.ok} / ${reach.total} (${reach.lateOk})</td></tr>
<tr><td>memory per node (p50)</td><td>daemon ${mb(m.daemonP50)} + wireguard-go ${mb(m.wireguardP50)} = ${mb(m.totalP50)}</td></tr>
<tr><td>machine memory per node</td><td>${mb(r.resources.machinePerNodeKb)}</td></tr>
<tr><td>controller RSS max</td><td>${mb(r.resources.controllerRssKbMax)}</td></tr>
</table>
${failoverTable(r)}${policyTable(r)}${controllerTable(r)}<table><caption>Phases</caption><tr><th>at</th><th>phase</th></tr>${phases}</table>
${notes === '' ? '' : `<h3>Notes</h3><ul>${notes}</ul>`}`
}

/** The faults table and the key to the lines every run-time chart draws. */
function marksSection (r: Report): string {
  const { marks } = timeMarks(r)
  const rows = marks.map(m => `<tr><td>${sec(m.tMs)}</td><td style="color: ${MARK_COLOUR[m.kind]}">${esc(m.label)}</td></tr>`).join('')
  return `<table><caption>Faults and milestones</caption><tr><th>at</th><th>what</th></tr>${rows}</table>
<p>Each is a vertical line on every chart over run time: <span style="color: ${MARK_COLOUR.fault}">solid line: a fault injected</span>;
<span style="color: ${MARK_COLOUR.recovery}">dashed: its end</span>; <span style="color: ${MARK_COLOUR.milestone}">dotted: a milestone</span>;
shaded: a partition, loss or controller outage in force.</p>`
}

function chartSection (s: ChartSpec): string {
  return `<h2>${esc(s.title)}</h2>\n${s.caption === '' ? '' : `<p>${esc(s.caption)}</p>\n`}` +
    `<div class="plot" style="height: ${s.heightPx}px"><canvas id="${esc(s.id)}"></canvas></div>`
}

/** Renders the whole report page. */
export function renderHtml (r: Report): string {
  const p = r.params
  const title = `weft sim run: ${p.scenario}, ${p.nodes} nodes, seed ${p.seed}`
  const specs = chartSpecs(r)
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222 }
table { border-collapse: collapse; margin: 1em 0 } td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: right }
td:first-child, th:first-child { text-align: left } caption { text-align: left; font-weight: 600; padding: 4px 0 }
.plot { position: relative; margin: 1em 0 2em }
</style></head><body>
<h1>${esc(title)}</h1>
<p>${esc(p.scenarioSummary)}. Started ${esc(r.startedAt)}, ${(r.durationMs / 1000).toFixed(1)} s. Machine: ${r.machine.cores} cores,
${r.machine.memTotalMb} MB, Linux ${esc(r.machine.kernel)}, Node ${esc(r.machine.node)}. Every figure is in report.json beside this file.</p>
${tables(r)}
${marksSection(r)}
${specs.map(chartSection).join('\n')}
<script type="application/json" id="data">${scriptJson(specs)}</script>
<script>${chartJsSource()}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`
}
