import { AmbiguousNodeError, ConfigError } from '../lib/errors.js'
import type { AdminClient } from '../lib/control/admin-client.js'
import { resolveNode } from '../lib/wire/node-match.js'
import type { NodeExpiryRequest, NodeStatus } from '../lib/wire/api.js'
import { byHostname } from '../lib/wire/netmap.js'
import { checkTags } from '../lib/wire/tags.js'
import { ADMIN_FLAGS, ADMIN_USAGE, adminClient } from './admin-flags.js'
import { formatAge, formatTable, formatUntil, parseDuration, parseFlags, type Command } from './cli.js'

const USAGE = `Usage: weft nodes list [--json]
       weft nodes remove NODE [--json]
       weft nodes expire NODE (--in DUR | --at TIME | --never) [--json]
       weft nodes tag NODE (TAG... | --clear) [--json]
       weft nodes rename NODE NAME [--json]

NODE is a node's id, mesh IP, hostname or name (NAME.DOMAIN, or NAME alone). A hostname that fits several
nodes is refused, with the candidates listed: name one of them by id, mesh IP or name.

list     every node, sorted by hostname: hostname, id, mesh IP, health, last seen, expiry, agent version,
         endpoints, and why the controller gives it that health
remove   revokes a node: its credential stops working, every daemon drops it, its mesh IP is quarantined
expire   sets when a node's credential stops working; the controller then removes it as \`remove\` does
rename   gives a node the DNS name NAME.DOMAIN (NAME: letters, digits and -, unique in the mesh); every
         daemon's resolver answers for it within a second, and no longer for the old name (docs/dns.md)
tag      replaces a node's tags with TAG... (tag:web tag:prod), or removes them all with --clear; the access
         policy names nodes by them (docs/policy.md, "Tags"). With a policy set, each tag must be declared
         in its tagOwners. A node that joins again with a token made with --tag gets that token's tags.

Columns of list:
  NAME         the node's DNS name, unique in the mesh: its hostname, with -2, -3... when another node
               had it first, or what \`rename\` set (docs/dns.md)
  EXPIRES      when the node's credential stops working (set by \`expire\`, or at join by a token made
               with --node-ttl); - for never
  ADVERTISED   endpoints the node announces (its --endpoint flags, or its own addresses)
  OBSERVED     the address the controller sees the node's requests come from, with its WireGuard port
               (differs from ADVERTISED behind NAT; peers dial it when no advertised endpoint is an IP)
  ROUTES       subnet routes and \`exit\` the node carries; * marks one awaiting approval (\`weft routes\`)
  TAGS         the node's tags (\`tag\`, or the token it joined with); - for none
  REASON       the evidence behind HEALTH (controller heartbeats, peers' SWIM reports)

Flags:
  --in DUR            expire: this long from now on the controller's clock, e.g. 12h, 30d
  --at TIME           expire: at this time, ISO 8601 (2025-06-30T18:00:00Z, or a date: 2025-06-30 is midnight UTC)
  --never             expire: the node no longer expires
  --clear             tag: remove every tag of the node
  --json              machine-readable output (the same nodes, same order)
${ADMIN_USAGE}
`

/** The table `weft nodes list` prints; `nodes` must already be sorted (byHostname). */
export function renderNodes (nodes: readonly NodeStatus[], now = Date.now()): string {
  return formatTable(
    ['HOSTNAME', 'NAME', 'ID', 'MESH IP', 'HEALTH', 'LAST SEEN', 'EXPIRES', 'VERSION', 'ADVERTISED', 'OBSERVED', 'ROUTES', 'TAGS', 'REASON'],
    nodes.map(n => [n.hostname, n.dnsName ?? '-', n.id, n.meshIp, n.health, formatAge(n.lastSeenAt, now), formatUntil(n.expiresAt, now), n.agentVersion ?? '-',
      n.endpoints.join(',') || '-', n.observedEndpoint ?? '-', routesCell(n), n.tags.join(',') || '-', n.healthReason || '-'])
  )
}

/** The ROUTES cell: advertised routes (and `exit`), each marked `*` while it awaits approval. */
function routesCell (n: NodeStatus): string {
  const r = n.routing
  const ok = new Set(r.approved)
  const cells = r.advertised.map(a => ok.has(a) ? a : `${a}*`)
  if (r.exitNode.advertised) cells.push(r.exitNode.approved ? 'exit' : 'exit*')
  return cells.join(',') || '-'
}

/** The refusal of an ambiguous NODE: the sentence, then the candidates (NodeStatus rows) as a table. */
export function renderAmbiguous (err: AmbiguousNodeError, now = Date.now()): string {
  const rows = [...(err.candidates as readonly NodeStatus[])].sort(byHostname)
  const table = formatTable(['ID', 'MESH IP', 'HOSTNAME', 'NAME', 'HEALTH', 'LAST SEEN'],
    rows.map(n => [n.id, n.meshIp, n.hostname, n.dnsName ?? '-', n.health, formatAge(n.lastSeenAt, now)]))
  return `weft: ${err.message} (${err.code})\n` + table.split('\n').map(l => (l === '' ? l : '  ' + l)).join('\n')
}

/** "web-1 (n3f9a0c1d2e4b5a69, 100.64.0.7)": how commands name the node they acted on. */
export function named (n: NodeStatus): string {
  return `${n.hostname} (${n.id}, ${n.meshIp})`
}

