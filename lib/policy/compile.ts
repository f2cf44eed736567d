/**
 * Compiles an access policy, against the nodes of the netmap, into one node's nftables filter (docs/policy.md,
 * "Enforcement"). The filter sees only what arrives on the Weft interface: packets for this node (the input
 * chain) and, on a router or exit node, packets it forwards (the forward chain). Each chain accepts replies to
 * flows this node opened and ICMP errors related to a flow, accepts SWIM from mesh addresses whatever the
 * policy says, then tries the rules, and drops the rest, counting drops by protocol and destination port.
 *
 * Packets of a flow another node opened are checked against the rules every time, not only when the flow
 * starts: a policy change that stops allowing a flow stops it at once, and one that still allows it does not
 * disturb it.
 *
 * Addresses go into named interval sets, so the number of rules follows the policy, not the mesh: a rule is one
 * nft rule per chain (two when it covers ICMP as well as TCP or UDP), whatever the number of nodes its
 * selectors name. Only the rules whose destination is this node (or, forwarded, an address range) are kept.
 * Pure: no IO.
 */
import { createHash } from 'node:crypto'
import { formatIPv4, parseCidr, parseIPv4 } from '../wire/addr.js'
import type { NodeRecord } from '../wire/netmap.js'
import type { AclRule, Policy, PortRange, Selector } from './document.js'

/** What the compiler needs of a node. */
export type FilterNode = Pick<NodeRecord, 'hostname' | 'meshIp' | 'tags' | 'routes' | 'exitNode'>

/** Everything a node's filter depends on. */
export interface FilterInput {
  policy: Policy
  nodes: readonly FilterNode[]
  self: FilterNode
  ifname: string
  /** The mesh CIDR: SWIM is accepted from it. */
  meshCidr: string
  /** This node's SWIM port. */
  swimPort: number
}

/**
 * A compiled filter: its named sets and the rules of its two chains, fixed ones included. `replaceScript` loads
 * it whole; `updateScript` turns one into another in place.
 */
export interface CompiledFilter {
  /** Named sets by name, each its declaration (`{ type ...; elements = { ... } }`); a name is a digest of its content. */
  sets: ReadonlyMap<string, string>
  chains: { input: readonly string[], forward: readonly string[] }
  /** nft rules that come from the policy's rules (the fixed ones, such as SWIM's, not counted). */
  rules: number
  /** Elements (addresses, ranges) in the named sets. */
  elements: number
}

/** The nftables table that holds the access filter of `ifname`. */
export function filterTable (ifname: string): string {
  return `weft_acl_${ifname.replace(/[^A-Za-z0-9_]/g, '_')}`
}

/** The named counter of the packets each chain's last rule drops (those the drops set counts included). */
export const DROPPED_COUNTER = 'dropped'

/** The dynamic set that counts dropped TCP and UDP packets by protocol and destination port. */
export const DROPS_SET = 'drops'

/** An inclusive range of numbers: addresses as unsigned 32-bit numbers, or ports. */
type Range = readonly [number, number]

const CHAINS = ['input', 'forward'] as const

/** The nft script that removes the filter of `ifname` (a no-op when there is none). */
export function removeScript (ifname: string): string {
  const t = filterTable(ifname)
  return `table inet ${t} {}\ndelete table inet ${t}\n`
}

/**
 * One nft transaction that replaces the filter of `ifname` whole with `c`, whether or not there is one (adding
 * the table first makes its delete succeed). Its drop counters start again from 0.
 */
export function replaceScript (ifname: string, c: CompiledFilter): string {
  const t = filterTable(ifname)
  return [
    `table inet ${t} {}`,
    `delete table inet ${t}`,
    `table inet ${t} {`,
    `  counter ${DROPPED_COUNTER} {}`,
    `  set ${DROPS_SET} { type inet_proto . inet_service; flags dynamic; size 65535; }`,
    ...[...c.sets].map(([name, decl]) => `  set ${name} ${decl}`),
    ...CHAINS.flatMap(chain => [
      `  chain ${chain} {`,
      `    type filter hook ${chain} priority filter; policy accept;`,
      ...c.chains[chain].map(r => `    ${r}`),
      '  }'
    ]),
    '}'
  ].join('\n') + '\n'
}

/**
 * One nft transaction that turns the loaded filter `prev` into `next` in place: both chains are flushed and
 * filled again, sets `next` no longer uses are deleted and new ones added, and the sets both use, the drops
 * set and the drop counter stay as they are, counts included. Fails (and changes nothing) when the table is not
 * `prev`: someone removed it, say.
 */
