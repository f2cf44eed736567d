import { byHostname, type Netmap } from '../wire/netmap.js'
import type { MemberInfo, SwimStats } from '../swim/types.js'
import type { DaemonConfig } from './config.js'
import type { ControlLink } from './control-link.js'
import type { NodeIdentity } from './state.js'
import type { PeerHistory } from './peer-history.js'
import type { DaemonStatus, PeerStatus, RoutesStatus } from './status.js'
import type { DeviceState, WireGuardDevice } from './wg/device.js'
import type { RoutePrefs } from './prefs.js'
import type { ExitState } from './route-choice.js'

/** What buildStatus reads; all of it is owned by the daemon. */
export interface StatusInputs {
  identity: NodeIdentity
  hostname: string
  publicKey: string
  cfg: DaemonConfig
  device: WireGuardDevice
  deviceState: DeviceState | null
  /** Figures of peers as last read; consulted for peers that are off the device. */
  history: PeerHistory
  startedAt: number
  link: ControlLink | null
  netmap: Netmap | null
  netmapAppliedAt: number | null
  swim: { incarnation: number, healthScore: number, members (): MemberInfo[], stats (): SwimStats }
  counters: Record<string, number>
  lastError: string | null
  /** The access filter and its drops. */
  policy: DaemonStatus['policy']
  /** The mesh resolver and the host's wiring to it. */
  dns: DaemonStatus['dns']
  /** What DaemonRoutes knows: the preferences, which node carries each route, the kernel's routes, the exit node. */
  routes: { prefs: Readonly<RoutePrefs>, primaries: ReadonlyMap<string, string>, kernel: readonly string[], exit: ExitState }
}

/** Flattens SwimStats into `name: number` counters (drops under `dropped.<reason>`). */
export function flattenStats (s: SwimStats): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(s)) {
    if (typeof v === 'number') out[k] = v
    else for (const [r, n] of Object.entries(v as Record<string, number>)) out[`${k}.${r}`] = n
  }
  return out
}

function memory (): { rss: number, heapUsed: number, heapTotal: number, external: number, arrayBuffers: number } {
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers }
}

/**
 * Joins netmap, SWIM view and device state into the rows `weft status` prints, sorted by hostname. A peer off
 * the device shows the figures it had when last read (history), marked `last-known`. Pure.
 */
export function buildStatus (i: StatusInputs): DaemonStatus {
  const byKey = new Map((i.deviceState?.peers ?? []).map(p => [p.publicKey, p]))
  const swimById = new Map(i.swim.members().map(m => [m.id, m]))
  const peers = (i.netmap?.nodes ?? []).filter(n => n.id !== i.identity.nodeId).map((n): PeerStatus => {
    const dev = byKey.get(n.publicKey)
    const last = dev === undefined ? i.history.get(n.publicKey) : undefined
    const fig = dev ?? last
    const m = swimById.get(n.id)
    return {
      id: n.id,
      hostname: n.hostname,
      dnsName: n.name !== undefined && i.netmap?.dns !== undefined ? `${n.name}.${i.netmap.dns.domain}` : null,
      meshIp: n.meshIp,
      health: n.health,
      swim: m?.state ?? null,
      swimIncarnation: m?.incarnation ?? null,
      inWireGuard: dev !== undefined,
      endpoint: fig?.endpoint ?? null,
      lastHandshakeAt: fig === undefined || fig.lastHandshakeAt === 0 ? null : fig.lastHandshakeAt,
      rxBytes: fig?.rxBytes ?? 0,
      txBytes: fig?.txBytes ?? 0,
      figures: dev !== undefined ? 'live' : last !== undefined ? 'last-known' : 'none',
      figuresReadAt: last?.readAt ?? null
    }
  }).sort(byHostname)
  return {
    node: {
      id: i.identity.nodeId,
      hostname: i.hostname,
      meshIp: i.identity.meshIp,
      publicKey: i.publicKey,
      interface: i.cfg.ifname,
      driver: i.device.driver,
      listenPort: i.cfg.listenPort,
      swimPort: i.cfg.swimPort,
      adopted: i.device.adopted,
      startedAt: i.startedAt
    },
    controller: {
      url: i.link?.controller ?? i.cfg.controllerUrls[0]!,
      urls: [...i.cfg.controllerUrls],
      state: i.link?.state ?? 'connecting',
      lastContactAt: i.link?.lastContactAt ?? null,
      heartbeatsFailed: i.link?.heartbeatsFailed ?? 0
    },
    netmap: i.netmap === null ? null : { epoch: i.netmap.epoch, version: i.netmap.version, nodes: i.netmap.nodes.length, appliedAt: i.netmapAppliedAt },
    swim: { incarnation: i.swim.incarnation, healthScore: i.swim.healthScore, counters: { ...flattenStats(i.swim.stats()), ...i.counters } },
    process: { pid: process.pid, ...memory(), uptimeMs: Math.round(process.uptime() * 1000) },
    lastError: i.lastError ?? i.link?.lastError ?? null,
    peers,
    routes: routesStatus(i),
    policy: i.policy,
    dns: i.dns
  }
}

/** The routes part of the status: hostnames, not ids, as an operator reads them. */
function routesStatus (i: StatusInputs): RoutesStatus {
  const nodes = i.netmap?.nodes ?? []
  const name = (id: string): string => nodes.find(n => n.id === id)?.hostname ?? id
  const self = nodes.find(n => n.id === i.identity.nodeId)
  const enabled = new Set(self?.routes ?? [])
  const routers = new Map<string, string[]>()
  for (const n of nodes) {
    if (n.id === i.identity.nodeId || n.routes === undefined || n.health === 'removed') continue
    for (const r of n.routes) routers.set(r, [...(routers.get(r) ?? []), n.hostname])
  }
  const kernel = new Set(i.routes.kernel)
  const { prefs, exit } = i.routes
  return {
    advertised: prefs.advertiseRoutes.map(route => ({ route, enabled: enabled.has(route) })),
    advertisedExit: prefs.advertiseExitNode ? { enabled: self?.exitNode === true } : null,
    accept: prefs.acceptRoutes,
    exit: { mode: exit.mode, via: exit.via === null ? null : name(exit.via), reason: exit.reason, allowLan: prefs.exitNodeAllowLan },
    used: [...routers].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([route, list]) => {
      const p = i.routes.primaries.get(route)
      return { route, routers: list.sort(), primary: p === undefined ? null : name(p), kernel: kernel.has(route) }
    })
  }
}
