import type { Health, NodeStatus } from './api-types.js'
import { dateTime, esc, ipKey, nodeName, relative } from './format.js'
import { HEALTH_MEANINGS, healthRank } from './health.js'

/** What a cell needs besides its node: the controller's now (for relative times) and whether actions are offered. */
export interface CellContext {
  now: number
  admin: boolean
}

/** One column of the nodes table: its header, how it sorts, and its cell as escaped HTML. */
export interface Column {
  key: string
  label: string
  /** Sort key; null: the column does not sort. */
  sort: ((n: NodeStatus) => string | number) | null
  cell: (n: NodeStatus, ctx: CellContext) => string
}

/** A route the node advertises or an admin approved, and where it stands. `exit` stands for the exit node. */
export interface RouteState {
  route: string
  advertised: boolean
  approved: boolean
}

/** The node's routes and its exit node, sorted, each with whether it is advertised and approved. */
export function routeStates (n: NodeStatus): RouteState[] {
  const r = n.routing
  const all = [...new Set([...r.advertised, ...r.approved])].sort()
  const out = all.map((route) => ({ route, advertised: r.advertised.includes(route), approved: r.approved.includes(route) }))
  if (r.exitNode.advertised || r.exitNode.approved) out.push({ route: 'exit', advertised: r.exitNode.advertised, approved: r.exitNode.approved })
  return out
}

/** Routes waiting for an admin: advertised, not approved. */
export function awaitingRoutes (n: NodeStatus): string[] {
  return routeStates(n).filter((s) => s.advertised && !s.approved).map((s) => s.route)
}

/** Everything the filter box matches against, lower case. */
export function haystack (n: NodeStatus): string {
  return [
    n.id, nodeName(n), n.hostname, n.meshIp, n.tags.join(' '), routeStates(n).map((s) => s.route).join(' '),
    n.agentVersion ?? '', n.health, n.healthReason, n.endpoints.join(' '), n.observedEndpoint ?? '',
  ].join('\n').toLowerCase()
}

function timeCell (at: number | null, now: number, none: string): string {
  if (at === null) return `<span class="muted">${none}</span>`
  return `<span title="${esc(dateTime(at))}">${esc(relative(at, now))}</span>`
}

function healthBadge (h: string, reason: string): string {
  const meaning = HEALTH_MEANINGS[h as Health] ?? ''
  const title = reason === '' ? meaning : `${reason}${meaning === '' ? '' : ` (${meaning})`}`
  return `<span class="badge badge-${esc(h)}" title="${esc(title)}">${esc(h)}</span>`
}

function controlCell (n: NodeStatus): string {
  const c = n.control
  const channel = c.channelOpen ? '<span class="ok">channel open</span>' : '<span class="warn">no channel</span>'
  const beat = c.fresh ? '<span class="ok">heartbeat fresh</span>' : '<span class="bad">heartbeat stale</span>'
  const title = n.lastSeenAt === null ? 'never heard from' : `last heard ${dateTime(n.lastSeenAt)}`
  return `<span title="${esc(title)}">${channel} · ${beat}</span>`
}

function meshCell (n: NodeStatus): string {
  const m = n.mesh
  if (m.reporters === 0) return '<span class="muted" title="no fresh peer reports about it">no reports</span>'
  const part = (count: number, word: string, cls: string): string => `<span class="${count > 0 ? cls : 'muted'}">${count} ${word}</span>`
  const counts = [part(m.alive, 'alive', 'ok'), part(m.suspect, 'suspect', 'warn'), part(m.dead, 'dead', 'bad')]
  return `<span title="${m.reporters} peers report">${counts.join(' · ')}</span>`
}

function routesCell (n: NodeStatus, ctx: CellContext): string {
  const states = routeStates(n)
  if (states.length === 0) return '<span class="muted">—</span>'
  const items = states.map((s) => {
    const label = s.route === 'exit' ? 'exit node' : s.route
    if (s.advertised && !s.approved) {
      const button = ctx.admin ? ` <button type="button" class="small" data-action="approve" data-route="${esc(s.route)}">Approve</button>` : ''
      return `<span class="route awaiting" data-route-state="awaiting" title="advertised, awaiting approval">${esc(label)} <em>awaiting</em>${button}</span>`
    }
    if (!s.advertised) return `<span class="route idle" data-route-state="idle" title="approved, not advertised now">${esc(label)}</span>`
    return `<span class="route" data-route-state="approved" title="advertised and approved">${esc(label)}</span>`
  })
  const prio = n.routing.priority !== 0 ? ` <span class="muted">priority ${esc(n.routing.priority)}</span>` : ''
  return items.join(' ') + prio
}

function endpointsCell (n: NodeStatus): string {
  const obs = n.observedEndpoint
  const adv = n.endpoints.map((e) => e === obs
    ? `<code class="seen" title="advertised, and where the controller sees its requests from">${esc(e)}</code>`
    : `<code>${esc(e)}</code>`)
  if (obs !== null && !n.endpoints.includes(obs)) {
    adv.push(`<span class="observed" title="where the controller sees its requests from">observed <code>${esc(obs)}</code></span>`)
  }
  return adv.length === 0 ? '<span class="muted">—</span>' : adv.join('<br>')
}

/** The table's columns, in display order; the actions column is the table's own (admin only). */
export const COLUMNS: readonly Column[] = [
  { key: 'name', label: 'Name', sort: (n) => nodeName(n), cell: (n) => `<span class="name" title="${esc(n.id)}">${esc(nodeName(n))}</span>` },
  { key: 'hostname', label: 'Hostname', sort: (n) => n.hostname, cell: (n) => esc(n.hostname) },
  { key: 'meshIp', label: 'Mesh IP', sort: (n) => ipKey(n.meshIp), cell: (n) => `<code>${esc(n.meshIp)}</code>` },
  { key: 'tags', label: 'Tags', sort: (n) => n.tags.join(' '), cell: (n) => n.tags.map((t) => `<span class="tag">${esc(t)}</span>`).join(' ') },
  { key: 'routes', label: 'Routes', sort: (n) => awaitingRoutes(n).length * 1000 + routeStates(n).length, cell: routesCell },
  { key: 'version', label: 'Version', sort: (n) => n.agentVersion ?? '', cell: (n) => esc(n.agentVersion ?? '—') },
  { key: 'health', label: 'Health', sort: (n) => healthRank(n.health), cell: (n) => healthBadge(n.health, n.healthReason) },
  { key: 'control', label: 'Controller', sort: (n) => (n.control.fresh ? 2 : 0) + (n.control.channelOpen ? 1 : 0), cell: controlCell },
  { key: 'mesh', label: 'Mesh', sort: (n) => -(n.mesh.dead * 10000 + n.mesh.suspect), cell: meshCell },
  { key: 'lastSeen', label: 'Last seen', sort: (n) => -(n.lastSeenAt ?? 0), cell: (n, ctx) => timeCell(n.lastSeenAt, ctx.now, 'never') },
  {
    key: 'connectedSince',
    label: 'Connected',
    sort: (n) => n.control.connectedSince ?? Number.MAX_SAFE_INTEGER,
    cell: (n, ctx) => timeCell(n.control.connectedSince, ctx.now, 'not connected'),
  },
  { key: 'endpoints', label: 'Endpoints', sort: (n) => n.observedEndpoint ?? n.endpoints[0] ?? '', cell: endpointsCell },
]