export function updateScript (ifname: string, prev: CompiledFilter, next: CompiledFilter): string {
  const t = filterTable(ifname)
  return [
    ...CHAINS.map(chain => `flush chain inet ${t} ${chain}`),
    ...[...prev.sets.keys()].filter(name => !next.sets.has(name)).map(name => `delete set inet ${t} ${name}`),
    ...[...next.sets].filter(([name]) => !prev.sets.has(name)).map(([name, decl]) => `add set inet ${t} ${name} ${decl}`),
    ...CHAINS.flatMap(chain => next.chains[chain].map(r => `add rule inet ${t} ${chain} ${r}`))
  ].join('\n') + '\n'
}

/** Compiles `input` into the filter of one node (see the file comment). */
export function compileFilter (input: FilterInput): CompiledFilter {
  const { policy: p, self } = input
  const index = new NodeIndex(input.nodes)
  const sets = new SetNames()
  const selfIp = parseIPv4(self.meshIp)
  const routes = (self.routes?.length ?? 0) > 0 || self.exitNode === true
  const inputRules: string[] = []
  const forwardRules: string[] = []
  for (const rule of p.acls) {
    let saddr: string | null | undefined
    const src = (): string | null => (saddr = saddr === undefined ? sourceMatch(rule, p, index, sets) : saddr)
    const own = rule.dst.filter(d => matchesSelf(d.selector, p, self, selfIp))
    if (own.length > 0) inputRules.push(...ruleLines(rule, src(), '', mergeRanges(own.flatMap(d => d.ports.map(portPair)))))
    if (!routes) continue
    // On a router, addresses it routes for (and its own other addresses) are named by ranges, not by nodes.
    for (const [ports, ranges] of rangeDestinations(rule, p)) {
      const daddr = ranges === null ? '' : `ip daddr @${sets.name('d', ranges.map(formatAddrRange))} `
      const lines = ruleLines(rule, src(), daddr, ports)
      forwardRules.push(...lines)
      if (ranges !== null) inputRules.push(...lines)
    }
  }
  const chain = (name: 'input' | 'forward', rules: string[]): string[] => [
    `iifname != "${input.ifname}" accept`,
    'ct state established ct direction reply accept',
    'ct state related accept',
    ...(name === 'input' ? [`ip saddr ${input.meshCidr} udp dport ${input.swimPort} accept comment "swim"`] : []),
    ...rules,
    `meta l4proto { tcp, udp } add @${DROPS_SET} { meta l4proto . th dport counter }`,
    `counter name "${DROPPED_COUNTER}" drop`
  ]
  return {
    sets: sets.all,
    chains: { input: chain('input', inputRules), forward: chain('forward', forwardRules) },
    rules: inputRules.length + forwardRules.length,
    elements: sets.elements
  }
}

/** The nft rules of one ACL rule for one source match, destination match and port ranges. */
function ruleLines (rule: AclRule, saddr: string | null, daddr: string, ports: Range[]): string[] {
  if (saddr === null) return []
  const comment = ` comment "rule ${rule.index}"`
  const out: string[] = []
  const l4 = rule.proto.filter(x => x !== 'icmp')
  if (l4.length > 0) {
    const proto = l4.length === 1 ? l4[0]! : `{ ${l4.join(', ')} }`
    const any = ports.length === 1 && ports[0]![0] === 0 && ports[0]![1] === 65535
    const dport = any ? '' : ` th dport ${ports.length === 1 ? formatRange(ports[0]!) : `{ ${ports.map(formatRange).join(', ')} }`}`
    out.push(`${saddr}${daddr}meta l4proto ${proto}${dport} accept${comment}`)
  }
  if (rule.proto.includes('icmp')) out.push(`${saddr}${daddr}meta l4proto icmp accept${comment}`)
  return out
}

/** `ip saddr @set ` for the rule's sources, `''` when one of them is `*`, null when they name no address at all. */
function sourceMatch (rule: AclRule, p: Policy, index: NodeIndex, sets: SetNames): string | null {
  if (rule.src.some(s => s.kind === 'any')) return ''
  const ranges = mergeRanges(rule.src.flatMap(s => index.addresses(s, p)))
  return ranges.length === 0 ? null : `ip saddr @${sets.name('s', ranges.map(formatAddrRange))} `
}

/**
 * The destinations of `rule` named by address (`*`, hosts, CIDRs), grouped by their ports: each group's address
 * ranges, or null when `*` is among them (any address).
 */
