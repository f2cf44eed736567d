import t from 'tap'
import { formatSpan, formatUntil } from '../../cmd/cli.js'
import { createdLine, renderTokens, revokedLine } from '../../cmd/token.js'
import type { TokenInfo } from '../../lib/wire/api.js'
import { call, joinNode, start } from '../control/helpers.js'
import { weft } from './weft-cli.js'

const NOW = 1_700_000_000_000
const H = 3_600_000
const tok = (id: string, o: Partial<TokenInfo> = {}): TokenInfo => ({
  id,
  description: null,
  reusable: false,
  createdAt: NOW - 2 * H,
  expiresAt: NOW + 22 * H,
  uses: 0,
  lastUsedAt: null,
  revokedAt: null,
  nodeTtlMs: null,
  tags: [],
  viewer: false,
  state: 'active',
  ...o
})

t.test('spans and times to come read as their largest unit', async (t) => {
  t.equal(formatSpan(45_000), '45s')
  t.equal(formatSpan(90 * 60_000), '90m')
  t.equal(formatSpan(36 * H), '36h')
  t.equal(formatSpan(30 * 24 * H), '30d')
  t.equal(formatUntil(NOW + 22 * H, NOW), 'in 22h')
  t.equal(formatUntil(NOW - 5000, NOW), '5s ago', 'a time past reads as an age')
  t.equal(formatUntil(null, NOW), '-')
})

t.test('the token table: one row per token, the description last, - for what is unset', async (t) => {
  const out = renderTokens([
    tok('t0123456789ab', { reusable: true, uses: 3, lastUsedAt: NOW - 60_000, nodeTtlMs: 30 * 24 * H, description: 'web fleet, batch 2' }),
    tok('tabcdef012345', { state: 'expired', expiresAt: NOW - 3 * H, tags: ['tag:ci', 'tag:web'] }),
    tok('t555555555555', { state: 'revoked', revokedAt: NOW - 1000, uses: 1, lastUsedAt: NOW - H })
  ], NOW)
  t.equal(out, [
    'ID             STATE    KIND        USES  CREATED  EXPIRES  LAST USED  NODE TTL  TAGS            DESCRIPTION',
    't0123456789ab  active   reusable    3     2h ago   in 22h   60s ago    30d       -               web fleet, batch 2',
    'tabcdef012345  expired  single-use  0     2h ago   3h ago   -          -         tag:ci,tag:web  -',
    't555555555555  revoked  single-use  1     2h ago   in 22h   60m ago    -         -               -',
    ''
  ].join('\n'))
})

t.test('what create and revoke print', async (t) => {
  const made = { token: 'wt_x', id: 't0123456789ab', reusable: false, expiresAt: NOW + 24 * H, description: null, nodeTtlMs: null, tags: [], viewer: false }
  t.equal(createdLine(made, NOW),
    'token t0123456789ab created: single-use, expires in 24h. Revoke it with `weft token revoke t0123456789ab`\n')
  t.equal(createdLine({ ...made, token: 'wv_x', viewer: true }, NOW),
    'viewer key t0123456789ab created: expires in 24h. Revoke it with `weft token revoke t0123456789ab`\n')
  const tagged = { ...made, reusable: true, expiresAt: NOW + H, tags: ['tag:a', 'tag:b'] }
  t.equal(createdLine(tagged, NOW),
    'token t0123456789ab created: reusable, expires in 60m; nodes it admits get the tags tag:a tag:b. Revoke it with `weft token revoke t0123456789ab`\n')
  t.equal(revokedLine(tok('t0123456789ab', { state: 'revoked', revokedAt: NOW, uses: 1, description: 'db' })),
    'revoked t0123456789ab (db) at 2023-11-14T22:13:20.000Z: single-use, spent. Nodes it admitted stay in the mesh (weft nodes remove NODE)\n')
})

t.test('weft token create --tag: every node that joins with the token gets those tags', async (t) => {
  const c = await start(t)
  const admin = ['--controller', c.url, '--admin-key', c.adminKeyFile]
  const made = await weft(['token', 'create', '--reusable', '--tag', 'tag:web', '--tag', 'tag:prod', ...admin])
  t.equal(made.code, 0, made.stderr)
  t.match(made.stderr, /; nodes it admits get the tags tag:prod tag:web\. Revoke it/)
  const n = await joinNode(c, 'web-1', made.stdout.trim())
  const nodes = (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes
  t.same(nodes.find((x: { id: string }) => x.id === n.nodeId).tags, ['tag:prod', 'tag:web'])
  const json = JSON.parse((await weft(['token', 'create', '--tag', 'tag:db', '--json', ...admin])).stdout)
  t.same(json.tags, ['tag:db'])
  const bad = await weft(['token', 'create', '--tag', 'db', ...admin])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--tag: "db" is not a tag such as tag:web/)
  t.equal((await weft(['token', 'list', '--tag', 'tag:db', ...admin])).code, 2, '--tag belongs to create')
})
