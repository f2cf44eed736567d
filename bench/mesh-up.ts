/**
 * The mesh's start-up figures on real daemons: time from `weft daemon` start to all-pairs ping, and each daemon's RSS and
 * CPU once the mesh idles. Prints figures (a table and a JSON line); never passes or fails.
 *
 *   node dist/bench/mesh-up.js [N ...]      (default: 5 50)   --idle 30  (seconds of idle sampling)
 *                              [--node-flags "--max-semi-space-size=1 ..."]  (V8 flags for every daemon)
 *                              [--daemon-args "--swim-preset lan"]  (extra `weft daemon` flags)
 */
import { Mesh, waitFor } from '../sim/cluster.js'
import { pool } from '../sim/pool.js'
import { checkPairs } from '../sim/run/reach.js'
import { readProc } from '../sim/run/resources.js'
import { wireguardPidsByIface } from '../sim/run/procscan.js'

const args = process.argv.slice(2)
const valueOf = (flag: string): string | undefined => { const i = args.indexOf(flag); return i >= 0 ? args[i + 1] : undefined }
const idleS = Number(valueOf('--idle') ?? 30)
const nodeFlags = (valueOf('--node-flags') ?? '').split(' ').filter(f => f !== '')
const daemonArgs = (valueOf('--daemon-args') ?? '').split(' ').filter(f => f !== '')
const flagValues = new Set([valueOf('--idle'), valueOf('--node-flags'), valueOf('--daemon-args')])
const sizes = args.filter(a => !a.startsWith('--') && !flagValues.has(a)).map(Number).filter(n => Number.isInteger(n) && n > 1)
const runs = sizes.length > 0 ? sizes : [5, 50]
/** RSS in bytes and CPU seconds (user+system) of `pid`. */
function usage (pid: number): { rss: number, cpu: number } {
  const r = readProc(pid)
  if (r === null) throw new Error(`process ${pid} is gone`)
  return { rss: r.rssKb * 1024, cpu: r.cpuMs / 1000 }
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]! }
const mib = (b: number): string => (b / 1048576).toFixed(1)

for (const n of runs) {
  const mesh = await Mesh.create(n, { daemonNodeFlags: nodeFlags })
  try {
    const nodes = Array.from({ length: n }, (_, i) => i)
    await mesh.token()
    const t0 = Date.now()
    for (const i of nodes) await mesh.startDaemon(i, { extra: ['--log-level', 'info', ...daemonArgs] })
    const ips: string[] = []
    await waitFor('every daemon to answer', async () => {
      await pool(nodes.filter(i => ips[i] === undefined), 8, async i => { const s = await mesh.tryStatus(i); if (s !== null) ips[i] = s.node.meshIp })
      return nodes.every(i => ips[i] !== undefined)
    }, 300_000, 250)
    const tUp = Date.now()
    await waitFor('a full mesh', async () => (await Promise.all(nodes.map(async i => (await mesh.wgPeers(i)).length === n - 1))).every(Boolean), 300_000, 250)
    const tMesh = Date.now()
    // One namespace entry per source pinging all its targets (sim/run/reach.ts): N process spawns per pass
    // instead of N*(N-1). Only the pairs that failed are tried again.
    let pairs: Array<[number, number]> = nodes.flatMap(i => nodes.filter(j => j !== i).map(j => [i, j] as [number, number]))
    await waitFor('all pairs to ping', async () => {
      pairs = await checkPairs(mesh.world, i => mesh.ns(i), i => ips[i], pairs, 4)
      return pairs.length === 0
    }, 300_000, 500)
    const tPing = Date.now()
    const pids = nodes.map(i => mesh.daemons.get(i)!.pid!)
    const wgByIf = wireguardPidsByIface(new Set(nodes.map(i => mesh.ifname(i))))
    const wgPids = nodes.map(i => wgByIf.get(mesh.ifname(i))?.[0]).filter((p): p is number => p !== undefined)
    const before = pids.map(usage)
    const wgBefore = wgPids.map(usage)
    await new Promise(resolve => setTimeout(resolve, idleS * 1000))
    const after = pids.map(usage)
    const wgAfter = wgPids.map(usage)
    const rss = after.map(u => u.rss)
    const cpuPct = after.map((u, k) => 100 * (u.cpu - before[k]!.cpu) / idleS)
    const wgCpuPct = wgAfter.map((u, k) => 100 * (u.cpu - wgBefore[k]!.cpu) / idleS)
    const fig = {
      bench: 'mesh-up',
      nodes: n,
      startToAllAnsweringMs: tUp - t0,
      startToFullMeshMs: tMesh - t0,
      startToAllPairsPingMs: tPing - t0,
      pairsPinged: n * (n - 1),
      daemonRssMiB: { median: Number(mib(median(rss))), max: Number(mib(Math.max(...rss))) },
      daemonIdleCpuPct: { median: Number(median(cpuPct).toFixed(2)), max: Number(Math.max(...cpuPct).toFixed(2)) },
      wireguardGoIdleCpuPct: { median: Number(median(wgCpuPct).toFixed(2)), max: Number(Math.max(...wgCpuPct).toFixed(2)) },
      daemonCpuSecondsToMesh: { median: Number(median(before.map(u => u.cpu)).toFixed(2)), max: Number(Math.max(...before.map(u => u.cpu)).toFixed(2)) },
      idleSeconds: idleS,
      daemonNodeFlags: nodeFlags,
      daemonArgs
    }
    console.log(`N=${n}: start->all answering ${fig.startToAllAnsweringMs} ms, ->full mesh ` +
      `${fig.startToFullMeshMs} ms, ->all ${fig.pairsPinged} pairs ping ${fig.startToAllPairsPingMs} ms`)
    console.log(`N=${n}: daemon RSS median ${fig.daemonRssMiB.median} MiB (max ${fig.daemonRssMiB.max}), idle CPU median ` +
      `${fig.daemonIdleCpuPct.median}% of a core (max ${fig.daemonIdleCpuPct.max}%) over ${idleS} s`)
    console.log(`N=${n}: wireguard-go idle CPU median ${fig.wireguardGoIdleCpuPct.median}% (max ${fig.wireguardGoIdleCpuPct.max}%); daemon CPU from start ` +
      `to all pairs pinging median ${fig.daemonCpuSecondsToMesh.median} s`)
    console.log(JSON.stringify(fig))
  } finally {
    // SIGTERM first, so daemons run with --cpu-prof write their profiles.
    await Promise.all(Array.from({ length: n }, async (_, i) => await mesh.stopDaemon(i).catch(() => {})))
    await mesh.destroy()
  }
}
