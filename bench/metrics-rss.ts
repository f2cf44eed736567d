/**
 * What the daemon's metrics endpoint costs in memory and CPU on real daemons: the same N-node mesh runs three
 * phases, each a restart of every daemon from its state directory (the interface is adopted): without
 * --metrics-listen, with it and every daemon scraped every --scrape-every seconds from the controller's
 * namespace, and without it again (to see drift between phases). Each phase idles --idle seconds after SWIM
 * sees everyone alive, sampling every daemon's RSS every 5 s; the figure is the median of the second half of
 * the samples over all daemons. Prints figures (a table and a JSON line); never passes or fails.
 *
 *   node dist/bench/metrics-rss.js [N]   (default 5)   --idle 60   --scrape-every 5
 */
import { Mesh, waitFor } from '../sim/cluster.js'
import { readProc } from '../sim/run/resources.js'

const args = process.argv.slice(2)
const valueOf = (flag: string): string | undefined => { const i = args.indexOf(flag); return i >= 0 ? args[i + 1] : undefined }
const idleS = Number(valueOf('--idle') ?? 60)
const scrapeEveryS = Number(valueOf('--scrape-every') ?? 5)
const n = Number(args.find(a => /^\d+$/.test(a) && a !== valueOf('--idle') && a !== valueOf('--scrape-every')) ?? 5)
const PORT = 9586

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]! }
const mib = (b: number): number => Number((b / 1048576).toFixed(1))

const mesh = await Mesh.create(n)
const nodes = Array.from({ length: n }, (_, i) => i)
const phases: Array<{ phase: string, metrics: boolean, rssMiB: { median: number, max: number }, cpuPct: number, scrapes: number, scrapeBytes: number }> = []
try {
  for (const [k, metrics] of [false, true, false].entries()) {
    for (const i of nodes) {
      await mesh.startDaemon(i, {
        join: k === 0,
        extra: ['--log-level', 'info', ...(metrics ? ['--metrics-listen', `${mesh.world.names.nodeAddr(i)}:${PORT}`] : [])]
      })
    }
    await waitFor('SWIM to see everyone alive', async () => (await Promise.all(nodes.map(async i => {
      const s = await mesh.tryStatus(i)
      return s !== null && s.peers.length === n - 1 && s.peers.every(p => p.swim === 'alive' && p.inWireGuard)
    }))).every(Boolean), 120_000, 500)
    const pids = nodes.map(i => mesh.daemons.get(i)!.pid!)
    const cpu0 = pids.map(p => readProc(p)!.cpuMs)
    const samples: number[][] = []
    let scrapes = 0
    let scrapeBytes = 0
    const t0 = Date.now()
    let nextScrape = t0
    let nextSample = t0
    while (Date.now() - t0 < idleS * 1000) {
      if (metrics && Date.now() >= nextScrape) {
        nextScrape += scrapeEveryS * 1000
        const bodies = await Promise.all(nodes.map(async i => await mesh.httpGet(`http://${mesh.world.names.nodeAddr(i)}:${PORT}/metrics`)))
        scrapes += bodies.length
        scrapeBytes = bodies[0]!.length
      }
      if (Date.now() >= nextSample) {
        nextSample += 5000
        samples.push(pids.map(p => readProc(p)!.rssKb * 1024))
      }
      await new Promise(resolve => setTimeout(resolve, Math.max(0, Math.min(nextSample, metrics ? nextScrape : Infinity) - Date.now())))
    }
    const cpuPct = median(pids.map((p, j) => 100 * (readProc(p)!.cpuMs - cpu0[j]!) / (Date.now() - t0)))
    const late = samples.slice(Math.floor(samples.length / 2)).flat()
    phases.push({
      phase: `${k + 1}`,
      metrics,
      rssMiB: { median: mib(median(late)), max: mib(Math.max(...late)) },
      cpuPct: Number(cpuPct.toFixed(2)),
      scrapes,
      scrapeBytes
    })
    await Promise.all(nodes.map(async i => await mesh.stopDaemon(i, 'SIGTERM')))
  }
} finally {
  await mesh.destroy()
}
console.log(`daemon RSS and CPU at N=${n}, ${idleS} s idle per phase, scraped every ${scrapeEveryS} s when on`)
console.log('phase  metrics  RSS median  RSS max  CPU median  scrapes  bytes/scrape')
for (const p of phases) {
  const cells = [p.phase.padEnd(5), (p.metrics ? 'on' : 'off').padEnd(7), `${p.rssMiB.median} MiB`.padStart(10), `${p.rssMiB.max} MiB`.padStart(7),
    `${p.cpuPct} %`.padStart(10), String(p.scrapes).padStart(7), String(p.scrapeBytes).padStart(12)]
  console.log(cells.join('  '))
}
console.log(JSON.stringify({ bench: 'metrics-rss', nodes: n, idleSeconds: idleS, scrapeEverySeconds: scrapeEveryS, phases }))
