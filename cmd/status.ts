import { join } from 'node:path'
import { systemClock } from '../lib/clock.js'
import { askLocal, SOCKET_NAME } from '../lib/daemon/control-socket.js'
import { DEFAULTS } from '../lib/daemon/config.js'
import type { DaemonStatus, PeerStatus } from '../lib/daemon/status.js'
import { formatAge, formatTable, parseFlags, type Command } from './cli.js'

const USAGE = `Usage: weft status [--state DIR] [--json]

Shows this node (id, mesh IP, interface, controller link, netmap version) and one row per peer, sorted
by hostname (mesh IP, endpoint, last handshake, rx/tx, SWIM state), as the running daemon sees them. A
peer that is not on the WireGuard device (WG no) shows its last known endpoint, handshake and traffic in
parentheses.

  --state DIR   the daemon's state directory (default ${DEFAULTS.stateDir}, or WEFT_STATE_DIR)
  --json        print the daemon's full status as JSON
`

/** Formats a byte count with binary units. */
function bytes (n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++ }
  return `${i === 0 ? v : v.toFixed(1)} ${u[i]}`
}

/** The human form of a DaemonStatus. */
export function renderStatus (s: DaemonStatus, now = Date.now()): string {
  const n = s.node
  const netmap = s.netmap === null
    ? 'none yet'
    : `version ${s.netmap.version} (epoch ${s.netmap.epoch.slice(0, 8)}), ${s.netmap.nodes} nodes, applied ${formatAge(s.netmap.appliedAt, now)}`
  const head = [
    `node        ${n.id} (${n.hostname})  ${n.meshIp}  on ${n.interface} [${n.driver}${n.adopted ? ', adopted' : ''}]  port ${n.listenPort}`,
    `controller  ${s.controller.url}  ${s.controller.state}  last contact ${formatAge(s.controller.lastContactAt, now)}` +
      (s.controller.urls.length > 1 ? `  (one of ${s.controller.urls.length}: ${s.controller.urls.join(', ')})` : ''),
    `netmap      ${netmap}`,
    `swim        ${s.swim === null ? 'not running' : `incarnation ${s.swim.incarnation}, local health ${s.swim.healthScore} (0 = healthy)`}`,
    `policy      ${renderPolicy(s.policy, now)}`,
    ...renderDns(s.dns)
  ]
  if (s.lastError !== null) head.push(`error       ${s.lastError}`)
  // Figures of a peer off the device are its last known ones, in parentheses (legend below the table).
  const mark = (p: PeerStatus, v: string): string => p.figures === 'last-known' ? `(${v})` : v
  const rows = s.peers.map(p => [
    p.hostname, p.dnsName ?? '-', p.id, p.meshIp, mark(p, p.endpoint ?? '-'), mark(p, p.lastHandshakeAt !== null ? formatAge(p.lastHandshakeAt, now) : 'never'),
    mark(p, bytes(p.rxBytes)), mark(p, bytes(p.txBytes)), p.swim ?? '-', p.health, p.inWireGuard ? 'yes' : 'no'
  ])
  const legend = s.peers.some(p => p.figures === 'last-known')
    ? '(...) last known: the peer is not on the WireGuard device; its figures as last read\n'
    : ''
  const table = formatTable(['HOSTNAME', 'NAME', 'ID', 'MESH IP', 'ENDPOINT', 'HANDSHAKE', 'RX', 'TX', 'SWIM', 'HEALTH', 'WG'], rows)
  return head.join('\n') + '\n\n' + table + legend + renderRoutes(s.routes)
}

/** The access filter in one line: the version enforced, its size and its drops. */
export function renderPolicy (p: DaemonStatus['policy'], now = Date.now()): string {
  const pending = p.pending !== null ? `; v${p.pending} not enforced: ${p.error ?? 'pending'}` : ''
  if (p.version === null) return `none: every flow is allowed${pending}`
  const drops = p.drops === null ? '' : `, ${p.drops.total} packets dropped`
  const what = p.version === 0 ? 'unreadable policy: only SWIM is let in' : `v${p.version} enforced`
  return `${what} since ${formatAge(p.appliedAt, now)} (${p.rules} rules, ${p.elements} set elements${drops})${pending}`
}

/**
 * The mesh resolver in two lines: where it answers and for what, then how the host is pointed at it (or why it
 * is not, with the command that asks the resolver directly).
 */
export function renderDns (d: DaemonStatus['dns']): string[] {
  if (!d.enabled) return ['dns         off (--accept-dns=false)']
  const what = d.domain === null ? 'no domain yet (a controller that predates names)' : `*.${d.domain} (${d.names} names)`
  const rest = !d.forward ? 'other names refused' : `other names forwarded to ${d.upstreams.join(', ') || 'nobody (no upstream)'}`
  const first = d.error !== null ? `not answering: ${d.error}` : `${d.listen ?? '-'} answers ${what}; ${rest}`
  const h = d.host
  const applied = h.applied === null
    ? ''
    : h.applied.interface !== null ? ` (on ${h.applied.interface}: ~${h.applied.domain})` : ` (${h.applied.file ?? ''})`
  const host = `${h.mode}: ${h.reason}${applied}${h.lastError !== null ? `; failed: ${h.lastError}` : ''}${h.hint !== null ? `; ask it: ${h.hint}` : ''}`
  return [`dns         ${first}`, `dns host    ${host}`]
}

/** The routes section of `weft status`: what this node advertises and which router carries each route it uses. */
export function renderRoutes (r: DaemonStatus['routes']): string {
  const lines: string[] = []
  if (r.advertised.length > 0) {
    lines.push(`advertises  ${r.advertised.map(a => `${a.route} (${a.enabled ? 'enabled' : 'awaiting approval: weft routes approve'})`).join(', ')}`)
  }
  if (r.advertisedExit !== null) {
    lines.push(`exit node   offered (${r.advertisedExit.enabled ? 'enabled' : 'awaiting approval: weft routes approve NODE exit'})`)
  }
  if (r.exit.mode !== 'none') {
    const lan = r.exit.allowLan ? 'LAN reachable' : 'LAN through the exit node too'
    lines.push(r.exit.via !== null
      ? `exit via    ${r.exit.via} (${r.exit.mode === 'auto' ? 'auto' : 'pinned'}; ${lan})`
      : `exit via    none: ${r.exit.reason ?? 'no exit node'}`)
  }
  if (r.used.length > 0 && !r.accept) lines.push(`routes      ${r.used.length} offered by other nodes, not used (--accept-routes=false)`)
  if (r.used.length > 0 && r.accept) {
    lines.push('', formatTable(['ROUTE', 'VIA', 'ROUTERS', 'KERNEL'],
      r.used.map(u => [u.route, u.primary ?? 'none alive: dropped', u.routers.join(','), u.kernel ? 'yes' : 'no'])).trimEnd())
  }
  return lines.length === 0 ? '' : '\n' + lines.join('\n') + '\n'
}

export const command: Command = {
  summary: 'show this node and its peers',
  async run (argv) {
    const parsed = parseFlags(argv, { state: { type: 'string' }, json: { type: 'boolean' } }, USAGE)
    if (parsed === null) return 0
    const dir = parsed.values.state ?? process.env.WEFT_STATE_DIR ?? DEFAULTS.stateDir
    const status = await askLocal<DaemonStatus>(join(dir, SOCKET_NAME), { cmd: 'status' }, systemClock)
    process.stdout.write(parsed.values.json === true ? JSON.stringify(status, null, 2) + '\n' : renderStatus(status))
    return 0
  }
}
