/**
 * The node hostnames a policy document uses, and where: group members, rule sources and destinations, test
 * sources and destinations. parsePolicy takes any such name for a node, having no list of nodes; the
 * controller, which has one, refuses a name no node has, since a typo would otherwise match nothing and fail
 * silently. Pure: no IO.
 */
import { parseTree, type Node } from 'jsonc-parser'
import { PolicyError, type PolicyLocation } from '../errors.js'
import { locator, type Policy } from './document.js'

/** One use of a node hostname in a document. */
export interface NameUse { name: string, at: PolicyLocation }

/** Every use of a node hostname in `text`, in document order. `p` must be `parsePolicy(text)`. */
export function nodeNames (text: string, p: Policy): NameUse[] {
  const root = parseTree(text, [], { allowTrailingComma: true, disallowComments: false })
  const at = locator(text)
  const out: NameUse[] = []
  /** `kind`: a group member (always a hostname), a selector, or a selector with `:PORTS`. */
  const use = (n: Node | undefined, kind: 'member' | 'selector' | 'ports'): void => {
    if (n?.type !== 'string') return
    const s = n.value as string
    const name = kind === 'ports' ? s.slice(0, s.lastIndexOf(':')) : s
    if (kind === 'member' || isNodeName(name, p)) out.push({ name, at: at(n.offset) })
  }
  const items = (n: Node | undefined): Node[] => n?.type === 'array' ? n.children ?? [] : []
  for (const [key, section] of props(root)) {
    if (key === 'groups') {
      for (const [, members] of props(section)) for (const m of items(members)) use(m, 'member')
    } else if (key === 'acls') {
      for (const rule of items(section)) {
        const f = new Map(props(rule))
        for (const s of items(f.get('src'))) use(s, 'selector')
        for (const d of items(f.get('dst'))) use(d, 'ports')
      }
    } else if (key === 'tests') {
      for (const test of items(section)) {
        const f = new Map(props(test))
        use(f.get('src'), 'selector')
        for (const d of [...items(f.get('accept')), ...items(f.get('deny'))]) use(d, 'ports')
      }
    }
  }
  return out
}

/**
 * Throws PolicyError at the first node hostname in `text` that `hostnames` does not hold, with the hostname
 * that differs only in case when there is one. `p` must be `parsePolicy(text)`.
 */
export function checkNodeNames (text: string, p: Policy, hostnames: ReadonlySet<string>): void {
  for (const u of nodeNames(text, p)) {
    if (hostnames.has(u.name)) continue
    const lower = u.name.toLowerCase()
    const near = [...hostnames].find(h => h.toLowerCase() === lower)
    throw new PolicyError(`"${u.name}" is not the hostname of any node, nor a group, tag or host` +
      (near !== undefined ? ` (names are matched exactly; a node is called "${near}")` : ''), u.at)
  }
}

/** Whether selector text `s` of a checked policy names a node: it is none of `*`, a group, tag, host or address. */
function isNodeName (s: string, p: Policy): boolean {
  return s !== '*' && !/^(group|tag|autogroup):/.test(s) && !p.hosts.has(s) && !/^[\d./]+$/.test(s)
}

/** The properties of an object node as (key, value) pairs; none for anything else. */
function props (n: Node | undefined): Array<[string, Node | undefined]> {
  if (n?.type !== 'object') return []
  return (n.children ?? []).map(c => [c.children?.[0]?.value as string, c.children?.[1]])
}
