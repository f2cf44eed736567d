import { ConfigError } from '../lib/errors.js'
import { ADMIN_FLAGS, ADMIN_USAGE, adminClient } from './admin-flags.js'
import { parseDuration, parseFlags, type Command } from './cli.js'

const USAGE = `Usage: weft token create [--reusable] [--ttl 24h] [--json]

Creates a join token and prints it (bare, on stdout). Single-use unless --reusable.

Flags:
  --reusable          the token may admit any number of nodes until it expires
  --ttl DUR           lifetime, e.g. 30m, 24h, 7d (default 24h)
  --json              print {"token","reusable","expiresAt"} instead of the bare token
${ADMIN_USAGE}
`

/** `weft token create`. */
export const command: Command = {
  summary: 'manage join tokens (admin)',
  async run (argv) {
    const p = parseFlags(argv, { ...ADMIN_FLAGS, reusable: { type: 'boolean' }, ttl: { type: 'string' }, json: { type: 'boolean' } }, USAGE, true)
    if (p === null) return 0
    const [sub, ...extra] = p.positionals
    if (sub !== 'create' || extra.length > 0) throw new ConfigError(`expected \`weft token create\`\n\n${USAGE}`)
    const ttlMs = parseDuration(p.values.ttl ?? '24h', '--ttl')
    const client = await adminClient(p.values)
    const t = await client.createToken({ reusable: p.values.reusable === true, ttlMs })
    process.stdout.write(p.values.json === true ? JSON.stringify(t) + '\n' : t.token + '\n')
    return 0
  }
}
