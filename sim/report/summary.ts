/** The short summary `weft sim run` prints at the end: set-up, one row per event kind, false removals, reachability, memory. */
import type { Report } from './build.js'
import type { Stats } from './analyze.js'
import { describeDaemonRun } from '../run/density.js'

function sec (ms: number | null): string {
  if (ms === null) return '-'
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)}s` : `${(ms / 1000).toFixed(1)}s`
}

function mb (kb: number): string {
  return `${(kb / 1024).toFixed(1)} MB`
}

function table (header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]!.length)))
  const line = (cells: string[]): string => '  ' + cells.map((c, i) => i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!)).join('  ')
  return [line(header), ...rows.map(line)].join('\n') + '\n'
}

const trio = (s: Stats): string[] => [sec(s.p50), sec(s.p99), sec(s.max)]

/** Renders the terminal summary of `r`. */
export function formatSummary (r: Report, files: { json: string, html: string }): string {
  const p = r.params
  const out: string[] = []
  out.push(`weft sim run: scenario ${p.scenario}, ${p.nodes} nodes, seed ${p.seed}, ${sec(r.durationMs)} in all ` +
    `(load average ${r.machine.loadAvg.start} -> ${r.machine.loadAvg.end} on ${r.machine.cores} cores)\n`)
  const flat = p.autogroup === 'disabled' || p.autogroup === 'off'
  const run = describeDaemonRun(p.daemonArgs, p.daemonEnv, p.daemonNice)
  if (run !== '' || flat) out.push(`daemons: ${run === '' ? 'Weft\'s defaults' : run}${flat ? ', autogroup off' : ''}\n`)
  out.push(`set-up: world ${sec(r.setup.worldMs)}, all daemons answering ${sec(r.setup.daemonsUpMs)}, full mesh ${sec(r.setup.fullMeshMs)} ` +
    `(join to full mesh ${sec(r.setup.joinToFullMeshMs)})\n`)
  const c = r.setup.cpuS
  out.push(`set-up CPU: machine ${c.machine} s = daemons ${c.daemons} + wireguard-go ${c.wireguard} + controller ` +
    `${c.controller} + harness ${c.harness} + kernel and other ${Math.round((c.machine - c.daemons - c.wireguard - c.controller - c.harness) * 10) / 10} s\n\n`)
  const rows = r.events.map(k => [
    k.kind,
    k.expect === 'removed' ? 'removal' : 'addition',
    String(k.events),
    sec(k.first.p50),
    ...trio(k.last),
    String(k.missed)
  ])
  out.push(table(['event', 'expect', 'events', 'first p50', 'everywhere p50', 'p99', 'max', 'missed'], rows))
  const pass = r.observer.passMs
  out.push('  (first = until the first live node reacted; everywhere = until the last one did; seen through UAPI every ' +
    `${p.tickMs} ms; one read of every device took p50 ${sec(pass.p50)}, max ${sec(pass.max)}; ${r.observer.readTimeouts} reads out of time)\n\n`)
  out.push(`false removals: ${r.falseRemovals.afterJoin} after the mesh formed, ${r.falseRemovals.duringJoin} during the join\n`)
  for (const h of r.heals) {
    out.push(`heal at ${sec(h.toMs)}: ${h.removalsAfterHeal} removals after it; every sampled pair answering ` +
      `${h.reachableMs === null ? 'never, by the end' : `${sec(h.reachableMs)} after it, and from then on`}\n`)
  }
  const f = r.reachability.final
  const minF = r.reachability.sampledMinFraction
  out.push(`reachability: all pairs at the end ${f.ok}/${f.total}${f.total > 0 ? ` (${(100 * f.ok / f.total).toFixed(1)}%)` : ''}` +
    `${f.lateOk > 0 ? ` (${f.lateOk} only on a retry, after their first pings were lost)` : ''}` +
    `${minF === null ? '' : `; lowest sampled during the run ${(100 * minF).toFixed(0)}%`}\n`)
  const m = r.resources.perNodeKb
  out.push(`memory per node: daemon ${mb(m.daemonP50)} (max ${mb(m.daemonMax)}) + wireguard-go ${mb(m.wireguardP50)} = ${mb(m.totalP50)} (p50); ` +
    (r.resources.machinePerNodeKb > 0 ? `machine MemAvailable drop ${mb(r.resources.machinePerNodeKb)}/node; ` : '') +
    `controller ${mb(r.resources.controllerRssKbMax)} max\n`)
  const l = r.logs.daemons
  out.push(`daemon logs: swim.suspect ${l['swim.suspect']}, swim.dead ${l['swim.dead']}, swim.refute ${l['swim.refute']}, wg.peer.remove ` +
    `${l['wg.peer.remove']}, wg.peer.error ${l['wg.peer.error']}\n`)
  for (const f of r.failover ?? []) {
    out.push(`route failover, ${f.kill}: ${f.clients} clients answered again after p50 ${sec(f.restoreMs.p50)}, p99 ${sec(f.restoreMs.p99)}, ` +
      `max ${sec(f.restoreMs.max)}; probes lost per client p50 ${f.probesLost.p50 ?? '-'}, max ${f.probesLost.max ?? '-'}; ` +
      `${f.neverRestored} never answered` +
      (f.afterReturn === null ? '' : `; after the return, primary changes per client ${f.afterReturn.changes.join('/')}, flaps ${f.afterReturn.flaps}`) + '\n')
  }
  for (const p of r.policy ?? []) {
    out.push(`access policy v${p.version} (${p.bytes} bytes): enforced on ${p.nodes - p.missing}/${p.nodes} nodes after p50 ${sec(p.enforceMs.p50)}, ` +
      `p99 ${sec(p.enforceMs.p99)}, max ${sec(p.enforceMs.max)}\n`)
  }
  for (const c of r.controllerFailover ?? []) {
    out.push(`${c.fault}: ${c.reconnectMs === null
? ''
: `daemons on another controller after p50 ${sec(c.reconnectMs.p50)}, p99 ${sec(c.reconnectMs.p99)}, ` +
      `max ${sec(c.reconnectMs.max)}; `}${c.writesBackMs === null ? '' : `writes accepted again after ${sec(c.writesBackMs)}; `}` +
      `${c.missing} of ${c.daemons} daemons ${c.reconnectMs === null ? 'lost their channel' : 'never moved'}\n`)
  }
  for (const n of r.notes) out.push(`note: ${n}\n`)
  out.push(`report: ${files.json}\n        ${files.html}\n`)
  if (r.runDir !== null) out.push(`logs kept in ${r.runDir} (n<i>.log, controller.log; read them with pino-pretty)\n`)
  return out.join('')
}
