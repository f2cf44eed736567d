import type { ControlState } from './control-link.js'
import type { DnsStatus } from './mesh-dns.js'
import type { PolicyDrops, PolicyFilterState } from './policy-filter.js'

/** What `weft status --json` prints: this node, its controller link, and one row per peer. */
export interface DaemonStatus {
  node: {
    id: string
    hostname: string
    meshIp: string
    publicKey: string
    interface: string
    driver: string
    listenPort: number
    swimPort: number
    /** Interface was adopted from a previous daemon run rather than created. */
    adopted: boolean
    startedAt: number
  }
  controller: {
    /** The controller the daemon uses now (or tries next). */
    url: string
    /** Every controller it knows (`--controller URL[,URL...]`), in order. */
    urls: string[]
    state: ControlState
    lastContactAt: number | null
    heartbeatsFailed: number
  }
  netmap: { epoch: string, version: number, nodes: number, appliedAt: number | null } | null
  /**
   * This node's SWIM: incarnation, Lifeguard local-health score (0 = healthy; its probe interval and
   * timeouts are stretched by score + 1) and counters.
   */
  swim: { incarnation: number, healthScore: number, counters: Record<string, number> } | null
  /** The daemon process itself: memory in bytes (process.memoryUsage()) and uptime. */
  process: { pid: number, rss: number, heapUsed: number, heapTotal: number, external: number, arrayBuffers: number, uptimeMs: number }
  /** Last error worth an operator's attention (refused netmap, device failure), or null. */
  lastError: string | null
  peers: PeerStatus[]
  routes: RoutesStatus
  /**
   * The access filter (docs/policy.md): the policy version enforced (null: none, every flow allowed; 0: the policy
   * could not be read and only SWIM is let in), its size, and the packets it dropped (null: unreadable).
   */
  policy: PolicyFilterState & { drops: PolicyDrops | null }
  /** The resolver for the mesh's names on the mesh IP, and how the host is pointed at it (docs/dns.md). */
  dns: DnsStatus
}

/** Routes as this node sees them (docs/routes.md). */
export interface RoutesStatus {
  /** Subnet routes this node advertises (--advertise-routes); `enabled` once the netmap carries them (approved). */
  advertised: Array<{ route: string, enabled: boolean }>
  /** This node as an exit node (--advertise-exit-node), `enabled` once approved; null when it does not offer itself. */
  advertisedExit: { enabled: boolean } | null
  /** Whether this node uses other nodes' routes (--accept-routes). */
  accept: boolean
  /**
   * This node's default route: `mode` none, auto or the pinned node; `via` the exit node carrying it now (null:
   * none, and with a mode other than none traffic outside the mesh is dropped); `reason` why there is none.
   */
  exit: { mode: string, via: string | null, reason: string | null, allowLan: boolean }
  /** Every enabled route of another node: its routers, the one carrying it here (null: none alive), and whether the kernel routes it into the interface. */
  used: Array<{ route: string, routers: string[], primary: string | null, kernel: boolean }>
}

/**
 * Where a peer's endpoint, handshake and traffic figures come from: `live` (read from the device now),
 * `last-known` (the peer is off the device; the figures it had when last read, at figuresReadAt), `none`
 * (never on the device while this daemon ran).
 */
export type PeerFigures = 'live' | 'last-known' | 'none'

/** One row of `weft status`; the rows are sorted by hostname, then id. */
export interface PeerStatus {
  id: string
  hostname: string
  /** Its name as the mesh resolver answers for it (`web-2.weft.internal`), whatever its health; null: none. */
  dnsName: string | null
  meshIp: string
  /** Controller's fused health for the node. */
  health: string
  /** SWIM's view: alive, suspect, dead, left; null before SWIM knows it. */
  swim: string | null
  swimIncarnation: number | null
  /** Whether the node is currently a peer on the WireGuard interface. */
  inWireGuard: boolean
  endpoint: string | null
  /** Last completed WireGuard handshake, ms since epoch; null = none known. */
  lastHandshakeAt: number | null
  rxBytes: number
  txBytes: number
  /** Where endpoint, lastHandshakeAt, rxBytes and txBytes come from. */
  figures: PeerFigures
  /** When last-known figures were read from the device, ms since epoch; null for live figures or none. */
  figuresReadAt: number | null
}
