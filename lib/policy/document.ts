/**
 * The access policy document (docs/policy.md): JSON with comments and trailing commas, as operators write
 * HuJSON, in the shape operators know from Tailscale: `groups`, `tagOwners`, `hosts`, `acls` and `tests`.
 * parsePolicy turns its text into a checked Policy, or throws PolicyError pointing at the line and column of
 * the first thing wrong: a syntax error, a key or value of the wrong shape, or a group, tag or host the
 * document uses without defining it. Pure: no IO.
 */
import { parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser'
import { PolicyError, type PolicyLocation } from '../errors.js'
import { formatIPv4, parseCidr, parseIPv4 } from '../wire/addr.js'

/** Who or what a rule names: everything, a node (by hostname), a group, a tag, a named host, or an address range. */
export type Selector =
  | { kind: 'any' }
  | { kind: 'node', name: string }
  | { kind: 'group', name: string }
  | { kind: 'tag', name: string }
  | { kind: 'host', name: string }
  | { kind: 'cidr', cidr: string }

/** An inclusive port range; `*` is 0-65535. */
export interface PortRange { from: number, to: number }

/** A protocol a rule or test names; a rule without `proto` covers all three. */
export type Proto = 'tcp' | 'udp' | 'icmp'

/** A destination of a rule: who, and which ports (ICMP has none: any range admits it). */
export interface Destination { selector: Selector, ports: PortRange[] }

/** One accept rule, `index` its place in `acls` (the rule that decides is named by it). */
export interface AclRule { index: number, src: Selector[], dst: Destination[], proto: Proto[], at: PolicyLocation }

/** One assertion of `tests`: `src` may reach each of `accept` and may reach none of `deny`. */
export interface PolicyTest {
  src: Selector
  accept: Array<{ selector: Selector, port: number }>
  deny: Array<{ selector: Selector, port: number }>
  proto: Proto
  at: PolicyLocation
}

/** One use of a node hostname in a document: a group member, or a selector that names a node. */
export interface NodeNameUse { name: string, at: PolicyLocation }

/** A checked policy. */
export interface Policy {
  /** group:name -> node hostnames. */
  groups: Map<string, string[]>
  /** tag:name -> who may put it on a node (`autogroup:admin`, the only one that does in Weft). */
  tagOwners: Map<string, string[]>
  /** name -> CIDR (an address becomes a /32). */
  hosts: Map<string, string>
  acls: AclRule[]
  tests: PolicyTest[]
  /**
   * Every use of a node hostname, in document order. Offline nothing says which hostnames exist; the controller,
   * which knows its nodes, refuses a name none has (names.ts), since a typo would otherwise match nothing.
   */
  nodeNames: NodeNameUse[]
}

/** The owner that assigns tags in Weft: the admin, with `weft nodes tag` or a token made with `--tag`. */
export const ADMIN_OWNER = 'autogroup:admin'

const PROTOS: readonly Proto[] = ['tcp', 'udp', 'icmp']
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/
const TOP_KEYS = ['groups', 'tagOwners', 'hosts', 'acls', 'tests'] as const

/** Most bytes a policy document may have; a larger one is refused before parsing. */
export const MAX_POLICY_BYTES = 1 << 20

/** Parses and checks a policy document; throws PolicyError at the first problem. */
export function parsePolicy (text: string): Policy {
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) throw new PolicyError(`the policy is larger than ${MAX_POLICY_BYTES} bytes`)
  const at = locator(text)
  const errors: ParseError[] = []
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false })
  if (errors.length > 0) throw new PolicyError(`not valid JSON: ${describe(printParseErrorCode(errors[0]!.error))}`, at(errors[0]!.offset))
  if (root === undefined || root.type !== 'object') throw new PolicyError('the policy must be a JSON object', at(root?.offset ?? 0))
  const fail = (n: Node, msg: string): never => { throw new PolicyError(msg, at(n.offset)) }
  const p: Policy = { groups: new Map(), tagOwners: new Map(), hosts: new Map(), acls: [], tests: [], nodeNames: [] }
  const nameAt = (n: Node): void => { p.nodeNames.push({ name: n.value as string, at: at(n.offset) }) }
  const sections = new Map<string, Node>()
  for (const prop of root.children ?? []) {
    const [k, v] = prop.children as [Node, Node]
    const key = k.value as string
    if (!(TOP_KEYS as readonly string[]).includes(key)) fail(k, `unknown section "${key}"; a policy has ${TOP_KEYS.join(', ')}`)
    if (sections.has(key)) fail(k, `section "${key}" appears twice`)
    sections.set(key, v)
  }
  // Definitions first, so the rules and tests can be checked against them whatever their order in the text.
  for (const [name, list] of entries(sections.get('groups'), 'groups', fail)) {
    if (!/^group:/.test(name.value as string) || !NAME_RE.test((name.value as string).slice(6))) fail(name, `"${String(name.value)}" is not a group name such as group:ops`)
    p.groups.set(name.value as string, strings(list, fail).map(m => {
      if (!NAME_RE.test(m.value as string)) fail(m, `group members are node hostnames; "${String(m.value)}" is not one`)
      nameAt(m)
      return m.value as string
    }))
  }
  for (const [name, list] of entries(sections.get('tagOwners'), 'tagOwners', fail)) {
    if (!/^tag:/.test(name.value as string) || !NAME_RE.test((name.value as string).slice(4))) fail(name, `"${String(name.value)}" is not a tag such as tag:web`)
    p.tagOwners.set(name.value as string, strings(list, fail).map(o => {
      if (o.value !== ADMIN_OWNER) fail(o, `tag owners can only be "${ADMIN_OWNER}": in Weft the admin puts tags on nodes`)
      return o.value as string
    }))
  }
  for (const [name, value] of entries(sections.get('hosts'), 'hosts', fail)) {
    const n = name.value as string
    if (!NAME_RE.test(n) || n.includes(':')) fail(name, `"${n}" is not a host name (letters, digits, "-", "_", ".")`)
    if (value.type !== 'string') fail(value, `host ${n} must be an IPv4 address or CIDR`)
    p.hosts.set(n, cidrOf(value.value as string) ?? fail(value, `host ${n}: "${String(value.value)}" is not an IPv4 address or CIDR`))
  }
  const sel = (n: Node): Selector => {
    const s = selector(n, p, fail)
    if (s.kind === 'node') nameAt(n)
    return s
  }
  const acls = sections.get('acls')
  if (acls !== undefined) {
    if (acls.type !== 'array') fail(acls, '"acls" must be a list of rules')
    for (const [index, rule] of (acls.children ?? []).entries()) {
      const f = fields(rule, ['action', 'src', 'dst', 'proto'], `rule ${index}`, fail)
      if (f.action?.value !== 'accept') fail(f.action ?? rule, `rule ${index}: "action" must be "accept" (anything not accepted is dropped)`)
      const src = strings(f.src ?? fail(rule, `rule ${index} has no "src"`), fail).map(sel)
      const dst = strings(f.dst ?? fail(rule, `rule ${index} has no "dst"`), fail).map(d => {
        const { target, ports } = splitPorts(d, fail)
        return { selector: sel(target), ports: ports.split(',').map(r => portRange(r, d, fail)) }
      })
      p.acls.push({ index, src, dst, proto: f.proto === undefined ? [...PROTOS] : [proto(f.proto, fail)], at: at(rule.offset) })
    }
  }
  const tests = sections.get('tests')
  if (tests !== undefined) {
    if (tests.type !== 'array') fail(tests, '"tests" must be a list')
    for (const [i, test] of (tests.children ?? []).entries()) {
      const f = fields(test, ['src', 'accept', 'deny', 'proto'], `test ${i}`, fail)
      const src = f.src ?? fail(test, `test ${i} has no "src"`)
      if (src.type !== 'string') fail(src, `test ${i}: "src" is one name or address`)
      const dsts = (n: Node | undefined): Array<{ selector: Selector, port: number }> => n === undefined
        ? []
        : strings(n, fail).map(d => {
          const { target, ports } = splitPorts(d, fail)
          const r = portRange(ports, d, fail)
          if (r.from !== r.to) fail(d, `a test names one port: "${String(d.value)}"`)
          return { selector: sel(target), port: r.from }
        })
      const testProto = f.proto === undefined ? 'tcp' : proto(f.proto, fail)
      p.tests.push({ src: sel(src), accept: dsts(f.accept), deny: dsts(f.deny), proto: testProto, at: at(test.offset) })
    }
  }
  p.nodeNames.sort((a, b) => a.at.line - b.at.line || a.at.column - b.at.column)
  return p
}

