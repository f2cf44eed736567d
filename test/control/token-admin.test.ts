import t from 'tap'
import { rm, statfs, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ManualClock } from '../../lib/clock.js'
import { generateKeyPair } from '../../lib/wire/keys.js'
import { call, captureLog, joinNode, registerBody, start, tempDir, until } from './helpers.js'
import { mountTmpfs } from './tmpfs.js'

const D = 86_400_000

t.test('a token has an id and a description; the list shows its uses and state, never the token or its hash', async (t) => {
  const clock = new ManualClock(Date.now())
  const { log, events } = captureLog()
  const c = await start(t, { clock, log })
  const made = await call(c.url, 'POST', '/v1/tokens', { reusable: true, ttlMs: 7 * D, description: 'web fleet rollout', nodeTtlMs: 30 * D }, c.adminKey)
  t.equal(made.status, 200)
  t.match(made.json, {
    token: /^wt_/,
    id: /^t[0-9a-f]{12}$/,
    reusable: true,
    expiresAt: clock.now() + 7 * D,
    description: 'web fleet rollout',
    nodeTtlMs: 30 * D
  })
  const single = (await call(c.url, 'POST', '/v1/tokens', {}, c.adminKey)).json
  t.match(single, { id: /^t[0-9a-f]{12}$/, reusable: false, description: null, nodeTtlMs: null })

  clock.advance(1000)
  await joinNode(c, 'web-1', made.json.token, clock)
  clock.advance(1000)
  await joinNode(c, 'web-2', made.json.token, clock)
  await joinNode(c, 'db-1', single.token, clock)
  const list = await call(c.url, 'GET', '/v1/tokens', undefined, c.adminKey)
  t.equal(list.status, 200)
  t.same(list.json.tokens, [
    {
      id: made.json.id,
      description: 'web fleet rollout',
      reusable: true,
      createdAt: clock.now() - 2000,
      expiresAt: clock.now() - 2000 + 7 * D,
      uses: 2,
      lastUsedAt: clock.now(),
      revokedAt: null,
      nodeTtlMs: 30 * D,
      tags: [],
      viewer: false,
      state: 'active'
    },
    {
      id: single.id,
      description: null,
      reusable: false,
      createdAt: clock.now() - 2000,
      expiresAt: clock.now() - 2000 + D,
      uses: 1,
      lastUsedAt: clock.now(),
      revokedAt: null,
      nodeTtlMs: null,
      tags: [],
      viewer: false,
      state: 'spent'
    }
  ].sort((a, b) => (a.id < b.id ? -1 : 1)), 'tokens made at the same time are in id order')
  const text = JSON.stringify(list.json)
  for (const secret of [made.json.token, single.token]) t.notOk(text.includes(secret.slice(3)), 'no token in the list')
  t.notOk(/[0-9a-f]{20}/.test(text), 'no hash in the list')
  const nodes = (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes
  t.same(nodes.map((n: { hostname: string, tokenId: string }) => [n.hostname, n.tokenId]).sort(), [
    ['db-1', single.id],
    ['web-1', made.json.id],
    ['web-2', made.json.id]
  ])
  const created = events.filter(e => e.event === 'token.create')
  t.match(created[0], { tokenId: made.json.id, description: 'web fleet rollout', reusable: true, nodeTtlMs: 30 * D, msg: `join token ${made.json.id} created` })
  const all = JSON.stringify(events)
  t.notOk(all.includes(made.json.token) || all.includes(single.token), 'tokens are never logged')
})

t.test('a revoked token is refused at once with WEFT_ERR_TOKEN_REVOKED, and stays revoked after a restart', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const { log, events } = captureLog()
  let c = await start(t, { dataDir, log })
  const made = (await call(c.url, 'POST', '/v1/tokens', { reusable: true, ttlMs: 90 * D, description: 'long-lived' }, c.adminKey)).json
  const admitted = await joinNode(c, 'early', made.token)

  const rev = await call(c.url, 'DELETE', `/v1/tokens/${made.id}`, undefined, c.adminKey)
  t.equal(rev.status, 200)
  t.match(rev.json, { id: made.id, state: 'revoked', revokedAt: Number, uses: 1, description: 'long-lived' })
  const refused = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, generateKeyPair(), { token: made.token }))
  t.equal(refused.status, 403)
  t.equal(refused.json.code, 'WEFT_ERR_TOKEN_REVOKED')
  t.match(refused.json.message, new RegExp(`join token ${made.id} was revoked by an admin at \\d{4}-`))
  t.match(events.find(e => e.event === 'token.revoke'), { tokenId: made.id, description: 'long-lived', uses: 1 })
  const again = await call(c.url, 'DELETE', `/v1/tokens/${made.id}`, undefined, c.adminKey)
  t.same(again, rev, 'revoking again answers the same')
  const nodes = (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes
  t.same(nodes.map((n: { id: string }) => n.id), [admitted.nodeId], 'the node it admitted stays')

  await c.close()
  c = await start(t, { dataDir })
  t.match((await call(c.url, 'GET', '/v1/tokens', undefined, c.adminKey)).json.tokens, [{
    id: made.id,
    state: 'revoked',
    revokedAt: rev.json.revokedAt
  }], 'durable')
  const after = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, generateKeyPair(), { token: made.token }))
  t.equal(after.json.code, 'WEFT_ERR_TOKEN_REVOKED', 'still refused after the restart')
})