function rangeDestinations (rule: AclRule, p: Policy): Array<[Range[], Range[] | null]> {
  const byPorts = new Map<string, { ports: Range[], ranges: Range[] | null }>()
  for (const d of rule.dst) {
    const cidr = d.selector.kind === 'host' ? p.hosts.get(d.selector.name)! : d.selector.kind === 'cidr' ? d.selector.cidr : null
    if (d.selector.kind !== 'any' && cidr === null) continue
    const ports = mergeRanges(d.ports.map(portPair))
    const key = ports.map(formatRange).join(',')
    const g = byPorts.get(key) ?? { ports, ranges: [] }
    byPorts.set(key, g)
    if (cidr === null) g.ranges = null
    else if (g.ranges !== null) g.ranges.push(cidrRange(cidr))
  }
  return [...byPorts.values()].map(g => [g.ports, g.ranges === null ? null : mergeRanges(g.ranges)])
}

/** Whether `s` names this node: `*`, its hostname, a group holding it, one of its tags, or a range holding its mesh IP. */
function matchesSelf (s: Selector, p: Policy, self: FilterNode, selfIp: number | null): boolean {
  switch (s.kind) {
    case 'any': return true
    case 'node': return s.name === self.hostname
    case 'group': return p.groups.get(s.name)?.includes(self.hostname) ?? false
    case 'tag': return self.tags?.includes(s.name) ?? false
    case 'host': return selfIp !== null && inRange(cidrRange(p.hosts.get(s.name)!), selfIp)
    case 'cidr': return selfIp !== null && inRange(cidrRange(s.cidr), selfIp)
  }
}

/** The netmap's nodes by hostname and by tag, as mesh addresses. */
class NodeIndex {
  private readonly byName = new Map<string, number[]>()
  private readonly byTag = new Map<string, number[]>()

  constructor (nodes: readonly FilterNode[]) {
    for (const n of nodes) {
      const ip = parseIPv4(n.meshIp)
      if (ip === null) continue
      push(this.byName, n.hostname, ip)
      for (const t of n.tags ?? []) push(this.byTag, t, ip)
    }
  }

  /** The address ranges selector `s` names (`*` is handled by the caller). */
  addresses (s: Selector, p: Policy): Range[] {
    const one = (ips: number[] | undefined): Range[] => (ips ?? []).map(ip => [ip, ip])
    switch (s.kind) {
      case 'any': return [[0, 0xffffffff]]
      case 'node': return one(this.byName.get(s.name))
      case 'group': return (p.groups.get(s.name) ?? []).flatMap(m => one(this.byName.get(m)))
      case 'tag': return one(this.byTag.get(s.name))
      case 'host': return [cidrRange(p.hosts.get(s.name)!)]
      case 'cidr': return [cidrRange(s.cidr)]
    }
  }
}

/** Named sets of IPv4 ranges, one per distinct content, named by a digest of it: rules that name the same nodes share a set. */
class SetNames {
  readonly all = new Map<string, string>()
  elements = 0

  /** The name of the set holding `items` (formatted elements), declaring it the first time; `prefix` says what it matches. */
  name (prefix: 's' | 'd', items: string[]): string {
    const decl = `{ type ipv4_addr; flags interval; elements = { ${items.join(', ')} } }`
    const name = `${prefix}_${createHash('sha256').update(decl).digest('hex').slice(0, 16)}`
    if (!this.all.has(name)) {
      this.all.set(name, decl)
      this.elements += items.length
    }
    return name
  }
}

function push (m: Map<string, number[]>, k: string, v: number): void {
  const a = m.get(k)
  if (a === undefined) m.set(k, [v]); else a.push(v)
}

function portPair (r: PortRange): Range { return [r.from, r.to] }

function cidrRange (cidr: string): Range {
  const c = parseCidr(cidr)!
  return [c.base, c.base + c.size - 1]
}

function inRange (r: Range, x: number): boolean { return x >= r[0] && x <= r[1] }

/** `ranges` sorted, with overlapping and adjacent ones merged. */
export function mergeRanges (ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0])
  const out: Array<[number, number]> = []
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1]
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi)
    else out.push([lo, hi])
  }
  return out
}

function formatRange (r: Range): string { return r[0] === r[1] ? String(r[0]) : `${r[0]}-${r[1]}` }

function formatAddrRange (r: Range): string {
  return r[0] === r[1] ? formatIPv4(r[0]) : `${formatIPv4(r[0])}-${formatIPv4(r[1])}`
}
