/**
 * deploy/: the Grafana dashboard and the Prometheus alert rules use exactly the metric names Weft exports, and
 * the rules pass `promtool check rules` and their unit tests (`promtool test rules`); docs/metrics.md
 * documents every exported metric with its type and labels.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { exportedMetrics, exportedNames } from '../exported-metrics.js'

const run = promisify(execFile)
const ROOT = process.cwd()
const RULES = join(ROOT, 'deploy/prometheus/weft-alerts.yml')
const RULE_TESTS = join(ROOT, 'deploy/prometheus/weft-alerts.test.yml')
const DASHBOARD = join(ROOT, 'deploy/grafana/weft.json')
const DOC = join(ROOT, 'docs/metrics.md')
/** Metric names Prometheus makes itself. */
const PROMETHEUS_OWN = new Set(['up'])

/** Metric names in a PromQL expression: identifiers of Weft's and the process families, and Prometheus' own. */
function metricsIn (expr: string): string[] {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')
  // A label matcher (`name="..."`, `!=`, `=~`, `!~`) is not a metric.
  return [...noStrings.matchAll(/\b((?:weft|process|nodejs)_[a-z0-9_]+|up)\b(?!\s*(?:=|!=|=~|!~)\s*")/g)].map(m => m[1]!)
}

t.test('metric names are found in PromQL, label names and strings are not', async (t) => {
  t.same(metricsIn('rate(weft_x_total{state="weft_y",instance=~"$i"}[5m]) and on (peer_id) up == 0'), ['weft_x_total', 'up'])
})

t.test('the alert rules name only exported metrics, and cover node down, mesh-lost, control-lost and stale handshakes', async (t) => {
  const text = readFileSync(RULES, 'utf8')
  // The rules keep each expr on one line so that this test reads them without a YAML parser; promtool reads them properly below.
  const exprs = [...text.matchAll(/^\s+expr: (.+)$/gm)].map(m => m[1]!)
  const alerts = [...text.matchAll(/^\s+- alert: (\S+)$/gm)].map(m => m[1]!)
  t.equal(exprs.length, alerts.length, 'one single-line expr per alert')
  const exported = exportedNames()
  const unknown = exprs.flatMap(metricsIn).filter(n => !exported.has(n) && !PROMETHEUS_OWN.has(n))
  t.same(unknown, [], 'every metric in the rules is exported')
  for (const a of ['WeftNodeDown', 'WeftNodesMeshLost', 'WeftNodesControlLost', 'WeftDaemonControlLinkLost', 'WeftHandshakeStale']) t.ok(alerts.includes(a), a)
})

t.test('promtool accepts the rules and their unit tests pass', async (t) => {
  const check = await run('promtool', ['check', 'rules', RULES])
  t.match(check.stdout, /SUCCESS: \d+ rules found/)
  const unit = await run('promtool', ['test', 'rules', RULE_TESTS])
  t.match(unit.stdout, /SUCCESS/)
})

t.test('the Grafana dashboard is valid JSON whose queries name only exported metrics', async (t) => {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: Array<{ title: string, type: string, targets?: Array<{ expr: string }> }>
    templating: { list: Array<{ query: unknown }> }
  }
  const exprs = dash.panels.flatMap(p => (p.targets ?? []).map(x => x.expr))
  t.ok(exprs.length >= 20, `${exprs.length} queries`)
  const vars = dash.templating.list.map(v => typeof v.query === 'string' ? v.query : (v.query as { query: string }).query)
  const exported = exportedNames()
  const unknown = [...exprs, ...vars].flatMap(metricsIn).filter(n => !exported.has(n) && !PROMETHEUS_OWN.has(n))
  t.same(unknown, [], 'every metric in the dashboard is exported')
  for (const key of ['weft_nodes', 'weft_swim_members', 'weft_peer_last_handshake_age_seconds', 'weft_control_link_state', 'weft_reconcile_errors_total']) {
    t.ok(exprs.some(e => e.includes(key)), `a panel shows ${key}`)
  }
})

t.test('docs/metrics.md has a row for every exported metric, with its type and labels', async (t) => {
  const rows = new Map<string, { type: string, labels: string[] }>()
  for (const m of readFileSync(DOC, 'utf8').matchAll(/^\| `([a-z_]+)` \| (\w+) \|([^|]*)\|/gm)) {
    rows.set(m[1]!, { type: m[2]!, labels: [...m[3]!.matchAll(/`([a-z_]+)`/g)].map(l => l[1]!) })
  }
  for (const e of exportedMetrics()) {
    const row = rows.get(e.name)
    t.ok(row !== undefined, `${e.name} is documented`)
    if (row === undefined) continue
    t.equal(row.type, e.type, `${e.name}: type`)
    t.same([...row.labels].sort(), [...e.labelNames].sort(), `${e.name}: labels`)
  }
  const exported = new Set(exportedMetrics().map(e => e.name))
  t.same([...rows.keys()].filter(n => !exported.has(n)), [], 'no row for a metric that is not exported')
})
