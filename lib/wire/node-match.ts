import { AmbiguousNodeError, NotFoundError } from '../errors.js'

/** What a node is named by on the command line. */
export interface Nameable { id: string, hostname: string, meshIp: string }

/**
 * The nodes `query` names: those whose id or mesh IP is `query`, or whose hostname is `query` ignoring case
 * (hostnames are DNS names). Each node appears once, in the order of `nodes`.
 */
export function matchNodes<T extends Nameable> (nodes: readonly T[], query: string): T[] {
  const q = query.trim()
  const lower = q.toLowerCase()
  return nodes.filter(n => n.id === q || n.meshIp === q || n.hostname.toLowerCase() === lower)
}

/**
 * The one node `query` names (see matchNodes). Throws NotFoundError when it names none, and
 * AmbiguousNodeError, carrying the candidates, when it names several: an operator picks one by id or
 * mesh IP, never the controller by a guess.
 */
export function resolveNode<T extends Nameable> (nodes: readonly T[], query: string): T {
  const found = matchNodes(nodes, query)
  if (found.length === 1) return found[0]!
  if (found.length === 0) throw new NotFoundError(`no node has the id, mesh IP or hostname "${query}" (\`weft nodes list\` shows them)`)
  throw new AmbiguousNodeError(`"${query}" names ${found.length} nodes; name one by its id or mesh IP`, found)
}