t.test('presenting a revoked token counts as a failed authentication', async (t) => {
  const c = await start(t, { authFailuresPerMin: 3 })
  const made = (await call(c.url, 'POST', '/v1/tokens', { reusable: true }, c.adminKey)).json
  t.equal((await call(c.url, 'DELETE', `/v1/tokens/${made.id}`, undefined, c.adminKey)).status, 200)
  for (let i = 0; i < 3; i++) {
    t.equal(
      (await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, generateKeyPair(), { token: made.token }))).json.code,
      'WEFT_ERR_TOKEN_REVOKED'
    )
  }
  const r = await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)
  t.equal(r.status, 429, 'the address is held off like any other guesser')
})

t.test('the token routes need the admin key, refuse garbage with a coded 400, and are in the OpenAPI document', async (t) => {
  const c = await start(t)
  const n = await joinNode(c, 'a')
  for (const [method, path] of [['GET', '/v1/tokens'], ['DELETE', '/v1/tokens/t0123456789ab'], ['PUT', '/v1/nodes/n1/expiry']] as const) {
    const body = method === 'PUT' ? { expiresAt: null } : undefined
    t.equal((await call(c.url, method, path, body)).status, 401, `${method} ${path} without a key`)
    t.equal((await call(c.url, method, path, body, n.credential)).json.code, 'WEFT_ERR_UNAUTHORIZED', `${method} ${path} with a node credential`)
  }
  const cases: Array<[string, string, unknown]> = [
    ['DELETE', '/v1/tokens/nonsense', undefined],
    ['DELETE', '/v1/tokens/T0123456789AB', undefined],
    ['DELETE', '/v1/tokens/t0123456789abc', undefined],
    ['DELETE', `/v1/tokens/wt_${'x'.repeat(43)}`, undefined],
    ['POST', '/v1/tokens', { description: '' }],
    ['POST', '/v1/tokens', { description: 'x'.repeat(201) }],
    ['POST', '/v1/tokens', { description: 'line\nbreak' }],
    ['POST', '/v1/tokens', { nodeTtlMs: 'soon' }],
    ['POST', '/v1/tokens', { nodeTtlMs: 10 }],
    ['POST', '/v1/tokens', { nodeTtlMs: 1e20 }],
    ['PUT', `/v1/nodes/${n.nodeId}/expiry`, {}],
    ['PUT', `/v1/nodes/${n.nodeId}/expiry`, { expiresAt: Date.now() + D, ttlMs: D }],
    ['PUT', `/v1/nodes/${n.nodeId}/expiry`, { expiresAt: 'tomorrow' }],
    ['PUT', `/v1/nodes/${n.nodeId}/expiry`, { expiresAt: -1 }],
    ['PUT', `/v1/nodes/${n.nodeId}/expiry`, { expiresAt: 1.5 }],
    ['PUT', `/v1/nodes/${n.nodeId}/expiry`, { ttlMs: 0 }],
    ['PUT', `/v1/nodes/${n.nodeId}/expiry`, { ttlMs: D, extra: 1 }],
    ['PUT', `/v1/nodes/${n.nodeId}/expiry`, '{not json'],
    ['PUT', `/v1/nodes/${n.nodeId}/expiry`, []],
    ['PUT', `/v1/nodes/${n.nodeId}/expiry`, { expiresAt: 1000 }]
  ]
  for (const [method, path, body] of cases) {
    const r = await call(c.url, method, path, body, c.adminKey)
    const label = `${method} ${path.slice(0, 40)} ${String(JSON.stringify(body)).slice(0, 40)}`
    t.equal(r.status, 400, label)
    t.equal(r.json.code, 'WEFT_ERR_INVALID_INPUT', label)
    t.type(r.json.message, 'string', label)
  }
  const unknown = await call(c.url, 'DELETE', '/v1/tokens/t0123456789ab', undefined, c.adminKey)
  t.equal(unknown.status, 404)
  t.equal(unknown.json.code, 'WEFT_ERR_NOT_FOUND')
  const noNode = await call(c.url, 'PUT', '/v1/nodes/n0/expiry', { ttlMs: D }, c.adminKey)
  t.equal(noNode.status, 404)
  t.equal(noNode.json.code, 'WEFT_ERR_NOT_FOUND')
  const doc = (await call(c.url, 'GET', '/v1/openapi.json')).json
  t.ok(doc.paths['/v1/tokens']?.get !== undefined, 'GET /v1/tokens documented')
  t.ok(doc.paths['/v1/tokens/{id}']?.delete !== undefined, 'DELETE /v1/tokens/{id} documented')
  t.ok(doc.paths['/v1/nodes/{id}/expiry']?.put !== undefined, 'PUT /v1/nodes/{id}/expiry documented')
})

