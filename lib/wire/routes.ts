/**
 * Subnet routes and exit nodes as the controller, the daemon and the CLI name them: an IPv4 CIDR in
 * canonical form, or the word `exit` for "this node carries traffic to anywhere" (docs/routes.md).
 */
import { cidrContains, formatIPv4, parseCidr, parseIPv4, type Cidr } from './addr.js'

/** What an exit node is called wherever a route is named (CLI, API, auto-approve list). */
export const EXIT = 'exit'

/** The destination an exit node carries, as a WireGuard AllowedIPs entry and a route. */
export const DEFAULT_ROUTE = '0.0.0.0/0'

/** Most routes one node may advertise; a longer list is refused rather than cut. */
export const MAX_ROUTES = 64

/** Route priority bounds (`--route-priority`): higher wins among live routers. */
export const PRIORITY = { min: -1000, max: 1000 } as const

/** Address ranges that are never a subnet route: they are not reachable through a router. */
const NEVER: ReadonlyArray<readonly [string, string]> = [
  ['0.0.0.0/8', 'this network'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved']
]

/**
 * Checks a subnet route and returns it in canonical form, or a sentence saying what is wrong with it. `meshCidr`
 * is the mesh's own range, which no route may overlap: mesh addresses belong to nodes, one /32 each (null: not checked).
 */
export function checkRoute (s: string, meshCidr: string | null): { cidr: string } | { error: string } {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s)
  if (m === null || parseIPv4(m[1]!) === null || Number(m[2]) > 32) return { error: `"${s}" is not an IPv4 CIDR such as 192.0.2.0/24` }
  const c = parseCidr(s)
  if (c === null) {
    const p = Number(m[2])
    const base = parseIPv4(m[1]!)! - (parseIPv4(m[1]!)! % 2 ** (32 - p))
    return { error: `${s} has host bits set; the network is ${formatIPv4(base)}/${p}` }
  }
  if (c.prefix === 0) return { error: `${s} is every address: advertise an exit node instead` }
  for (const [range, what] of NEVER) {
    if (overlaps(c, parseCidr(range)!)) return { error: `${s} overlaps ${range} (${what}), which no router can carry` }
  }
  const mesh = meshCidr === null ? null : parseCidr(meshCidr)
  if (mesh !== null && overlaps(c, mesh)) return { error: `${s} overlaps the mesh range ${meshCidr}, whose addresses belong to nodes` }
  return { cidr: `${formatIPv4(c.base)}/${c.prefix}` }
}

/** True when the two ranges share an address. */
export function overlaps (a: Cidr, b: Cidr): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size
}

/** True when `route` (canonical CIDR) lies wholly inside `prefix` (canonical CIDR). */
export function within (route: string, prefix: string): boolean {
  const r = parseCidr(route)
  const p = parseCidr(prefix)
  return r !== null && p !== null && r.prefix >= p.prefix && cidrContains(p, r.base)
}

/** Routes sorted by address then length, without duplicates: the one order they are stored and compared in. */
export function sortRoutes (routes: Iterable<string>): string[] {
  const key = (r: string): number => { const c = parseCidr(r); return c === null ? 0 : c.base * 64 + c.prefix }
  return [...new Set(routes)].sort((a, b) => key(a) - key(b))
}
