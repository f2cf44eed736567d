/**
 * The route-preference flags, shared by `weft daemon` (at start) and `weft set` (while it runs): one parse
 * spec, one help text, one conversion into RoutePrefs (lib/daemon/prefs.ts).
 */
import { AUTO_EXIT, NO_EXIT, PREF_DEFAULTS, type RoutePrefs } from '../lib/daemon/prefs.js'
import { PRIORITY } from '../lib/wire/routes.js'
import { parseBoolFlag, parseIntFlag, splitList } from './cli.js'

/** parseArgs options of the route preferences. */
export const ROUTE_PREF_OPTIONS = {
  'advertise-routes': { type: 'string' },
  'advertise-exit-node': { type: 'boolean' },
  'route-priority': { type: 'string' },
  'accept-routes': { type: 'string' },
  'exit-node': { type: 'string' },
  'exit-node-allow-lan': { type: 'string' }
} as const

/** Help lines of the route preferences. */
export const ROUTE_PREF_USAGE = `  --advertise-routes LIST   IPv4 CIDRs this node forwards to (comma-separated, "" for none); used once an admin approves
  --advertise-exit-node[=BOOL]   offer this node as an exit node (default ${String(PREF_DEFAULTS.advertiseExitNode)}); used once an admin approves
  --route-priority N    among live routers of a route the highest priority carries it (${PRIORITY.min}-${PRIORITY.max}, default ${PREF_DEFAULTS.routePriority})
  --accept-routes=BOOL  route other nodes' approved subnet routes through the mesh (default ${String(PREF_DEFAULTS.acceptRoutes)})
  --exit-node NODE|${AUTO_EXIT}|${NO_EXIT}   send this host's default route through an exit node (default ${PREF_DEFAULTS.exitNode});
                        a named node that is down drops the traffic, ${AUTO_EXIT} fails over to the next
  --exit-node-allow-lan=BOOL   with an exit node, reach directly connected networks outside the tunnel (default ${String(PREF_DEFAULTS.exitNodeAllowLan)})`

/** The route preferences the parsed flags set; absent flags are left out. */
export function routePrefsFromFlags (v: { [K in keyof typeof ROUTE_PREF_OPTIONS]?: string | boolean }): Partial<RoutePrefs> {
  const s = (k: keyof typeof ROUTE_PREF_OPTIONS): string | undefined => typeof v[k] === 'string' ? v[k] : undefined
  const out: Partial<RoutePrefs> = {}
  if (s('advertise-routes') !== undefined) out.advertiseRoutes = splitList(s('advertise-routes')!)
  if (typeof v['advertise-exit-node'] === 'boolean') out.advertiseExitNode = v['advertise-exit-node']
  if (s('route-priority') !== undefined) out.routePriority = parseIntFlag(s('route-priority')!, '--route-priority', PRIORITY.min, PRIORITY.max)
  if (s('accept-routes') !== undefined) out.acceptRoutes = parseBoolFlag(s('accept-routes')!, '--accept-routes')
  if (s('exit-node') !== undefined) out.exitNode = s('exit-node')!
  if (s('exit-node-allow-lan') !== undefined) out.exitNodeAllowLan = parseBoolFlag(s('exit-node-allow-lan')!, '--exit-node-allow-lan')
  return out
}