/** The name or address `n` (a string node) as a Selector; a group, tag or host must be defined in `p`. */
function selector (n: Node, p: Policy, fail: (n: Node, msg: string) => never): Selector {
  const s = n.value as string
  if (s === '*') return { kind: 'any' }
  if (s.startsWith('group:')) return p.groups.has(s) ? { kind: 'group', name: s } : fail(n, `${s} is not defined in "groups"`)
  if (s.startsWith('tag:')) return p.tagOwners.has(s) ? { kind: 'tag', name: s } : fail(n, `${s} is not defined in "tagOwners"`)
  if (s.startsWith('autogroup:')) return fail(n, `${s}: Weft has no autogroups in rules; use "*", a group or a tag`)
  if (p.hosts.has(s)) return { kind: 'host', name: s }
  const cidr = cidrOf(s)
  if (cidr !== null) return { kind: 'cidr', cidr }
  if (/^[\d./]+$/.test(s)) return fail(n, `"${s}" is not an IPv4 address or CIDR (CIDRs have no host bits set)`)
  if (!NAME_RE.test(s)) return fail(n, `"${s}" is not "*", a node's hostname, group:x, tag:x, a host from "hosts", or an IPv4 address or CIDR`)
  return { kind: 'node', name: s }
}

/** `target:ports` split at the last colon; the ports part must be there. */
function splitPorts (n: Node, fail: (n: Node, msg: string) => never): { target: Node, ports: string } {
  const s = n.value as string
  const i = s.lastIndexOf(':')
  if (i <= 0 || i === s.length - 1 || s.slice(0, i) === 'tag' || s.slice(0, i) === 'group') {
    return fail(n, `"${s}" needs its ports: NAME:PORTS, such as tag:db:5432, *:*, web:80,443 or 192.0.2.0/24:1000-2000`)
  }
  return { target: { ...n, value: s.slice(0, i) }, ports: s.slice(i + 1) }
}

