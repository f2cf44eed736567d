import { ConfigError } from '../lib/errors.js'
import type { NodeStatus } from '../lib/wire/api.js'
import { byHostname } from '../lib/wire/netmap.js'
import { EXIT, sortRoutes } from '../lib/wire/routes.js'
import { ADMIN_FLAGS, ADMIN_USAGE, adminClient } from './admin-flags.js'
import { formatTable, parseFlags, type Command } from './cli.js'
import { named, resolve } from './nodes.js'

const USAGE = `Usage: weft routes list [--json]
       weft routes approve NODE ROUTE... [--json]
       weft routes reject NODE ROUTE... [--json]

ROUTE is an IPv4 CIDR a node advertises (--advertise-routes) or \`exit\` (the node as an exit node). A route
carries traffic only once it is both advertised and approved; daemons then route it through the best live
router that has it (docs/routes.md). NODE is a node's id, mesh IP or hostname.

list     every advertised or approved route of every node, with its state:
           enabled           advertised and approved: in the netmap, daemons use it
           awaiting approval advertised, not approved
           approved          approved, not advertised now (enabled again when the node advertises it)
approve  approves routes of NODE; a route may be approved before NODE advertises it
reject   withdraws approvals: the route leaves the netmap, NODE may keep advertising it

Routes inside the controller's --auto-approve-routes prefixes are approved when they are advertised.

Flags:
  --json              machine-readable output
${ADMIN_USAGE}
`

/** One row of `weft routes list`. */
export interface RouteRow { node: NodeStatus, route: string, state: 'enabled' | 'awaiting approval' | 'approved' }

/** The state of a route that is advertised and/or approved. */
function stateOf (advertised: boolean, approved: boolean): RouteRow['state'] {
  return advertised && approved ? 'enabled' : advertised ? 'awaiting approval' : 'approved'
}

/** Every advertised or approved route of `nodes` (sorted by hostname), exit last within a node. */
export function routeRows (nodes: readonly NodeStatus[]): RouteRow[] {
  const rows: RouteRow[] = []
  for (const n of nodes) {
    const r = n.routing
    const adv = new Set(r.advertised)
    const ok = new Set(r.approved)
    for (const route of sortRoutes([...r.advertised, ...r.approved])) rows.push({ node: n, route, state: stateOf(adv.has(route), ok.has(route)) })
    const e = r.exitNode
    if (e.advertised || e.approved) rows.push({ node: n, route: EXIT, state: stateOf(e.advertised, e.approved) })
  }
  return rows
}

/** The table `weft routes list` prints. */
export function renderRoutes (rows: readonly RouteRow[]): string {
  return formatTable(['HOSTNAME', 'ID', 'MESH IP', 'HEALTH', 'ROUTE', 'PRIORITY', 'STATE'],
    rows.map(r => [r.node.hostname, r.node.id, r.node.meshIp, r.node.health, r.route, String(r.node.routing.priority), r.state]))
}

/** `weft routes list|approve|reject`. */
export const command: Command = {
  summary: 'list, approve and reject subnet routes and exit nodes (admin)',
  async run (argv) {
    const p = parseFlags(argv, { ...ADMIN_FLAGS, json: { type: 'boolean' } }, USAGE, true)
    if (p === null) return 0
    const [sub, ...args] = p.positionals
    const json = p.values.json === true
    if (sub === 'list' && args.length === 0) {
      const nodes = [...(await (await adminClient(p.values)).listNodes()).nodes].sort(byHostname)
      const rows = routeRows(nodes)
      const out = rows.map(r => ({
        nodeId: r.node.id, hostname: r.node.hostname, meshIp: r.node.meshIp, route: r.route, priority: r.node.routing.priority, state: r.state
      }))
      process.stdout.write(json
        ? JSON.stringify({ routes: out }, null, 2) + '\n'
        : rows.length === 0 ? 'no node advertises a route\n' : renderRoutes(rows))
      return 0
    }
    if ((sub === 'approve' || sub === 'reject') && args.length >= 2) {
      const client = await adminClient(p.values)
      const target = await resolve(client, args[0]!)
      if (target === null) return 1
      const routes = args.slice(1)
      const n = await client.decideRoutes(target.id, sub === 'approve' ? { approve: routes } : { reject: routes })
      const r = n.routing
      process.stdout.write(json
        ? JSON.stringify(n, null, 2) + '\n'
        : `${named(n)}: ${sub === 'approve' ? 'approved' : 'rejected'} ${routes.join(' ')}; enabled now: ` +
          `${[...r.enabled, ...(r.exitNode.advertised && r.exitNode.approved ? [EXIT] : [])].join(' ') || 'none'}\n`)
      return 0
    }
    throw new ConfigError(`expected \`weft routes list\`, \`weft routes approve NODE ROUTE...\` or \`weft routes reject NODE ROUTE...\`\n\n${USAGE}`)
  }
}
