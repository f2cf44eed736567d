/**
 * Which node carries each subnet route, and the exit node, decided by every daemon from its own SWIM view: no
 * controller is asked, so a router's death moves its routes in the same reconcile that removes its peer. The
 * exit node is one more route, the default route 0.0.0.0/0, whose candidates are the nodes offering themselves
 * as exit nodes (`auto`) or the one node pinned. Pure: no clock (`now` is given), no IO.
 */
import type { NodeRecord } from '../wire/netmap.js'
import { matchNodes } from '../wire/node-match.js'
import { DEFAULT_ROUTE } from '../wire/routes.js'
import type { DesiredConfig } from './desired.js'
import { AUTO_EXIT, NO_EXIT } from './prefs.js'

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
  /** Whether other nodes' subnet routes are used at all (--accept-routes). */
  acceptRoutes: boolean
  /** `none`, `auto`, or the node pinned as exit node (name, id or mesh IP: findNode). */
  exitNode: string
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
  const pinned = i.exitNode === NO_EXIT || i.exitNode === AUTO_EXIT ? null : findNode(i.nodes, i.exitNode)
  for (const n of i.nodes) {
    if (n.id === i.selfId || n.health === 'left' || n.health === 'removed' || i.down.has(n.id)) continue
    if (n.exitNode === true && (i.exitNode === AUTO_EXIT || (pinned !== null && pinned !== 'ambiguous' && pinned.id === n.id))) {
      addTo(routers, DEFAULT_ROUTE, n)
    }
    if (n.routes === undefined || !i.acceptRoutes) continue
    for (const r of n.routes) if (!own.has(r)) addTo(routers, r, n)
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

function addTo (m: Map<string, NodeRecord[]>, route: string, n: NodeRecord): void {
  const list = m.get(route)
  if (list === undefined) m.set(route, [n])
  else list.push(n)
}

/**
 * The node `name` names, by the rule every command names nodes by (matchNodes: id, mesh IP or hostname);
 * `ambiguous` when it names several, null when none. Left and removed nodes are not candidates.
 */
export function findNode (nodes: readonly NodeRecord[], name: string): NodeRecord | 'ambiguous' | null {
  const found = matchNodes(nodes.filter(n => n.health !== 'left' && n.health !== 'removed'), name)
  return found.length === 1 ? found[0]! : found.length > 1 ? 'ambiguous' : null
}

/** Where this node's default route goes, and why (weft status). */
export interface ExitState {
  /** `none`, `auto` or the pinned name, as set. */
  mode: string
  /** The exit node carrying the traffic now; null when none does (traffic to the internet is dropped, unless mode is none). */
  via: string | null
  /** Why there is no exit node when one is wanted; null otherwise. */
  reason: string | null
}

/** The exit node state given the choice made (`primaries`) and the netmap: pure, for weft status. */
export function exitState (nodes: readonly NodeRecord[], mode: string, primaries: ReadonlyMap<string, string>, down: ReadonlySet<string>): ExitState {
  const via = primaries.get(DEFAULT_ROUTE) ?? null
  if (mode === NO_EXIT || via !== null) return { mode, via, reason: null }
  const dropping = 'traffic to addresses outside the mesh is dropped until'
  if (mode === AUTO_EXIT) return { mode, via, reason: `no live exit node; ${dropping} one is` }
  const n = findNode(nodes, mode)
  if (n === null) return { mode, via, reason: `no node ${mode} in the netmap; ${dropping} there is` }
  if (n === 'ambiguous') return { mode, via, reason: `several nodes are named ${mode}; give its id or mesh IP (${dropping} then)` }
  if (n.exitNode !== true) return { mode, via, reason: `${mode} is not an approved exit node; ${dropping} it is` }
  if (down.has(n.id)) return { mode, via, reason: `exit node ${mode} is down (SWIM); ${dropping} it returns` }
  return { mode, via, reason: `exit node ${mode} is this node` }
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
