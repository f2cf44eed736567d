import { ConfigError } from '../lib/errors.js'
import { hashSecret } from '../lib/control/auth.js'
import { tokenId } from '../lib/control/tokens.js'
import type { CreateTokenResponse, TokenInfo } from '../lib/wire/api.js'
import { checkTags } from '../lib/wire/tags.js'
import { ADMIN_FLAGS, ADMIN_USAGE, adminClient } from './admin-flags.js'
import { formatAge, formatSpan, formatTable, formatUntil, parseDuration, parseFlags, type Command } from './cli.js'

const USAGE = `Usage: weft token create [--reusable] [--ttl 24h] [--description TEXT] [--node-ttl DUR] [--tag TAG]... [--json]
       weft token create --viewer [--ttl 24h] [--description TEXT] [--json]
       weft token list [--json]
       weft token revoke ID [--json]

create   makes a join token and prints it, bare, on stdout (its id goes to stderr). Single-use unless
         --reusable. With --viewer, a viewer key instead: it signs in to the dashboard (/ui/ on the
         controller) and reads the read-only API, and admits no node (docs/dashboard.md).
list     every token on record, oldest first: id, state, kind, uses, created, expires, last used, node TTL,
         tags, description. Never the token itself. Tokens that expired, were spent or revoked stay listed for
         the controller's --token-retention (7 days by default).
revoke   the token admits nobody from now on. Nodes it already admitted stay (weft nodes remove NODE).
         ID is the id list shows; a leaked token or key itself (wt_..., wv_...) is taken too, and its id worked out here.

States: active (admits nodes), spent (a single-use token admitted its node), expired, revoked.

Flags:
  --reusable          create: the token may admit any number of nodes until it expires
  --viewer            create: a viewer key (wv_...), read-only, for the dashboard and scripts; listed and
                      revoked like the join tokens
  --ttl DUR           create: lifetime, e.g. 30m, 24h, 7d (default 24h, at most 365d)
  --description TEXT  create: what the token is for, shown by list (up to 200 characters; not secret)
  --node-ttl DUR      create: nodes that join with it expire this long after joining, e.g. 30d
                      (default: they do not expire; weft nodes expire changes it per node)
  --tag TAG           create: every node that joins with it gets this tag (repeat for several); its tags then
                      replace the node's own. With an access policy set, each must be declared in its
                      tagOwners (docs/policy.md, "Tags")
  --json              create: {"token","id","reusable","expiresAt","description","nodeTtlMs","tags"} instead of
                      the bare token; list: {"tokens":[...]}; revoke: the revoked token's listing
${ADMIN_USAGE}
`

/** The table `weft token list` prints. */
export function renderTokens (tokens: readonly TokenInfo[], now = Date.now()): string {
  return formatTable(
    ['ID', 'STATE', 'KIND', 'USES', 'CREATED', 'EXPIRES', 'LAST USED', 'NODE TTL', 'TAGS', 'DESCRIPTION'],
    tokens.map(t => [t.id, t.state, t.viewer ? 'viewer' : t.reusable ? 'reusable' : 'single-use', String(t.uses), formatAge(t.createdAt, now),
      formatUntil(t.expiresAt, now), formatAge(t.lastUsedAt, now), t.nodeTtlMs === null ? '-' : formatSpan(t.nodeTtlMs), t.tags.join(',') || '-',
      t.description ?? '-'])
  )
}

/** The line `weft token create` writes to stderr beside the bare token: its id and what it allows. */
export function createdLine (t: CreateTokenResponse, now = Date.now()): string {
  const ttl = t.nodeTtlMs === null ? '' : `; nodes it admits expire ${formatSpan(t.nodeTtlMs)} after joining`
  const nodes = ttl + (t.tags.length === 0 ? '' : `; nodes it admits get the tags ${t.tags.join(' ')}`)
  const revoke = `Revoke it with \`weft token revoke ${t.id}\``
  if (t.viewer) return `viewer key ${t.id} created: expires ${formatUntil(t.expiresAt, now)}. ${revoke}\n`
  return `token ${t.id} created: ${t.reusable ? 'reusable' : 'single-use'}, expires ${formatUntil(t.expiresAt, now)}${nodes}. ` +
    `Revoke it with \`weft token revoke ${t.id}\`\n`
}

