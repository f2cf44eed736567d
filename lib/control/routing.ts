/**
 * The controller's side of routes, without IO: a node's advertisement, an admin's approvals, the
 * `--auto-approve-routes` prefixes, and what of it the netmap carries. A route is enabled when the node
 * advertises it and it is approved; an approval stays when the advertisement pauses (docs/routes.md).
 */
import { ConfigError, InvalidInputError } from '../errors.js'
import type { AdvertiseRequest, NodeRouting } from '../wire/api.js'
import type { NodeRecord } from '../wire/netmap.js'
import { checkRoute, EXIT, MAX_ROUTES, sortRoutes, within } from '../wire/routes.js'
import type { StoredRouting } from './store.js'

/** Routes approved without an admin: subnet routes inside `prefixes`, and exit nodes when `exit`. */
export interface AutoApprove { prefixes: string[], exit: boolean }

/** No route is approved without an admin. */
export const NO_AUTO_APPROVE: AutoApprove = { prefixes: [], exit: false }

const EMPTY: StoredRouting = { advertised: [], exit: false, priority: 0, approved: [], exitApproved: false }

/** Parses `--auto-approve-routes`: CIDRs and the word `exit`, comma-separated. Throws ConfigError naming the bad entry. */
export function parseAutoApprove (list: readonly string[]): AutoApprove {
  const out: AutoApprove = { prefixes: [], exit: false }
  for (const raw of list) {
    const s = raw.trim()
    if (s === EXIT) { out.exit = true; continue }
    // 0.0.0.0/0 approves every subnet route, which is a choice an operator may make; checkRoute refuses it as a route.
    if (s === '0.0.0.0/0') { out.prefixes.push(s); continue }
    const r = checkRoute(s, null)
    if ('error' in r) throw new ConfigError(`--auto-approve-routes: ${r.error}`)
    out.prefixes.push(r.cidr)
  }
  return out
}

/**
 * The routing after node `prev`'s new advertisement `req`: routes checked and sorted, approvals kept, and the
 * routes `auto` covers approved. Throws InvalidInputError naming the first bad route.
 */
export function advertise (prev: StoredRouting | undefined, req: AdvertiseRequest, meshCidr: string, auto: AutoApprove): StoredRouting {
  if (req.routes.length > MAX_ROUTES) throw new InvalidInputError(`${req.routes.length} routes advertised; at most ${MAX_ROUTES}`)
  const advertised = sortRoutes(req.routes.map(r => {
    const c = checkRoute(r, meshCidr)
    if ('error' in c) throw new InvalidInputError(`advertised route ${c.error}`)
    return c.cidr
  }))
  const base = prev ?? EMPTY
  const approved = sortRoutes([...base.approved, ...advertised.filter(r => auto.prefixes.some(p => within(r, p)))])
  return { advertised, exit: req.exitNode, priority: req.priority, approved, exitApproved: base.exitApproved || (req.exitNode && auto.exit) }
}

/**
 * The routing after an admin approved `approve` and rejected `reject` (CIDRs or `exit`). A route may be
 * approved before its node advertises it. Throws InvalidInputError for a malformed route, or one named in both.
 */
export function decide (prev: StoredRouting | undefined, approve: readonly string[], reject: readonly string[], meshCidr: string): StoredRouting {
  const canon = (s: string): string => {
    if (s === EXIT) return s
    const c = checkRoute(s, meshCidr)
    if ('error' in c) throw new InvalidInputError(c.error)
    return c.cidr
  }
  const yes = new Set(approve.map(canon))
  const no = new Set(reject.map(canon))
  for (const r of yes) if (no.has(r)) throw new InvalidInputError(`${r} is both approved and rejected in one request`)
  const base = prev ?? EMPTY
  const approved = sortRoutes([...base.approved, ...yes].filter(r => r !== EXIT && !no.has(r)))
  const exitApproved = no.has(EXIT) ? false : yes.has(EXIT) || base.exitApproved
  return { ...base, approved, exitApproved }
}

/** Whether two routings are the same (to skip a write that changes nothing). */
export function sameRouting (a: StoredRouting | undefined, b: StoredRouting | undefined): boolean {
  const x = a ?? EMPTY
  const y = b ?? EMPTY
  return x.exit === y.exit && x.priority === y.priority && x.exitApproved === y.exitApproved &&
    x.advertised.join(',') === y.advertised.join(',') && x.approved.join(',') === y.approved.join(',')
}

/** What the netmap record carries: the enabled routes, the exit flag and the priority, each only when it says something. */
export function recordRouting (r: StoredRouting | undefined): Pick<NodeRecord, 'routes' | 'exitNode' | 'routePriority'> {
  if (r === undefined) return {}
  const routes = enabled(r)
  const exit = r.exit && r.exitApproved
  if (routes.length === 0 && !exit) return {}
  return { ...(routes.length > 0 ? { routes } : {}), ...(exit ? { exitNode: true } : {}), ...(r.priority !== 0 ? { routePriority: r.priority } : {}) }
}

/** The routing as the admin API shows it. */
export function nodeRouting (r: StoredRouting | undefined): NodeRouting {
  const x = r ?? EMPTY
  return {
    advertised: [...x.advertised],
    approved: [...x.approved],
    enabled: enabled(x),
    exitNode: { advertised: x.exit, approved: x.exitApproved },
    priority: x.priority
  }
}

function enabled (r: StoredRouting): string[] {
  const ok = new Set(r.approved)
  return r.advertised.filter(a => ok.has(a))
}
