/**
 * Subnet-router failover on real daemons: two routers for one LAN (192.0.2.0/24, a host at 192.0.2.10), every
 * other node a client probing the LAN host every 100 ms (`ping -i 0.1`). The primary router's host is killed
 * (daemon and wireguard-go, kill -9) with the controller up, brought back, then killed again with the
 * controller stopped. Prints, per kill: time until each client's probes are answered again (p50/p99/max),
 * probes lost per client, and after the return the primary changes each client made (1 = moved back once,
 * more = flapping). Prints figures; never passes or fails.
 *
 *   node dist/bench/route-failover.js [N ...]      (default: 20)
 */
import type { ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { Mesh, waitFor } from '../sim/cluster.js'
import { pool } from '../sim/pool.js'

const LAN = '192.0.2.0/24'
const LAN_HOST = '192.0.2.10'
const [R0, R1] = [0, 1]
/** The daemon's default --route-hold-down. */
const HOLD_DOWN_MS = 10_000
const sizes = process.argv.slice(2).map(Number).filter(n => Number.isInteger(n) && n >= 3)

/** When each answered probe of one client was sent (reply time less round trip, ms since epoch), and its sequence number. */
interface Probe { child: ChildProcess, replies: Array<{ sentAt: number, seq: number }> }

function probe (mesh: Mesh, i: number): Probe {
  const child = mesh.world.spawn(mesh.ns(i), ['ping', '-D', '-n', '-i', '0.1', '-W', '1', LAN_HOST], { stdio: ['ignore', 'pipe', 'ignore'], name: `probe${i}` })
  const p: Probe = { child, replies: [] }
  createInterface({ input: child.stdout! }).on('line', line => {
    const m = /^\[(\d+\.\d+)\] \d+ bytes from [\d.]+: icmp_seq=(\d+) ttl=\d+ time=([\d.]+) ms/.exec(line)
    if (m !== null) p.replies.push({ sentAt: Math.round(Number(m[1]) * 1000 - Number(m[3])), seq: Number(m[2]) })
  })
  return p
}

/** Whether node `i`'s WireGuard sends LAN traffic to the peer `key`. */
async function lanVia (mesh: Mesh, i: number, key: string): Promise<boolean> {
  const out = (await mesh.world.exec(mesh.ns(i), ['wg', 'show', mesh.ifname(i), 'allowed-ips'])).stdout
  return out.split('\n').some(l => l.startsWith(key) && l.split(/\s+/).includes(LAN))
}

/** Waits until every client sends the LAN to router 0 (a join's false suspicions may have moved it for a hold-down). */
async function onRouter0 (mesh: Mesh, clients: number[]): Promise<void> {
  const key = (await mesh.status(R0)).node.publicKey
  await waitFor('every client to route the LAN through router 0', async () => {
    let all = true
    await pool(clients, 8, async i => { if (!await lanVia(mesh, i, key)) all = false })
    return all
  }, 180_000, 1000)
}

const pct = (xs: number[], q: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]! }

/** Per client: ms from `t` to the sending of its first probe after `t` that was answered, and the probes lost in between. */
function outage (probes: Map<number, Probe>, t: number): { restoreMs: number[], lost: number[], missing: number } {
  const restoreMs: number[] = []
  const lost: number[] = []
  let missing = 0
  for (const p of probes.values()) {
    const before = p.replies.filter(r => r.sentAt < t).pop()
    const after = p.replies.find(r => r.sentAt > t)
    if (after === undefined) { missing++; continue }
    restoreMs.push(after.sentAt - t)
    lost.push(before === undefined ? 0 : after.seq - before.seq - 1)
  }
  return { restoreMs, lost, missing }
}