t.test('while the store refuses writes a revocation answers 503 and changes nothing; once it recovers it goes through', async (t) => {
  const mount = await mountTmpfs(t, 2048)
  if ('reason' in mount) {
    t.comment(`skipped: ${mount.reason}`)
    t.plan(0, mount.reason)
    return
  }
  const c = await start(t, { dataDir: join(mount.dir, 'data'), storeRetryMs: 50 })
  const made = (await call(c.url, 'POST', '/v1/tokens', { reusable: true, description: 'to revoke' }, c.adminKey)).json
  const fs = await statfs(mount.dir)
  await writeFile(join(mount.dir, 'filler'), Buffer.alloc(fs.bavail * fs.bsize))
  let status = 200
  for (let i = 0; i < 2000 && status === 200; i++) status = (await call(c.url, 'POST', '/v1/tokens', { description: 'x'.repeat(200) }, c.adminKey)).status
  t.equal(status, 503, 'the store failed a write')

  const rev = await call(c.url, 'DELETE', `/v1/tokens/${made.id}`, undefined, c.adminKey)
  t.equal(rev.status, 503)
  t.equal(rev.json.code, 'WEFT_ERR_STORE_UNAVAILABLE')
  const listed = (await call(c.url, 'GET', '/v1/tokens', undefined, c.adminKey)).json.tokens
  t.match(listed.find((x: { id: string }) => x.id === made.id), { state: 'active', revokedAt: null }, 'not revoked: it was not acknowledged')

  await rm(join(mount.dir, 'filler'))
  t.ok(await until(() => c.controller.store.phase === 'healthy', 10_000), 'the store recovers')
  const ok = await call(c.url, 'DELETE', `/v1/tokens/${made.id}`, undefined, c.adminKey)
  t.equal(ok.status, 200)
  t.equal(ok.json.state, 'revoked')
  const refused = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, generateKeyPair(), { token: made.token }))
  t.equal(refused.json.code, 'WEFT_ERR_TOKEN_REVOKED')
})
