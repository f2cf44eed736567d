import { AmbiguousNodeError, NotFoundError } from '../errors.js'

/** What a node is named by on the command line: its DNS label and full name too, where the caller has them. */
export interface Nameable { id: string, hostname: string, meshIp: string, name?: string, dnsName?: string | null }

/**
 * The nodes `query` names: those whose id or mesh IP is `query`, or whose hostname, DNS label or full DNS name is
 * `query` ignoring case (and a trailing dot). Each node appears once, in the order of `nodes`.
 */
export function matchNodes<T extends Nameable> (nodes: readonly T[], query: string): T[] {
  const q = query.trim()
  const lower = q.toLowerCase().replace(/\.$/, '')
  return nodes.filter(n => n.id === q || n.meshIp === q || n.hostname.toLowerCase() === lower || n.name === lower || n.dnsName === lower)
}

/**
 * The one node `query` names (see matchNodes). Throws NotFoundError when it names none, and
 * AmbiguousNodeError, carrying the candidates, when it names several: an operator picks one by id or
 * mesh IP, never the controller by a guess.
 */
export function resolveNode<T extends Nameable> (nodes: readonly T[], query: string): T {
  const found = matchNodes(nodes, query)
  if (found.length === 1) return found[0]!
  if (found.length === 0) throw new NotFoundError(`no node has the id, mesh IP, hostname or name "${query}" (\`weft nodes list\` shows them)`)
  throw new AmbiguousNodeError(`"${query}" names ${found.length} nodes; name one by its id, mesh IP or DNS name`, found)
}
