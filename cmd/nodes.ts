import { ConfigError } from '../lib/errors.js'
import { ADMIN_FLAGS, ADMIN_USAGE, adminClient } from './admin-flags.js'
import { formatAge, formatTable, parseFlags, type Command } from './cli.js'

const USAGE = `Usage: weft nodes list [--json]
       weft nodes remove ID [--json]

list     every node: id, hostname, mesh IP, endpoints, health, last seen, agent version
remove   revokes a node: its credential stops working, every daemon drops it

Flags:
  --json              machine-readable output
${ADMIN_USAGE}
`

/** `weft nodes list|remove`. */
export const command: Command = {
  summary: 'list and remove nodes (admin)',
  async run (argv) {
    const p = parseFlags(argv, { ...ADMIN_FLAGS, json: { type: 'boolean' } }, USAGE, true)
    if (p === null) return 0
    const [sub, ...args] = p.positionals
    const json = p.values.json === true
    if (sub === 'list' && args.length === 0) {
      const { nodes } = await (await adminClient(p.values)).listNodes()
      if (json) {
        process.stdout.write(JSON.stringify({ nodes }, null, 2) + '\n')
        return 0
      }
      const now = Date.now()
      process.stdout.write(formatTable(
        ['ID', 'HOSTNAME', 'MESH IP', 'ENDPOINTS', 'HEALTH', 'LAST SEEN', 'VERSION'],
        nodes.map(n => [n.id, n.hostname, n.meshIp, [...n.endpoints, ...(n.observedEndpoint !== null ? [`(${n.observedEndpoint})`] : [])].join(',') || '-',
          n.health, formatAge(n.lastSeenAt, now), n.agentVersion ?? '-'])
      ))
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
