/**
 * What a policy says about one flow, and whether a policy's own tests hold. A flow goes from one endpoint to
 * another: a node (its hostname, tags and mesh IP), or what a test names (a tag stands for a node that carries
 * it and nothing else known). The first rule whose source, destination, port and protocol all match accepts
 * it; with none, it is dropped. Pure: no IO.
 */
import { PolicyError } from '../errors.js'
import { cidrContains, parseCidr, parseIPv4 } from '../wire/addr.js'
import type { Policy, PolicyTest, Proto, Selector } from './document.js'

/** A node as the policy sees it. */
export interface PolicyNode { name: string, ip: string, tags: readonly string[] }

/** One end of a flow: what is known of it. */
export interface Endpoint { names: ReadonlySet<string>, tags: ReadonlySet<string>, ip: number | null }

/** The answer for one flow: accepted or not, and the index of the rule that accepts it (null: none does). */
export interface Decision { accept: boolean, rule: number | null }

/** The endpoint of a node. */
export function nodeEndpoint (n: PolicyNode): Endpoint {
  return { names: new Set([n.name]), tags: new Set(n.tags), ip: parseIPv4(n.ip) }
}

/**
 * The endpoints a test's selector stands for, given the nodes known (none offline): a node name is that node
 * (or, unknown, a node with no tags or address), a group each of its members, a tag a node carrying it, a host
 * or CIDR its first address, `*` an endpoint only `*` matches.
 */
export function endpointsOf (s: Selector, p: Policy, nodes: readonly PolicyNode[]): Endpoint[] {
  const byName = (name: string): Endpoint => {
    const n = nodes.find(x => x.name === name)
    return n === undefined ? { names: new Set([name]), tags: new Set(), ip: null } : nodeEndpoint(n)
  }
  const none = new Set<string>()
  switch (s.kind) {
    case 'any': return [{ names: none, tags: none, ip: null }]
    case 'node': return [byName(s.name)]
    case 'group': return (p.groups.get(s.name) ?? []).map(byName)
    case 'tag': return [{ names: none, tags: new Set([s.name]), ip: null }]
    case 'host': return [{ names: none, tags: none, ip: parseCidr(p.hosts.get(s.name)!)!.base }]
    case 'cidr': return [{ names: none, tags: none, ip: parseCidr(s.cidr)!.base }]
  }
}

/** Whether selector `s` of policy `p` names endpoint `e`. */
export function matches (s: Selector, e: Endpoint, p: Policy): boolean {
  switch (s.kind) {
    case 'any': return true
    case 'node': return e.names.has(s.name)
    case 'group': return (p.groups.get(s.name) ?? []).some(m => e.names.has(m))
    case 'tag': return e.tags.has(s.name)
    case 'host': return e.ip !== null && cidrContains(parseCidr(p.hosts.get(s.name)!)!, e.ip)
    case 'cidr': return e.ip !== null && cidrContains(parseCidr(s.cidr)!, e.ip)
  }
}

/** What `p` says about `proto` traffic from `src` to `dst` on `port` (ignored for ICMP). */
export function decide (p: Policy, src: Endpoint, dst: Endpoint, proto: Proto, port: number): Decision {
  for (const r of p.acls) {
    if (!r.proto.includes(proto) || !r.src.some(s => matches(s, src, p))) continue
    const hit = r.dst.some(d => matches(d.selector, dst, p) && (proto === 'icmp' || d.ports.some(x => port >= x.from && port <= x.to)))
    if (hit) return { accept: true, rule: r.index }
  }
  return { accept: false, rule: null }
}

/**
 * Runs the policy's tests against `nodes` (none: offline, names stand for nodes with no tags). Throws
 * PolicyError at the first test that fails, saying which rule wrongly accepts or that none accepts.
 */
export function runTests (p: Policy, nodes: readonly PolicyNode[] = []): number {
  for (const [i, t] of p.tests.entries()) runTest(p, t, i, nodes)
  return p.tests.length
}

function runTest (p: Policy, t: PolicyTest, i: number, nodes: readonly PolicyNode[]): void {
  const name = (s: Selector): string => s.kind === 'any' ? '*' : s.kind === 'cidr' ? s.cidr : s.name
  for (const src of endpointsOf(t.src, p, nodes)) {
    for (const want of [true, false]) {
      for (const d of want ? t.accept : t.deny) {
        for (const dst of endpointsOf(d.selector, p, nodes)) {
          const got = decide(p, src, dst, t.proto, d.port)
          if (got.accept === want) continue
          const flow = `${name(t.src)} -> ${name(d.selector)}:${d.port}/${t.proto}`
          const rule = got.rule === null ? null : p.acls[got.rule]!
          throw new PolicyError(want
            ? `test ${i} fails: ${flow} should be accepted, but no rule accepts it`
            : `test ${i} fails: ${flow} should be denied, but rule ${rule!.index} (line ${rule!.at.line}) accepts it`, t.at)
        }
      }
    }
  }
}
