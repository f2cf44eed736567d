/**
 * An operator's question to a policy: may SRC reach DST on PORT? Names resolve against the real nodes: a
 * hostname or mesh IP is each node that has it, with its tags and address; a group is each of its members;
 * a tag, host, address or `*` is what endpointsOf makes of it. Each (source, destination) pair gets the
 * policy's answer and the rule that decides it. Pure: no IO.
 */
import { InvalidInputError } from '../errors.js'
import { parseCidr, parseIPv4 } from '../wire/addr.js'
import type { PolicyFlow } from '../wire/api.js'
import { isTag } from '../wire/tags.js'
import type { Policy, Proto, Selector } from './document.js'
import { decide, endpointsOf, nodeEndpoint, type Endpoint, type PolicyNode } from './evaluate.js'

/** One endpoint a name stands for, with how to show it. */
interface Named { label: string, endpoint: Endpoint }

/**
 * Splits `NAME:PORT` at its last colon. ICMP has no ports, so for it a bare NAME (`tag:web`) is taken too.
 * Throws InvalidInputError for a missing or impossible port.
 */
export function splitDestination (dst: string, proto: Proto): { name: string, port: number } {
  const i = dst.lastIndexOf(':')
  const tail = dst.slice(i + 1)
  if (i > 0 && /^\d{1,5}$/.test(tail) && Number(tail) <= 65535) return { name: dst.slice(0, i), port: Number(tail) }
  if (proto === 'icmp' && dst !== '') return { name: dst, port: 0 }
  throw new InvalidInputError(`destination "${dst}" needs one port, 0-65535: NAME:PORT, such as db-1:5432 or tag:db:5432`)
}

/** What `p` says about `proto` traffic from each endpoint `src` names to each `dst` (`NAME:PORT`) names. */
export function askPolicy (p: Policy, nodes: readonly PolicyNode[], src: string, dst: string, proto: Proto): { port: number, flows: PolicyFlow[] } {
  const d = splitDestination(dst, proto)
  const froms = resolve(src, p, nodes)
  const tos = resolve(d.name, p, nodes)
  const flows: PolicyFlow[] = []
  for (const f of froms) {
    for (const t of tos) {
      const got = decide(p, f.endpoint, t.endpoint, proto, d.port)
      flows.push({ src: f.label, dst: t.label, accept: got.accept, rule: got.rule, line: got.rule === null ? null : p.acls[got.rule]!.at.line })
    }
  }
  return { port: d.port, flows }
}

/** The endpoints `name` stands for; throws InvalidInputError when it names nothing the policy or the nodes know. */
function resolve (name: string, p: Policy, nodes: readonly PolicyNode[]): Named[] {
  const asNode = (n: PolicyNode): Named => ({ label: `${n.name} (${n.ip})`, endpoint: nodeEndpoint(n) })
  const abstract = (s: Selector): Named[] => endpointsOf(s, p, nodes).map(endpoint => ({ label: name, endpoint }))
  if (name === '*') return abstract({ kind: 'any' })
  if (name.startsWith('group:')) {
    const members = p.groups.get(name)
    if (members === undefined) throw new InvalidInputError(`${name} is not defined in the policy's "groups"`)
    return members.flatMap(m => {
      const found = nodes.filter(n => n.name === m)
      return found.length > 0 ? found.map(asNode) : [{ label: `${m} (no such node)`, endpoint: { names: new Set([m]), tags: new Set(), ip: null } }]
    })
  }
  if (name.startsWith('tag:')) {
    if (!isTag(name)) throw new InvalidInputError(`"${name}" is not a tag such as tag:web`)
    return abstract({ kind: 'tag', name })
  }
  if (p.hosts.has(name)) return abstract({ kind: 'host', name })
  if (parseIPv4(name) !== null) {
    const found = nodes.filter(n => n.ip === name)
    return found.length > 0 ? found.map(asNode) : abstract({ kind: 'cidr', cidr: `${name}/32` })
  }
  const cidr = parseCidr(name)
  if (cidr !== null) return abstract({ kind: 'cidr', cidr: name })
  const found = nodes.filter(n => n.name === name)
  if (found.length > 0) return found.map(asNode)
  throw new InvalidInputError(`"${name}" is not the hostname or mesh IP of any node, nor "*", a group, tag or host of the policy, nor an IPv4 address or CIDR`)
}