/** The expiry request the flags of `weft nodes expire` ask for. */
function expiryRequest (v: { in?: string, at?: string, never?: boolean }): NodeExpiryRequest {
  const given = [v.in !== undefined, v.at !== undefined, v.never === true].filter(Boolean).length
  if (given !== 1) throw new ConfigError(`weft nodes expire takes exactly one of --in DUR, --at TIME and --never\n\n${USAGE}`)
  if (v.in !== undefined) return { ttlMs: parseDuration(v.in, '--in') }
  if (v.never === true) return { expiresAt: null }
  const at = /^\d{4}-\d{2}-\d{2}$/.test(v.at!) ? Date.parse(`${v.at!}T00:00:00Z`) : /^\d{4}-\d{2}-\d{2}T/.test(v.at!) ? Date.parse(v.at!) : NaN
  if (!Number.isFinite(at)) throw new ConfigError(`--at must be an ISO 8601 time such as 2025-06-30T18:00:00Z or a date such as 2025-06-30 (got "${v.at!}")`)
  return { expiresAt: at }
}

/**
 * The node NODE names, from the controller's list (resolveNode). An ambiguous NODE is written to stderr with
 * its candidates, and gives null: the command changes nothing and exits 1.
 */
export async function resolve (client: AdminClient, query: string): Promise<NodeStatus | null> {
  try {
    return resolveNode((await client.listNodes()).nodes, query)
  } catch (err) {
    if (!(err instanceof AmbiguousNodeError)) throw err
    process.stderr.write(renderAmbiguous(err))
    return null
  }
}

/** The tags `weft nodes tag` asks for: TAG... checked and sorted, or none with --clear (exactly one of the two). */
function tagsRequest (args: readonly string[], clear: boolean): string[] {
  if (clear && args.length > 0) throw new ConfigError(`weft nodes tag takes TAG... or --clear, not both\n\n${USAGE}`)
  if (!clear && args.length === 0) throw new ConfigError(`weft nodes tag NODE needs the tags to set (tag:web ...), or --clear to remove them all\n\n${USAGE}`)
  const c = checkTags(args)
  if ('error' in c) throw new ConfigError(c.error)
  return c.tags
}

/** `weft nodes list|remove|expire|tag`. */
export const command: Command = {
  summary: 'list, remove, expire, tag and rename nodes (admin)',
  async run (argv) {
    const p = parseFlags(argv, {
      ...ADMIN_FLAGS,
      json: { type: 'boolean' },
      in: { type: 'string' },
      at: { type: 'string' },
      never: { type: 'boolean' },
      clear: { type: 'boolean' }
    }, USAGE, true)
    if (p === null) return 0
    const [sub, ...args] = p.positionals
    const json = p.values.json === true
    if (sub !== 'expire' && (p.values.in !== undefined || p.values.at !== undefined || p.values.never !== undefined)) {
      throw new ConfigError(`--in, --at and --never belong to \`weft nodes expire\`\n\n${USAGE}`)
    }
    if (sub !== 'tag' && p.values.clear !== undefined) throw new ConfigError(`--clear belongs to \`weft nodes tag\`\n\n${USAGE}`)
    if (sub === 'list' && args.length === 0) {
      const nodes = [...(await (await adminClient(p.values)).listNodes()).nodes].sort(byHostname)
      process.stdout.write(json ? JSON.stringify({ nodes }, null, 2) + '\n' : renderNodes(nodes))
      return 0
    }
    if (sub === 'remove' && args.length === 1) {
      const client = await adminClient(p.values)
      const n = await resolve(client, args[0]!)
      if (n === null) return 1
      await client.removeNode(n.id)
      process.stdout.write(json
        ? JSON.stringify({ removed: n.id, hostname: n.hostname, meshIp: n.meshIp }) + '\n'
        : `removed ${named(n)}: its credential no longer works and ${n.meshIp} is quarantined\n`)
      return 0
    }
    if (sub === 'expire' && args.length === 1) {
      const req = expiryRequest(p.values)
      const client = await adminClient(p.values)
      const target = await resolve(client, args[0]!)
      if (target === null) return 1
      const n = await client.setNodeExpiry(target.id, req)
      process.stdout.write(json
        ? JSON.stringify(n, null, 2) + '\n'
        : n.expiresAt === null
          ? `${named(n)} no longer expires\n`
          : `${named(n)} expires at ${new Date(n.expiresAt).toISOString()} (${formatUntil(n.expiresAt)}); the controller then removes it\n`)
      return 0
    }
    if (sub === 'tag' && args.length >= 1) {
      const tags = tagsRequest(args.slice(1), p.values.clear === true)
      const client = await adminClient(p.values)
      const target = await resolve(client, args[0]!)
      if (target === null) return 1
      const n = await client.setNodeTags(target.id, { tags })
      process.stdout.write(json
        ? JSON.stringify(n, null, 2) + '\n'
        : `${named(n)}: ${n.tags.length === 0 ? 'no tags' : `tags ${n.tags.join(' ')}`} (were ${target.tags.join(' ') || 'none'})\n`)
      return 0
    }
    if (sub === 'rename' && args.length === 2) {
      const client = await adminClient(p.values)
      const target = await resolve(client, args[0]!)
      if (target === null) return 1
      const n = await client.renameNode(target.id, { name: args[1]! })
      process.stdout.write(json
        ? JSON.stringify(n, null, 2) + '\n'
        : `${named(n)} is ${n.dnsName ?? '-'} (was ${target.dnsName ?? 'unnamed'})\n`)
      return 0
    }
    throw new ConfigError('expected `weft nodes list`, `weft nodes remove NODE`, `weft nodes expire NODE`, `weft nodes tag NODE` or ' +
      `\`weft nodes rename NODE NAME\`\n\n${USAGE}`)
  }
}
