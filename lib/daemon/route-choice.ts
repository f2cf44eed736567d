/**
 * Which node carries each subnet route, decided by every daemon from its own SWIM view: no controller is
 * asked, so a router's death moves its routes in the same reconcile that removes its peer. Pure: no clock
 * (`now` is given), no IO; the daemon and `weft sim virtual` run the same function.
 */
import type { NodeRecord } from '../wire/netmap.js'
import type { DesiredConfig } from './desired.js'

/** What choosePrimaries decides from. */
export interface RouteChoiceInput {
  nodes: readonly NodeRecord[]
  selfId: string
  /** Members SWIM holds dead or left. */
  down: ReadonlySet<string>
  /** When a member last came back from down, by our clock; absent for one never down since we started. */
  aliveSince: ReadonlyMap<string, number>
  now: number
  /** A router that came back must stay alive this long before it takes a route back from a live one. */
  holdDownMs: number
  /** The primary of each route at the previous choice. */
  previous: ReadonlyMap<string, string>
  /** Routes this node advertises itself (approved or not): its own LAN never goes into the tunnel. */
  own: readonly string[]
}

/** Why a route's primary is what it is. */
export type PrimaryReason = 'first' | 'primary-down' | 'better-router' | 'withdrawn'

/** The primaries (route -> node id), what changed and why, and when to choose again (a hold-down ends). */
export interface RouteChoice {
  primaries: Map<string, string>
  changes: Array<{ route: string, from: string | null, to: string | null, reason: PrimaryReason }>
  /** The earliest time a waiting router's hold-down ends; null when none waits. */
  recheckAt: number | null
}

/** Orders routers: higher routePriority first, then node id (the same order on every node). */
function rank (a: NodeRecord, b: NodeRecord): number {
  const pa = a.routePriority ?? 0
  const pb = b.routePriority ?? 0
  if (pa !== pb) return pb - pa
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/**
 * The primary router of every enabled subnet route this node does not carry itself. Candidates are the route's
 * routers that are in the netmap (not left or removed) and not held down by SWIM, best first (rank).
 *
 * - A live previous primary keeps the route, unless a better-ranked router has been alive for the hold-down:
 *   a router that returns takes its routes back only once it stayed up, so a flapping router moves nothing.
 * - Otherwise (first choice, or the primary went down) the best router that is settled (never down, or back for
 *   the hold-down) takes it, or, when none is settled, the best there is: a route is never left without a
 *   router while one lives.
 */
export function choosePrimaries (i: RouteChoiceInput): RouteChoice {
  const own = new Set(i.own)
  const routers = new Map<string, NodeRecord[]>()
  for (const n of i.nodes) {
    if (n.routes === undefined || n.id === i.selfId || n.health === 'left' || n.health === 'removed' || i.down.has(n.id)) continue
    for (const r of n.routes) {
      if (own.has(r)) continue
      let list = routers.get(r)
      if (list === undefined) routers.set(r, list = [])
      list.push(n)
    }
  }
  const settled = (n: NodeRecord): boolean => {
    const since = i.aliveSince.get(n.id)
    return since === undefined || i.now - since >= i.holdDownMs
  }
  const out: RouteChoice = { primaries: new Map(), changes: [], recheckAt: null }
  const wait = (n: NodeRecord): void => {
    const at = i.aliveSince.get(n.id)! + i.holdDownMs
    out.recheckAt = out.recheckAt === null ? at : Math.min(out.recheckAt, at)
  }
  for (const [route, list] of routers) {
    list.sort(rank)
    const prev = i.previous.get(route)
    const held = prev === undefined ? undefined : list.find(n => n.id === prev)
    let chosen: NodeRecord
    let reason: PrimaryReason
    if (held !== undefined) {
      const better = list.slice(0, list.indexOf(held))
      chosen = better.find(settled) ?? held
      for (const n of better) if (!settled(n)) wait(n)
      reason = 'better-router'
    } else {
      chosen = list.find(settled) ?? list[0]!
      for (const n of list.slice(0, list.indexOf(chosen))) wait(n)
      reason = prev === undefined ? 'first' : 'primary-down'
    }
    out.primaries.set(route, chosen.id)
    if (chosen.id !== prev) out.changes.push({ route, from: prev ?? null, to: chosen.id, reason })
  }
  for (const [route, prev] of i.previous) {
    if (!routers.has(route)) out.changes.push({ route, from: prev, to: null, reason: i.down.has(prev) ? 'primary-down' : 'withdrawn' })
  }
  return out
}

/**
 * `cfg` with each route added to its primary's AllowedIPs (after the peer's own /32). A route whose primary is
 * not among the peers (a record the netmap check left out) goes nowhere.
 */
export function withRoutes (cfg: DesiredConfig, primaries: ReadonlyMap<string, string>): DesiredConfig {
  if (primaries.size === 0) return cfg
  const byNode = new Map<string, string[]>()
  for (const [route, id] of primaries) {
    let list = byNode.get(id)
    if (list === undefined) byNode.set(id, list = [])
    list.push(route)
  }
  const peers = cfg.peers.map(p => {
    const extra = byNode.get(p.nodeId)
    return extra === undefined ? p : { ...p, allowedIps: [...p.allowedIps, ...extra.sort()] }
  })
  return { peers, excluded: cfg.excluded }
}

/**
 * Every enabled subnet route of other nodes, less the routes this node advertises itself (`own`): what the kernel
 * routes into the interface, primary or not.
 */
export function acceptedRoutes (nodes: readonly NodeRecord[], selfId: string, own: readonly string[]): string[] {
  const mine = new Set(own)
  const out = new Set<string>()
  for (const n of nodes) {
    if (n.id === selfId || n.health === 'removed' || n.routes === undefined) continue
    for (const r of n.routes) if (!mine.has(r)) out.add(r)
  }
  return [...out].sort()
}
