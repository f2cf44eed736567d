/**
 * Route preferences: what a node advertises and how it uses other nodes' routes and exit nodes. They are the
 * daemon settings an operator changes while it runs (`weft set`), so they live in the state directory
 * (`prefs.json`) as well as on the command line: a flag given at start wins and is saved; a start without the
 * flag keeps the value last saved; `weft set` changes the running daemon and saves (docs/routes.md, "weft set").
 */
import { bool, intInRange } from '../config-check.js'
import { ConfigError } from '../errors.js'
import { checkRoute, MAX_ROUTES, PRIORITY, sortRoutes } from '../wire/routes.js'

/** The route preferences of one node. */
export interface RoutePrefs {
  /** Subnet routes this node carries (`--advertise-routes`, IPv4 CIDRs, canonical and sorted). */
  advertiseRoutes: readonly string[]
  /** This node offers itself as an exit node (`--advertise-exit-node`). */
  advertiseExitNode: boolean
  /** Priority of this node's routes and exit among their carriers (`--route-priority`, higher wins). */
  routePriority: number
  /** Use other nodes' approved subnet routes (`--accept-routes`). */
  acceptRoutes: boolean
  /** Exit node this node sends its default route through (`--exit-node`): `none`, `auto`, or a node's name, id or mesh IP. */
  exitNode: string
  /** With an exit node, the host's directly connected networks stay reachable outside the tunnel (`--exit-node-allow-lan`). */
  exitNodeAllowLan: boolean
}

/** No exit node: the default route stays the host's own. */
export const NO_EXIT = 'none'

/** The best live exit node, failed over like a subnet route. */
export const AUTO_EXIT = 'auto'

/**
 * Defaults: advertise nothing, use every approved route, no exit node. LAN access stays on with an exit node:
 * Weft runs on servers, whose LAN is often how they are reached and where their resolvers and metadata live;
 * cutting it off is an explicit choice (`--exit-node-allow-lan=false`).
 */
export const PREF_DEFAULTS: Readonly<RoutePrefs> = Object.freeze({
  advertiseRoutes: Object.freeze([]) as readonly string[],
  advertiseExitNode: false,
  routePriority: 0,
  acceptRoutes: true,
  exitNode: NO_EXIT,
  exitNodeAllowLan: true
})

/** The flag that sets each preference, for messages and `weft set`. */
export const PREF_FLAGS: Readonly<Record<keyof RoutePrefs, string>> = Object.freeze({
  advertiseRoutes: '--advertise-routes',
  advertiseExitNode: '--advertise-exit-node',
  routePriority: '--route-priority',
  acceptRoutes: '--accept-routes',
  exitNode: '--exit-node',
  exitNodeAllowLan: '--exit-node-allow-lan'
})

/** Longest node name `--exit-node` takes (hostnames are at most 253 characters). */
const MAX_EXIT_NAME = 253

/**
 * Checks the preferences `p` sets and returns them normalised (routes canonical and sorted). Unknown keys are
 * refused, so a typo in a `weft set` request or in prefs.json is an error rather than ignored. Throws ConfigError
 * naming the flag.
 */
export function checkPrefs (p: Record<string, unknown>): Partial<RoutePrefs> {
  const out: Partial<RoutePrefs> = {}
  for (const [k, v] of Object.entries(p)) {
    if (v === undefined) continue
    switch (k) {
      case 'advertiseRoutes': {
        if (!Array.isArray(v) || !v.every(r => typeof r === 'string')) throw new ConfigError('--advertise-routes must be a list of IPv4 CIDRs')
        if (v.length > MAX_ROUTES) throw new ConfigError(`--advertise-routes lists ${v.length} routes; at most ${MAX_ROUTES}`)
        out.advertiseRoutes = sortRoutes((v as string[]).map(r => {
          const c = checkRoute(r, null)
          if ('error' in c) throw new ConfigError(`--advertise-routes: ${c.error}`)
          return c.cidr
        }))
        break
      }
      case 'advertiseExitNode': out.advertiseExitNode = bool(PREF_FLAGS.advertiseExitNode, v); break
      case 'routePriority': out.routePriority = intInRange(PREF_FLAGS.routePriority, v, PRIORITY.min, PRIORITY.max); break
      case 'acceptRoutes': out.acceptRoutes = bool(PREF_FLAGS.acceptRoutes, v); break
      case 'exitNodeAllowLan': out.exitNodeAllowLan = bool(PREF_FLAGS.exitNodeAllowLan, v); break
      case 'exitNode':
        if (typeof v !== 'string' || v.trim() === '' || v.length > MAX_EXIT_NAME || /\s/.test(v)) {
          throw new ConfigError(`--exit-node must be ${NO_EXIT}, ${AUTO_EXIT}, or a node's name, id or mesh IP (got ${JSON.stringify(v)})`)
        }
        out.exitNode = v
        break
      default: throw new ConfigError(`unknown route preference "${k}"; known: ${Object.keys(PREF_FLAGS).join(', ')}`)
    }
  }
  return out
}

/**
 * `over` laid on `base`, checked as a whole: a node does not both offer itself as an exit node and send its own
 * traffic through another (its forwarded traffic would follow its own default route into the tunnel).
 */
export function mergePrefs (base: Readonly<RoutePrefs>, over: Partial<RoutePrefs>): Readonly<RoutePrefs> {
  const p: RoutePrefs = { ...base }
  for (const [k, v] of Object.entries(over)) if (v !== undefined) (p as unknown as Record<string, unknown>)[k] = v
  if (p.advertiseExitNode && p.exitNode !== NO_EXIT) {
    throw new ConfigError(`${PREF_FLAGS.advertiseExitNode} and ${PREF_FLAGS.exitNode} ${p.exitNode} exclude each other: an exit node uses no other exit node`)
  }
  return Object.freeze({ ...p, advertiseRoutes: Object.freeze([...p.advertiseRoutes]) })
}

/** The preferences in effect at start: `flags` (given on the command line) over `saved` (prefs.json) over the defaults. */
export function startPrefs (flags: Partial<RoutePrefs>, saved: Partial<RoutePrefs> | null): Readonly<RoutePrefs> {
  return mergePrefs(mergePrefs(PREF_DEFAULTS, saved ?? {}), flags)
}

/** The keys of `b` whose values differ from `a`'s. */
export function changedPrefs (a: Readonly<RoutePrefs>, b: Readonly<RoutePrefs>): Array<keyof RoutePrefs> {
  return (Object.keys(PREF_FLAGS) as Array<keyof RoutePrefs>).filter(k => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
}
