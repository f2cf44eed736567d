/**
 * `weft sim run` end to end at N=8, as a user runs it (the compiled CLI as a child process), with
 * assertions on the report it writes: crashed nodes removed by every live node, no false removals once the
 * mesh has formed, a healed partition back to full reachability, and nothing of the run left behind.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WEFT } from '../../sim/cluster.js'
import { listNetns } from '../../sim/netns/cleanup.js'
import type { Report } from '../../sim/report/build.js'

const N = 8

async function simRun (args: string[]): Promise<{ code: number, stdout: string, report: Report, html: string }> {
  const out = await mkdtemp(join(tmpdir(), 'weft-simtest-'))
  t.teardown(async () => await rm(out, { recursive: true, force: true }))
  const { code, stdout } = await new Promise<{ code: number, stdout: string }>((resolve) => {
    execFile(process.execPath, [WEFT, 'sim', 'run', '--nodes', String(N), '--seed', '7', '--out', out, ...args],
      { timeout: 150_000, maxBuffer: 16 << 20 }, (err, stdout) => resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : -1), stdout }))
  })
  const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as Report
  const html = await readFile(join(out, 'report.html'), 'utf8')
  return { code, stdout, report, html }
}

t.test('crash: every crashed node is removed by every live node, nothing removed falsely, all pairs reachable after', async (t) => {
  const { code, stdout, report: r, html } = await simRun(['--scenario', 'crash', '--count', '2'])
  t.comment(stdout)
  t.equal(code, 0, 'exit code 0')
  t.equal(r.params.nodes, N)
  const join = r.events.find(k => k.kind === 'join')
  t.equal(join?.events, N, 'a join event per node')
  t.equal(join?.missed, 0, 'every node added every other node')
  const crashes = r.eventList.filter(e => e.kind === 'crash')
  t.equal(crashes.length, 2, 'two crash events')
  for (const e of crashes) {
    t.equal(e.observers, N - 2, `node ${e.target}: all ${N - 2} live nodes observed`)
    t.equal(e.missed, 0, `node ${e.target}: no live node kept it`)
    t.ok(e.lastMs !== null && e.lastMs > 0 && e.lastMs < 30_000, `node ${e.target}: removed everywhere after ${e.lastMs} ms`)
  }
  t.equal(r.falseRemovals.afterJoin, 0, 'no false removals after the mesh formed')
  t.equal(r.reachability.final.total, (N - 2) * (N - 3), 'every pair of live nodes checked')
  t.equal(r.reachability.final.ok, r.reachability.final.total, 'every live pair pings at the end')
  t.ok(r.resources.perNodeKb.daemonP50 > 10_000, 'daemon memory measured')
  t.ok(r.timeline.tMs.length > 10 && r.timeline.health.length === N, 'health timeline recorded')
  t.match(html, /<canvas id="cdf">/, 'report.html has the CDF plot')
  t.match(html, /Chart\.js v4/, 'chart.js is inlined')
  t.same(listNetns().filter(n => n.startsWith(r.prefix)), [], 'no namespace of the run is left')
  t.match(stdout, /crash\s+removal\s+2/, 'the summary table has the crash row')
})

t.test('partition: each side removes the other, the heal re-adds everyone and every pair pings', async (t) => {
  const { code, report: r } = await simRun(['--scenario', 'partition', '--duration', '8s'])
  t.equal(code, 0, 'exit code 0')
  const cut = r.eventList.filter(e => e.kind === 'partition')
  const heal = r.eventList.filter(e => e.kind === 'heal')
  t.equal(cut.length, N, 'every node is cut off from the other side')
  t.equal(heal.length, N, 'every node is healed back')
  for (const e of cut) t.equal(e.missed, 0, `node ${e.target} removed by the whole other side`)
  for (const e of heal) t.equal(e.missed, 0, `node ${e.target} re-added by the whole other side`)
  t.equal(r.falseRemovals.afterJoin, 0, 'no removal inside a side')
  t.equal(r.heals.length, 1)
  t.equal(r.heals[0]!.removalsAfterHeal, 0, 'no removal after the heal')
  t.not(r.heals[0]!.reachableMs, null, `every sampled pair answering again ${r.heals[0]!.reachableMs} ms after the heal`)
  t.equal(r.reachability.final.total, N * (N - 1), 'all pairs checked')
  t.equal(r.reachability.final.ok, N * (N - 1), 'full reachability after the heal')
})
