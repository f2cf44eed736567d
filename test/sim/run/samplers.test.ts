import t from 'tap'
import { ResourceSampler, reachSample, resourceIntervalMs } from '../../../sim/run/samplers.js'
import { Intent } from '../../../sim/run/intent.js'

/** A mesh whose one daemon is this process; `wg` is what a /proc scan for wireguard-go finds, `scans` counts the scans. */
function fakeMesh (): { daemonPids: () => number[], allWireguardPids: () => number[], controller: null, wg: number[], scans: number } {
  const m = {
    wg: [process.pid],
    scans: 0,
    controller: null,
    daemonPids: () => [process.pid],
    allWireguardPids: () => { m.scans++; return m.wg }
  }
  return m
}

/** A pid no process has (above the kernel's pid_max). */
const GONE = 4_194_305

t.test('the interval keeps the sampler under half a percent of a core, between 1 s and 5 s', async t => {
  const cases: Array<[number, number]> = [
    [0, 1000],
    [0.4, 1000],
    [5, 1000],
    [7, 1400],
    [14, 2800],
    [40, 5000]
  ]
  for (const [cpuMs, want] of cases) t.equal(resourceIntervalMs(cpuMs), want, `${cpuMs} ms of CPU per sample`)
})

t.test('a 20 s run at N=10 gets a sample a second', async t => {
  // One sample of 10 daemons, 10 wireguard-go and a controller, with a /proc scan every 10 s: about 1.2 ms of CPU.
  t.ok(20_000 / resourceIntervalMs(1.2) >= 20)
})

t.test('a sample taken within half an interval of the last is skipped: it would have no interval to measure CPU over', async t => {
  let now = 0
  const s = new ResourceSampler({ mesh: fakeMesh(), now: () => now })
  await s.once()
  now = 10
  await s.once()
  t.equal(s.samples.length, 1, 'the second, 10 ms later, is skipped')
  now = 1000
  await s.once()
  t.same(s.samples.map(x => x.tMs), [0, 1000])
  t.equal(s.samples[1]!.daemons.count, 1, 'this process read as the daemon')
})

t.test('the sampler counts its own CPU time', async t => {
  let now = 0
  const s = new ResourceSampler({ mesh: fakeMesh(), now: () => now })
  for (; now < 5000; now += 1000) await s.once()
  t.equal(s.samples.length, 5)
  t.ok(s.cpuMs > 0, `${s.cpuMs} ms in all`)
})

t.test('wireguard-go pids are looked for again when one is gone, and every 10 s, not at every sample', async t => {
  let now = 0
  const mesh = fakeMesh()
  const s = new ResourceSampler({ mesh, now: () => now })
  await s.once()
  t.equal(mesh.scans, 1, 'the first sample scans')
  for (now = 1000; now < 10_000; now += 1000) await s.once()
  t.equal(mesh.scans, 1, 'nine more samples with every pid alive: no scan')
  mesh.wg = [GONE]
  await s.once()
  t.equal(mesh.scans, 2, 'at 10 s it looks again')
  now += 1000
  await s.once()
  t.equal(mesh.scans, 3, 'the pid it found is gone by the next sample: it looks again at once')
})

t.test('a reachability sample counts only pairs that should have answered while their pings were out', async t => {
  const intent = new Intent(4)
  for (let i = 0; i < 4; i++) intent.started(i, 0)
  intent.goDown(3, 'crash', 1500)
  intent.partitions.push({ sides: [[0], [2]], fromMs: 2000, toMs: 3000 })
  const chosen: Array<[number, number]> = [[0, 1], [1, 0], [0, 3], [3, 1], [0, 2]]
  const cases: Array<[string, Array<[number, number]>, number, number, ReturnType<typeof reachSample>]> = [
    ['node-3 crashed and 0 | 2 were cut while the pings were out: those pairs do not count', [[0, 3], [3, 1], [0, 2]], 1000, 2500, {
      tMs: 1000,
      ok: 2,
      total: 2
    }],
    ['before any fault every pair counts', [[0, 1]], 0, 1000, { tMs: 0, ok: 4, total: 5 }],
    ['pairs that failed before the fault count as failed', [[1, 0], [0, 3]], 1000, 1400, { tMs: 1000, ok: 3, total: 5 }]
  ]
  for (const [name, failed, from, to, want] of cases) t.same(reachSample(intent, chosen, failed, from, to), want, name)
  t.equal(reachSample(intent, [[0, 3]], [[0, 3]], 1000, 2000), null, 'no pair left: no sample')
})
