import { ConfigError } from '../lib/errors.js'
import type { NodeStatus } from '../lib/wire/api.js'
import { byHostname } from '../lib/wire/netmap.js'
import { ADMIN_FLAGS, ADMIN_USAGE, adminClient } from './admin-flags.js'
import { formatAge, formatTable, parseFlags, type Command } from './cli.js'

const USAGE = `Usage: weft nodes list [--json]
       weft nodes remove ID [--json]

list     every node, sorted by hostname: hostname, id, mesh IP, health, last seen, agent version,
         endpoints, and why the controller gives it that health
remove   revokes a node: its credential stops working, every daemon drops it

Columns of list:
  ADVERTISED   endpoints the node announces (its --endpoint flags, or its own addresses)
  OBSERVED     the address the controller sees the node's requests come from, with its WireGuard port
               (differs from ADVERTISED behind NAT; peers dial it when no advertised endpoint is an IP)
  REASON       the evidence behind HEALTH (controller heartbeats, peers' SWIM reports)

Flags:
  --json              machine-readable output (the same nodes, same order)
${ADMIN_USAGE}
`

/** The table `weft nodes list` prints; `nodes` must already be sorted (byHostname). */
export function renderNodes (nodes: readonly NodeStatus[], now = Date.now()): string {
  return formatTable(
    ['HOSTNAME', 'ID', 'MESH IP', 'HEALTH', 'LAST SEEN', 'VERSION', 'ADVERTISED', 'OBSERVED', 'REASON'],
    nodes.map(n => [n.hostname, n.id, n.meshIp, n.health, formatAge(n.lastSeenAt, now), n.agentVersion ?? '-',
      n.endpoints.join(',') || '-', n.observedEndpoint ?? '-', n.healthReason || '-'])
  )
}

/** `weft nodes list|remove`. */
export const command: Command = {
  summary: 'list and remove nodes (admin)',
  async run (argv) {
    const p = parseFlags(argv, { ...ADMIN_FLAGS, json: { type: 'boolean' } }, USAGE, true)
    if (p === null) return 0
    const [sub, ...args] = p.positionals
    const json = p.values.json === true
    if (sub === 'list' && args.length === 0) {
      const nodes = [...(await (await adminClient(p.values)).listNodes()).nodes].sort(byHostname)
      process.stdout.write(json ? JSON.stringify({ nodes }, null, 2) + '\n' : renderNodes(nodes))
      return 0
    }
    if (sub === 'remove' && args.length === 1) {
      await (await adminClient(p.values)).removeNode(args[0]!)
      process.stdout.write(json ? JSON.stringify({ removed: args[0] }) + '\n' : `removed ${args[0]}\n`)
      return 0
    }
    throw new ConfigError(`expected \`weft nodes list\` or \`weft nodes remove ID\`\n\n${USAGE}`)
  }
}