function portRange (s: string, n: Node, fail: (n: Node, msg: string) => never): PortRange {
  if (s === '*') return { from: 0, to: 65535 }
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s)
  const from = Number(m?.[1])
  const to = m?.[2] === undefined ? from : Number(m[2])
  if (m === null || from > 65535 || to > 65535 || from > to) return fail(n, `"${s}" in "${String(n.value)}" is not a port, a range such as 1000-2000, or *`)
  return { from, to }
}

function proto (n: Node, fail: (n: Node, msg: string) => never): Proto {
  if (!(PROTOS as readonly unknown[]).includes(n.value)) fail(n, `"proto" must be one of ${PROTOS.join(', ')}`)
  return n.value as Proto
}

/** An IPv4 address (as /32) or CIDR in canonical form, or null. */
function cidrOf (s: string): string | null {
  if (parseIPv4(s) !== null) return `${s}/32`
  const c = parseCidr(s)
  return c === null ? null : `${formatIPv4(c.base)}/${c.prefix}`
}

/** The properties of an object section (key node, value node); nothing when the section is absent. */
function entries (n: Node | undefined, name: string, fail: (n: Node, msg: string) => never): Array<[Node, Node]> {
  if (n === undefined) return []
  if (n.type !== 'object') fail(n, `"${name}" must be an object`)
  const seen = new Set<string>()
  return (n.children ?? []).map(prop => {
    const [k, v] = prop.children as [Node, Node]
    if (seen.has(k.value as string)) fail(k, `"${String(k.value)}" appears twice in "${name}"`)
    seen.add(k.value as string)
    return [k, v]
  })
}

/** The string items of a list node. */
function strings (n: Node, fail: (n: Node, msg: string) => never): Node[] {
  if (n.type !== 'array') fail(n, 'expected a list of strings')
  return (n.children ?? []).map(c => c.type === 'string' ? c : fail(c, 'expected a string'))
}

/** The known fields of an object node by name; an unknown one is refused. */
function fields (n: Node, known: readonly string[], what: string, fail: (n: Node, msg: string) => never): Record<string, Node | undefined> {
  if (n.type !== 'object') fail(n, `${what} must be an object`)
  const out: Record<string, Node | undefined> = {}
  for (const [k, v] of entries(n, what, fail)) {
    if (!known.includes(k.value as string)) fail(k, `${what}: unknown field "${String(k.value)}"; known: ${known.join(', ')}`)
    out[k.value as string] = v
  }
  return out
}

/** 1-based line and column of each offset of `text`. */
function locator (text: string): (offset: number) => PolicyLocation {
  const starts = [0]
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1)
  return offset => {
    let lo = 0
    let hi = starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (starts[mid]! <= offset) lo = mid
      else hi = mid - 1
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 }
  }
}

/** jsonc-parser's error names as a sentence. */
function describe (code: string): string {
  return code.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()
}
