/**
 * The names a daemon answers for, built from its netmap: every named node as `<name>.<domain>`, the policy's
 * single-address hosts beside them, and the reverse (PTR) names of those addresses. Pure: the netmap in, a
 * Zone out, rebuilt whole on every netmap change, so it stays a handful of map inserts per node.
 */
import { parsePolicy } from '../policy/document.js'
import { formatIPv4, parseCidr, parseIPv4, type Cidr } from '../wire/addr.js'
import type { Netmap } from '../wire/netmap.js'

/** One label as the zone accepts it: 1-63 characters of lower-case letters, digits, `-` and `_`. */
const LABEL_RE = /^[a-z0-9_-]{1,63}$/

/** Longest name in presentation form without the trailing dot (RFC 1035: 255 octets on the wire). */
export const MAX_NAME_CHARS = 253

/** The policy's single-address hosts, kept with the text they came from so the next build reuses them. */
interface PolicyHosts {
  text: string
  /** Host name (lower case) and address (dotted quad), in document order. */
  hosts: ReadonlyArray<readonly [string, string]>
}

/** An immutable snapshot of the names one netmap defines. Lookups take lower-case names without a trailing dot. */
export interface Zone {
  /** The domain, lower case, without a trailing dot (`weft.internal`). */
  readonly domain: string
  /** The mesh CIDR; PTR names for addresses inside it are this zone's to answer. Null when the netmap's does not parse. */
  readonly cidr: Cidr | null
  /** The SOA serial: the netmap version, folded to 32 bits. */
  readonly serial: number
  /** FQDN to IPv4 address (dotted quad), for nodes and single-address policy hosts. */
  readonly names: ReadonlyMap<string, string>
  /** IPv4 address (dotted quad) to the one FQDN its PTR answers with. */
  readonly reverse: ReadonlyMap<string, string>
  /**
   * Names that own nothing but have names below them (`prod.weft.internal` when a host is `db.prod`): they exist,
   * so a query for them is NODATA, not NXDOMAIN (RFC 8020).
   */
  readonly interior: ReadonlySet<string>
  /** How many names the zone holds (`names.size`). */
  readonly nameCount: number
  /** Names the netmap or policy gives that the zone leaves out: not a DNS label, taken already, or an address that does not parse. */
  readonly skipped: number
  /** Owner of the SOA that negative PTR answers carry: the in-addr.arpa name of the mesh CIDR, widened to whole octets. */
  readonly reverseApex: string | null
  /** The policy hosts this zone was built with; buildZone reuses them while the policy text is unchanged. */
  readonly policyHosts: PolicyHosts | null
}

/**
 * The zone of `map`, or null when the netmap carries no DNS domain (or one that is not a valid name). Nodes win
 * over policy hosts of the same name, and a host whose address is a node's gets no PTR. A policy that does not
 * parse contributes nothing. `previous` (the zone of the netmap before) saves the work that repeats: an unchanged
 * policy is not parsed again, and the address of a node it already held at that address is not parsed again.
 */
export function buildZone (map: Netmap, previous?: Zone | null): Zone | null {
  const domain = normalizeName(map.dns?.domain ?? '')
  if (domain === null || domain === '') return null
  const cidr = parseCidr(map.cidr)
  const names = new Map<string, string>()
  const reverse = new Map<string, string>()
  const before = previous?.names
  const interior = new Set<string>()
  let skipped = 0
  const suffix = `.${domain}`
  const room = MAX_NAME_CHARS - suffix.length

  for (const node of map.nodes) {
    if (node.name === undefined) continue
    const label = node.name.toLowerCase()
    const fqdn = label + suffix
    if (!LABEL_RE.test(label) || label.length > room || names.has(fqdn)) { skipped++; continue }
    // An address the previous zone held for this name was checked then; parsing addresses is most of the cost.
    if (before?.get(fqdn) !== node.meshIp && parseIPv4(node.meshIp) === null) { skipped++; continue }
    names.set(fqdn, node.meshIp)
    if (!reverse.has(node.meshIp)) reverse.set(node.meshIp, fqdn)
  }

  const policyHosts = hostsOf(map.policy?.text, previous?.policyHosts ?? null)
  for (const [host, ip] of policyHosts?.hosts ?? []) {
    const fqdn = host + suffix
    if (host.length > room || names.has(fqdn)) { skipped++; continue }
    names.set(fqdn, ip)
    if (!reverse.has(ip)) reverse.set(ip, fqdn)
    // Only hosts have dots in them; each ancestor below the domain exists as a name without records.
    for (let at = host.indexOf('.'); at !== -1; at = host.indexOf('.', at + 1)) interior.add(host.slice(at + 1) + suffix)
  }

  return {
    domain,
    cidr,
    serial: map.version % 2 ** 32,
    names,
    reverse,
    interior,
    nameCount: names.size,
    skipped,
    reverseApex: cidr === null ? null : reverseApexOf(cidr),
    policyHosts
  }
}

/**
 * The single-address hosts of a policy text, reusing `previous` when the text is the same one. A host with a
 * name that is not a valid DNS name, and every host of a policy that does not parse, is left out.
 */
function hostsOf (text: string | undefined, previous: PolicyHosts | null): PolicyHosts | null {
  if (text === undefined) return null
  if (previous !== null && previous.text === text) return previous
  const hosts: Array<readonly [string, string]> = []
  let parsed: Map<string, string>
  try {
    parsed = parsePolicy(text).hosts
  } catch {
    return { text, hosts }
  }
  for (const [name, cidrText] of parsed) {
    const cidr = parseCidr(cidrText)
    const host = normalizeName(name)
    if (cidr === null || cidr.prefix !== 32 || host === null || host === '') continue
    hosts.push([host, formatIPv4(cidr.base)])
  }
  return { text, hosts }
}

/**
 * `name` lower-cased without a trailing dot, or null when it is not a name the zone can hold: every label must
 * be 1-63 of `[a-z0-9_-]` and the whole at most 253 characters. The empty string is the root.
 */
export function normalizeName (name: string): string | null {
  const n = (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase()
  if (n === '') return ''
  if (n.length > MAX_NAME_CHARS) return null
  for (const label of n.split('.')) if (!LABEL_RE.test(label)) return null
  return n
}

/** `d.c.b.a.in-addr.arpa` for the address `a.b.c.d` (as a number). */
export function reverseNameOf (ip: number): string {
  return `${ip & 255}.${(ip >>> 8) & 255}.${(ip >>> 16) & 255}.${ip >>> 24}.in-addr.arpa`
}

/** The address a full four-octet `d.c.b.a.in-addr.arpa` name (lower case) stands for, or null for any other name. */
export function parseReverseName (name: string): number | null {
  if (!name.endsWith('.in-addr.arpa')) return null
  const octets = name.slice(0, -'.in-addr.arpa'.length).split('.')
  if (octets.length !== 4) return null
  return parseIPv4(octets.reverse().join('.'))
}

/** The in-addr.arpa name covering `cidr`, its prefix rounded down to whole octets (100.64.0.0/10 gives `100.in-addr.arpa`). */
export function reverseApexOf (cidr: Cidr): string {
  const octets = Math.floor(cidr.prefix / 8)
  const parts = formatIPv4(cidr.base).split('.').slice(0, octets).reverse()
  return [...parts, 'in-addr', 'arpa'].join('.')
}