/** The line `weft token revoke` prints. */
export function revokedLine (t: TokenInfo): string {
  const what = t.description === null ? '' : ` (${t.description})`
  const uses = t.reusable ? `${t.uses} ${t.uses === 1 ? 'use' : 'uses'}` : t.uses > 0 ? 'spent' : 'unused'
  return `revoked ${t.id}${what} at ${new Date(t.revokedAt ?? 0).toISOString()}: ${t.reusable ? 'reusable' : 'single-use'}, ${uses}. ` +
    'Nodes it admitted stay in the mesh (weft nodes remove NODE)\n'
}

/** `weft token create|list|revoke`. */
export const command: Command = {
  summary: 'create, list and revoke join tokens and viewer keys (admin)',
  async run (argv) {
    const p = parseFlags(argv, {
      ...ADMIN_FLAGS,
      reusable: { type: 'boolean' },
      ttl: { type: 'string' },
      description: { type: 'string' },
      'node-ttl': { type: 'string' },
      tag: { type: 'string', multiple: true },
      viewer: { type: 'boolean' },
      json: { type: 'boolean' }
    }, USAGE, true)
    if (p === null) return 0
    const [sub, ...args] = p.positionals
    const v = p.values
    const json = v.json === true
    const createOnly = v.reusable !== undefined || v.ttl !== undefined || v.description !== undefined || v['node-ttl'] !== undefined ||
      v.tag !== undefined || v.viewer !== undefined
    if (sub !== 'create' && createOnly) {
      throw new ConfigError(`--reusable, --ttl, --description, --node-ttl, --tag and --viewer belong to \`weft token create\`\n\n${USAGE}`)
    }
    if (v.viewer === true && (v.reusable !== undefined || v['node-ttl'] !== undefined || v.tag !== undefined)) {
      throw new ConfigError(`a viewer key admits no node: --viewer takes no --reusable, --node-ttl or --tag\n\n${USAGE}`)
    }
    if (sub === 'create' && args.length === 0) {
      const ttlMs = parseDuration(v.ttl ?? '24h', '--ttl')
      const nodeTtlMs = v['node-ttl'] === undefined ? undefined : parseDuration(v['node-ttl'], '--node-ttl')
      const tags = checkTags(v.tag ?? [])
      if ('error' in tags) throw new ConfigError(`--tag: ${tags.error}`)
      const client = await adminClient(v)
      const t = await client.createToken({
        reusable: v.reusable === true,
        ttlMs,
        ...(v.description !== undefined ? { description: v.description } : {}),
        ...(nodeTtlMs !== undefined ? { nodeTtlMs } : {}),
        ...(tags.tags.length > 0 ? { tags: tags.tags } : {}),
        ...(v.viewer === true ? { viewer: true } : {})
      })
      process.stdout.write(json ? JSON.stringify(t) + '\n' : t.token + '\n')
      if (!json) process.stderr.write(createdLine(t))
      return 0
    }
    if (sub === 'list' && args.length === 0) {
      const { tokens } = await (await adminClient(v)).listTokens()
      process.stdout.write(json ? JSON.stringify({ tokens }, null, 2) + '\n' : renderTokens(tokens))
      return 0
    }
    if (sub === 'revoke' && args.length === 1) {
      const id = /^w[tv]_/.test(args[0]!) ? tokenId(hashSecret(args[0]!)) : args[0]!
      if (!/^t[0-9a-f]{12}$/.test(id)) throw new ConfigError(`"${id}" is not a token id: ids are t and 12 hex digits, as \`weft token list\` shows them`)
      const t = await (await adminClient(v)).revokeToken(id)
      process.stdout.write(json ? JSON.stringify(t, null, 2) + '\n' : revokedLine(t))
      return 0
    }
    throw new ConfigError(`expected \`weft token create\`, \`weft token list\` or \`weft token revoke ID\`\n\n${USAGE}`)
  }
}
