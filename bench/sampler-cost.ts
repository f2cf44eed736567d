/**
 * What `weft sim run`'s resource sampler costs at mesh sizes: N stand-in daemons and N stand-in wireguard-go
 * (`sleep` processes, whose /proc files read like any other) and a controller, sampled with a fake clock that
 * steps by the interval the sampler chooses (sim/run/samplers.ts resourceIntervalMs). Prints, per N, this
 * process's CPU per sample, the interval and the sampler's share of one core. Never passes or fails.
 *
 *   node dist/bench/sampler-cost.js [N ...]      (default: 10 50 200)   --samples 60
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { ResourceSampler, type SampledMesh } from '../sim/run/samplers.js'

const args = process.argv.slice(2)
const at = args.indexOf('--samples')
const samples = at >= 0 ? Number(args[at + 1]) : 60
const sizes = args.filter((a, i) => !a.startsWith('--') && (at < 0 || i !== at + 1)).map(Number).filter(n => Number.isInteger(n) && n > 0)
const runs = sizes.length > 0 ? sizes : [10, 50, 200]

const sleepers = (n: number): ChildProcess[] => Array.from({ length: n }, () => spawn('sleep', ['600'], { stdio: 'ignore' }))
const pids = (cs: readonly ChildProcess[]): number[] => cs.map(c => c.pid).filter((p): p is number => p !== undefined)

for (const n of runs) {
  const daemons = sleepers(n)
  const wg = sleepers(n)
  const [ctl] = sleepers(1)
  const mesh: SampledMesh = { daemonPids: () => pids(daemons), allWireguardPids: () => pids(wg), controller: ctl! }
  let now = 0
  const sampler = new ResourceSampler({ mesh, now: () => now })
  const before = process.cpuUsage()
  for (let k = 0; k < samples; k++) {
    await sampler.once()
    now += sampler.intervalMs()
  }
  const used = process.cpuUsage(before)
  const cpuMs = (used.user + used.system) / 1000
  console.log(`N=${n}: ${(cpuMs / samples).toFixed(2)} ms of CPU per sample (sampler's own count ${(sampler.cpuMs / samples).toFixed(2)} ms), ` +
    `one every ${(now / samples / 1000).toFixed(2)} s: ${(100 * cpuMs / now).toFixed(2)} % of one core`)
  for (const c of [...daemons, ...wg, ctl!]) c.kill('SIGKILL')
}