async function kill (mesh: Mesh, probes: Map<number, Probe>, label: string): Promise<Record<string, unknown>> {
  // The host loses power: its wireguard-go first (the data plane ends at t), then its daemon.
  const wg = mesh.wireguardPids(R0)
  const t = Date.now()
  for (const pid of wg) process.kill(pid, 'SIGKILL')
  await mesh.stopDaemon(R0, 'SIGKILL')
  await waitFor(`every client answered after the ${label} kill`, () => [...probes.values()].every(p => p.replies.some(r => r.sentAt > t)), 60_000, 100)
    .catch(() => 0)
  const o = outage(probes, t)
  const fig = {
    kill: label,
    clients: probes.size,
    restoreMs: { p50: pct(o.restoreMs, 0.5), p99: pct(o.restoreMs, 0.99), max: Math.max(...o.restoreMs) },
    probesLost: { p50: pct(o.lost, 0.5), max: Math.max(...o.lost), total: o.lost.reduce((a, b) => a + b, 0) },
    neverRestored: o.missing
  }
  console.log(`  ${label}: LAN answered again after p50 ${fig.restoreMs.p50} ms, p99 ${fig.restoreMs.p99} ms, max ${fig.restoreMs.max} ms; ` +
    `probes lost per client p50 ${fig.probesLost.p50}, max ${fig.probesLost.max}; ${o.missing} never answered`)
  return fig
}

for (const n of sizes.length > 0 ? sizes : [20]) {
  const mesh = await Mesh.create(n, { daemonLogLevel: 'info' })
  const probes = new Map<number, Probe>()
  try {
    await mesh.world.addLan(0, `${LAN_HOST}/24`, [{ node: R0, addr: '192.0.2.1/24' }, { node: R1, addr: '192.0.2.2/24' }])
    const nodes = Array.from({ length: n }, (_, i) => i)
    const clients = nodes.filter(i => i !== R0 && i !== R1)
    const extra = (i: number): string[] => i === R0 ? ['--advertise-routes', LAN, '--route-priority', '10'] : i === R1 ? ['--advertise-routes', LAN] : []
    await mesh.token()
    for (const i of nodes) await mesh.startDaemon(i, { extra: extra(i) })
    await waitFor('a full mesh', async () => (await Promise.all(nodes.map(async i => (await mesh.wgPeers(i)).length === n - 1))).every(Boolean), 600_000, 500)
    await mesh.admin('routes', 'approve', 'node-0', LAN)
    await mesh.admin('routes', 'approve', 'node-1', LAN)
    await waitFor('every client to reach the LAN', async () => {
      let all = true
      await pool(clients, 8, async i => { if (!await mesh.ping(i, LAN_HOST)) all = false })
      return all
    }, 120_000, 500)
    await onRouter0(mesh, clients)
    for (const i of clients) probes.set(i, probe(mesh, i))
    await new Promise(resolve => setTimeout(resolve, 3000))
    console.log(`N=${n}: ${clients.length} clients probing ${LAN_HOST} every 100 ms through router 0 (priority 10), router 1 standing by`)
    const up = await kill(mesh, probes, 'controller up')

    const before = new Map(clients.map(i => [i, mesh.events(`n${i}`, 'routes.primary').length]))
    await mesh.startDaemon(R0, { join: false, extra: extra(R0) })
    await new Promise(resolve => setTimeout(resolve, HOLD_DOWN_MS + 15_000))
    const changes = clients.map(i => mesh.events(`n${i}`, 'routes.primary').length - before.get(i)!)
    const flaps = changes.reduce((a, c) => a + Math.max(0, c - 1), 0)
    const seen = [...new Set(changes)].sort().join('/')
    console.log(`  return: primary changes per client after router 0 came back: ${seen} (flaps beyond the one move back: ${flaps})`)

    await onRouter0(mesh, clients)
    await mesh.stopController()
    await new Promise(resolve => setTimeout(resolve, 2000))
    const down = await kill(mesh, probes, 'controller down')
    console.log(JSON.stringify({ bench: 'route-failover', nodes: n, controllerUp: up, controllerDown: down, returnChanges: changes, flaps }))
  } catch (err) {
    // What the returning router said is what a failed run needs first.
    const tail = readFileSync(mesh.logFile(`n${R0}`), 'utf8').trimEnd().split('\n').slice(-15).join('\n')
    process.stderr.write(`router 0's log, last lines:\n${tail}\n`)
    throw err
  } finally {
    for (const p of probes.values()) p.child.kill()
    await mesh.destroy()
  }
}
