import t from 'tap'
import { join } from 'node:path'
import { generateKeyPair } from '../../lib/wire/keys.js'
import { call, captureLog, nextUpdate, openStream, registerBody, start, tempDir } from './helpers.js'

/** Registers `keys` as `hostname`, with `token` or else with `credential`; returns the answer's body. */
async function register (c: { url: string, publicKey: string }, keys: ReturnType<typeof generateKeyPair>, hostname: string,
  o: { token?: string, credential?: string }): Promise<{ nodeId: string, credential?: string }> {
  const r = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, keys, { hostname, ...(o.token !== undefined ? { token: o.token } : {}) }),
    o.credential)
  if (r.status !== 200) throw new Error(`register: ${r.status} ${JSON.stringify(r.json)}`)
  return r.json
}

t.test('a token with tags gives exactly those to every node it admits; a tag-less token or a credential leaves a node\'s tags', async (t) => {
  const { log, events } = captureLog()
  const c = await start(t, { log })
  const tagged = await call(c.url, 'POST', '/v1/tokens', { reusable: true, tags: ['tag:web', 'tag:prod', 'tag:web'] }, c.adminKey)
  t.equal(tagged.status, 200)
  t.same(tagged.json.tags, ['tag:prod', 'tag:web'], 'checked, without duplicates, sorted')
  const plain = (await call(c.url, 'POST', '/v1/tokens', { reusable: true }, c.adminKey)).json
  t.same(plain.tags, [])
  const listed = (await call(c.url, 'GET', '/v1/tokens', undefined, c.adminKey)).json.tokens
  t.same(listed.map((x: { id: string, tags: string[] }) => [x.id, x.tags]).sort(), [[tagged.json.id, ['tag:prod', 'tag:web']], [plain.id, []]].sort())

  const keys = generateKeyPair()
  const web = await register(c, keys, 'web-1', { token: tagged.json.token })
  const other = await register(c, generateKeyPair(), 'other', { token: plain.token })
  const tagsOf = async (id: string): Promise<{ status: string[], record: string[] | undefined }> => {
    const status = (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes.find((n: { id: string }) => n.id === id).tags
    const record = (await call(c.url, 'GET', '/v1/netmap', undefined, other.credential)).json.nodes.find((n: { id: string }) => n.id === id).tags
    return { status, record }
  }
  t.same(await tagsOf(web.nodeId), { status: ['tag:prod', 'tag:web'], record: ['tag:prod', 'tag:web'] })
  t.same(await tagsOf(other.nodeId), { status: [], record: undefined }, 'no tags: an empty list in the admin API, no field in the netmap')
  t.match(events.find(e => e.event === 'node.tags'),
    { nodeId: web.nodeId, hostname: 'web-1', from: [], to: ['tag:prod', 'tag:web'], by: 'token', tokenId: tagged.json.id })

  const put = await call(c.url, 'PUT', `/v1/nodes/${web.nodeId}/tags`, { tags: ['tag:db'] }, c.adminKey)
  t.equal(put.status, 200)
  t.same(put.json.tags, ['tag:db'], 'the admin replaces the tags')
  const rotated = await register(c, keys, 'web-1', { token: plain.token })
  t.equal(rotated.nodeId, web.nodeId)
  t.same((await tagsOf(web.nodeId)).status, ['tag:db'], 'a tag-less token leaves them')
  await register(c, keys, 'web-1', { credential: rotated.credential! })
  t.same((await tagsOf(web.nodeId)).status, ['tag:db'], 'so does a registration with the credential')
  await register(c, keys, 'web-1', { token: tagged.json.token })
  t.same((await tagsOf(web.nodeId)).status, ['tag:prod', 'tag:web'], 'a tagged token replaces them, whatever an admin set')
})

t.test('PUT /v1/nodes/:id/tags: persisted, published as a delta, audited; an empty list clears; a restart keeps them', async (t) => {
  const { log, events } = captureLog()
  const dataDir = join(await tempDir(t), 'data')
  const c = await start(t, { log, dataDir })
  const tok = (await call(c.url, 'POST', '/v1/tokens', { reusable: true }, c.adminKey)).json.token
  const a = await register(c, generateKeyPair(), 'app-1', { token: tok })
  const b = await register(c, generateKeyPair(), 'watcher', { token: tok })
  const stream = await openStream(c.url, b.credential!)
  t.teardown(() => stream.close())
  await nextUpdate(stream)

  const put = await call(c.url, 'PUT', `/v1/nodes/${a.nodeId}/tags`, { tags: ['tag:web', 'tag:api'] }, c.adminKey)
  t.equal(put.status, 200)
  t.match(put.json, { id: a.nodeId, hostname: 'app-1', tags: ['tag:api', 'tag:web'] })
  let delta
  do delta = await nextUpdate(stream); while (delta.type === 'delta' && !delta.upsert.some(n => n.id === a.nodeId && n.tags !== undefined))
  t.same(delta.type === 'delta' && delta.upsert.find(n => n.id === a.nodeId)?.tags, ['tag:api', 'tag:web'], 'daemons get the tags as a delta')
  t.match(events.filter(e => e.event === 'node.tags'), [{ nodeId: a.nodeId, hostname: 'app-1', from: [], to: ['tag:api', 'tag:web'], by: 'admin' }])

  const again = await call(c.url, 'PUT', `/v1/nodes/${a.nodeId}/tags`, { tags: ['tag:web', 'tag:api'] }, c.adminKey)
  t.equal(again.status, 200)
  t.equal(events.filter(e => e.event === 'node.tags').length, 1, 'the same tags again change nothing and log nothing')

  await c.close()
  const c2 = await start(t, { dataDir })
  const b2 = (await call(c2.url, 'GET', '/v1/netmap', undefined, b.credential)).json
  t.same(b2.nodes.find((n: { id: string }) => n.id === a.nodeId).tags, ['tag:api', 'tag:web'], 'the tags outlive a restart')
  const cleared = await call(c2.url, 'PUT', `/v1/nodes/${a.nodeId}/tags`, { tags: [] }, c2.adminKey)
  t.equal(cleared.status, 200)
  t.same(cleared.json.tags, [])
  const rec = (await call(c2.url, 'GET', '/v1/netmap', undefined, b.credential)).json.nodes.find((n: { id: string }) => n.id === a.nodeId)
  t.notOk('tags' in rec, 'cleared: the record has no tags')
})

t.test('malformed tags are refused with the reason; the route needs the admin key and a known node', async (t) => {
  const c = await start(t)
  const tok = (await call(c.url, 'POST', '/v1/tokens', { reusable: true }, c.adminKey)).json.token
  const n = await register(c, generateKeyPair(), 'n-1', { token: tok })
  const cases: Array<[string, string, unknown, RegExp]> = [
    ['POST', '/v1/tokens', { tags: ['web'] }, /"web" is not a tag such as tag:web/],
    ['POST', '/v1/tokens', { tags: ['tag:-x'] }, /"tag:-x" is not a tag/],
    ['PUT', `/v1/nodes/${n.nodeId}/tags`, { tags: ['tag:ok', 'tag:has space'] }, /"tag:has space" is not a tag/],
    ['PUT', `/v1/nodes/${n.nodeId}/tags`, { tags: Array.from({ length: 33 }, (_, i) => `tag:t${i}`) }, /more than 32 items/],
    ['PUT', `/v1/nodes/${n.nodeId}/tags`, {}, /required property 'tags'/],
    ['PUT', `/v1/nodes/${n.nodeId}/tags`, { tags: 'tag:web' }, /must be array/]
  ]
  for (const [method, path, body, why] of cases) {
    const r = await call(c.url, method, path, body, c.adminKey)
    t.equal(r.status, 400, JSON.stringify(body))
    t.match(r.json, { code: 'WEFT_ERR_INVALID_INPUT', message: why })
  }
  t.same((await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes[0].tags, [], 'nothing refused was applied')
  t.equal((await call(c.url, 'PUT', '/v1/nodes/n0000000000000000/tags', { tags: [] }, c.adminKey)).status, 404)
  t.equal((await call(c.url, 'PUT', `/v1/nodes/${n.nodeId}/tags`, { tags: [] }, n.credential)).status, 401, 'a node cannot tag itself')
})

t.test('with a policy set, a tag its tagOwners does not declare is refused for tokens and nodes', async (t) => {
  const c = await start(t)
  const tok = (await call(c.url, 'POST', '/v1/tokens', { reusable: true, tags: ['tag:db'] }, c.adminKey)).json.token
  const n = await register(c, generateKeyPair(), 'n-1', { token: tok })
  const set = await call(c.url, 'PUT', '/v1/policy', { text: '{ "tagOwners": { "tag:web": ["autogroup:admin"] } }' }, c.adminKey)
  t.equal(set.status, 200)
  const token = await call(c.url, 'POST', '/v1/tokens', { tags: ['tag:web', 'tag:db', 'tag:x'] }, c.adminKey)
  t.equal(token.status, 400)
  t.match(token.json, {
    code: 'WEFT_ERR_POLICY',
    message: 'tag:db, tag:x are not declared in the access policy\'s "tagOwners" (version 1); declare them there first (`weft policy set`)'
  })
  t.equal((await call(c.url, 'GET', '/v1/tokens', undefined, c.adminKey)).json.tokens.length, 1, 'no token was made')
  const node = await call(c.url, 'PUT', `/v1/nodes/${n.nodeId}/tags`, { tags: ['tag:web', 'tag:db'] }, c.adminKey)
  t.equal(node.status, 400)
  t.match(node.json, { code: 'WEFT_ERR_POLICY', message: /^tag:db is not declared in the access policy's "tagOwners" \(version 1\)/ })
  t.same((await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes[0].tags, ['tag:db'], 'the node keeps its tags')
  const ok = await call(c.url, 'PUT', `/v1/nodes/${n.nodeId}/tags`, { tags: ['tag:web'] }, c.adminKey)
  t.equal(ok.status, 200)
  t.same(ok.json.tags, ['tag:web'])
  t.equal((await call(c.url, 'POST', '/v1/tokens', { tags: ['tag:web'] }, c.adminKey)).status, 200)
})
