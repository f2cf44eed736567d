/**
 * The netmap: the controller's versioned view of every authorised node, as daemons receive it.
 * Immutable by convention: a delta produces a new Netmap, never edits one in place.
 */

/**
 * Fused health of a node (design.md, Cross-check):
 * - `online`: control-side evidence fresh and peers do not hold it dead.
 * - `offline`: control-side evidence stale and peers hold it dead (or no peer says otherwise).
 * - `control-lost`: peers see it alive, the controller does not hear from it.
 * - `mesh-lost`: the controller hears from it, its peers hold it dead.
 * - `left`: it left gracefully (`weft leave`).
 * - `removed`: an admin removed it; it is no longer in the netmap.
 */
export type NodeHealth = 'online' | 'offline' | 'control-lost' | 'mesh-lost' | 'left' | 'removed'

/** Every NodeHealth value, for schemas and metrics. */
export const NODE_HEALTHS: readonly NodeHealth[] = ['online', 'offline', 'control-lost', 'mesh-lost', 'left', 'removed']

/** One authorised node as every daemon sees it. Carries no secret. */
export interface NodeRecord {
  /** Stable node id assigned at first registration. */
  id: string
  hostname: string
  /**
   * The node's DNS label, unique in the mesh: its name is `<name>.<domain>` (Netmap.dns). The controller derives
   * it from the hostname at the first registration (a collision gets `-2`, `-3`, ...) and an admin may rename it
   * (docs/dns.md). Absent only in netmaps from a controller that predates names.
   */
  name?: string
  /** WireGuard public key, base64. */
  publicKey: string
  /**
   * Ed25519 key the node signs its SWIM alive and left claims with, base64 (lib/swim/claims.ts). Absent only
   * for a node registered by a daemon that predates signed claims, until it registers again.
   */
  signingKey?: string
  /** Mesh IPv4 address; the peer's AllowedIPs is this /32. */
  meshIp: string
  /** Endpoints the node advertises, `host:port`. */
  endpoints: string[]
  /** The source address the controller last saw the node's requests from, with its WireGuard port; null until seen. */
  observedEndpoint: string | null
  /** UDP port of the node's SWIM agent on its mesh IP. */
  swimPort: number
  /**
   * Subnet routes the node advertises and an admin approved (canonical IPv4 CIDRs, sorted): every daemon may
   * route them through this node (docs/routes.md). Absent: none.
   */
  routes?: string[]
  /** The node advertises itself as an exit node and an admin approved it. Absent: false. */
  exitNode?: boolean
  /** Among live routers of one route, the highest priority carries it (`--route-priority`). Absent: 0. */
  routePriority?: number
  /** Tags an admin put on the node (`tag:web`), sorted; the access policy names nodes by them. Absent: none. */
  tags?: string[]
  health: NodeHealth
  /** First registration, ms since epoch. */
  createdAt: number
  /** Last change to anything in this record, ms since epoch. */
  updatedAt: number
}

/** A whole netmap. `epoch` changes whenever versions restart (a controller restart); compare versions only within one epoch. */
export interface Netmap {
  epoch: string
  version: number
  /** The mesh CIDR, e.g. 100.64.0.0/10; the daemon routes it through its interface. */
  cidr: string
  /** Every node not removed, sorted by id. */
  nodes: NodeRecord[]
  /** The access policy every daemon enforces (docs/policy.md). Absent: none was ever set, and every flow is allowed. */
  policy?: NetmapPolicy
  /** The mesh's DNS domain (docs/dns.md). Fixed for an epoch, so only full maps carry it. Absent: a controller that predates names. */
  dns?: NetmapDns
}

/** What every daemon's resolver needs besides the nodes' names. */
export interface NetmapDns {
  /** The domain the nodes' names are in, lower case, without a trailing dot (`weft.internal`). */
  domain: string
}

/**
 * The access policy as the netmap carries it: the document itself, as the admin wrote it, not per-node rules,
 * so a change costs every daemon the same bytes whatever the size of the mesh. Each daemon compiles it.
 */
export interface NetmapPolicy {
  /** Counts the policy's changes, from 1; it outlives controller restarts (the netmap's own version does not). */
  version: number
  /** The policy document (lib/policy/document.ts). */
  text: string
}

/** Changes from version `from` to version `to` within `epoch`: records to insert or replace, ids to drop. */
export interface NetmapDelta {
  epoch: string
  from: number
  to: number
  upsert: NodeRecord[]
  remove: string[]
  /** The policy, when it changed in this step. */
  policy?: NetmapPolicy
}

/** One line of the update channel (NDJSON): a full map, a delta, or a keepalive. */
export type NetmapMessage =
  | { type: 'full', netmap: Netmap }
  | ({ type: 'delta' } & NetmapDelta)
  | { type: 'ping', epoch: string, version: number, at: number }

/** Display order of nodes in tables: by hostname, then id (ids are random; an operator looks for names). */
export function byHostname (a: { hostname: string, id: string }, b: { hostname: string, id: string }): number {
  return a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/**
 * Applies `delta` to `map`, returning a new Netmap. Returns null when the delta does not follow `map`
 * (other epoch or `from` is not `map.version`): the caller must resync with a full map.
 */
export function applyDelta (map: Netmap, delta: NetmapDelta): Netmap | null {
  if (delta.epoch !== map.epoch || delta.from !== map.version) return null
  const byId = new Map(map.nodes.map(n => [n.id, n]))
  for (const id of delta.remove) byId.delete(id)
  for (const n of delta.upsert) byId.set(n.id, n)
  const nodes = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const policy = delta.policy ?? map.policy
  return {
    epoch: map.epoch,
    version: delta.to,
    cidr: map.cidr,
    nodes,
    ...(policy !== undefined ? { policy } : {}),
    ...(map.dns !== undefined ? { dns: map.dns } : {})
  }
}
