import t from 'tap'
import { ManualClock } from '../../lib/clock.js'
import { generateKeyPair, SigningKey } from '../../lib/wire/keys.js'
import { join } from 'node:path'
import { call, joinNode, registerBody, start, tempDir, token } from './helpers.js'

t.test('registration: good proof and token -> node id, mesh IP, credential', async (t) => {
  const c = await start(t)
  const keys = generateKeyPair()
  const r = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, keys, { hostname: 'web-1', token: await token(c) }))
  t.equal(r.status, 200)
  t.match(r.json, {
    nodeId: /^n[0-9a-f]{16}$/,
    meshIp: /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+$/,
    cidr: '100.64.0.0/10',
    credential: /^wn_/,
    controllerPublicKey: c.publicKey,
    heartbeatIntervalMs: 5000
  })
  const nm = await call(c.url, 'GET', '/v1/netmap', undefined, r.json.credential)
  t.equal(nm.status, 200)
  t.equal(nm.json.nodes.length, 1)
  t.match(nm.json.nodes[0], {
    id: r.json.nodeId,
    hostname: 'web-1',
    publicKey: keys.publicKey,
    meshIp: r.json.meshIp,
    health: 'online',
    observedEndpoint: '127.0.0.1:51820'
  })
  t.equal(nm.json.nodes[0].signingKey, SigningKey.derive(keys.privateKey).publicKey, 'the netmap carries the key its SWIM claims are signed with')
})

t.test('registration: the proof binds the signing key, and a re-registration with the credential updates it', async (t) => {
  const c = await start(t)
  const keys = generateKeyPair()
  const swapped = registerBody(c.publicKey, keys, { token: await token(c) })
  swapped.signingKey = SigningKey.derive(generateKeyPair().privateKey).publicKey
  const r = await call(c.url, 'POST', '/v1/register', swapped)
  t.equal(r.status, 403, 'a signing key the proof does not cover')
  t.equal(r.json.code, 'WEFT_ERR_PROOF_REJECTED')
  // A record from before signed claims has no key; the node's own credential re-registration supplies it.
  const first = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, keys, { token: await token(c) }))
  t.equal(first.status, 200)
  const other = SigningKey.derive(generateKeyPair().privateKey).publicKey
  const again = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, keys, { signingKey: other }), first.json.credential)
  t.equal(again.status, 200)
  t.equal(again.json.meshIp, first.json.meshIp)
  const nm = await call(c.url, 'GET', '/v1/netmap', undefined, first.json.credential)
  t.equal(nm.json.nodes[0].signingKey, other)
})

t.test('registration: refusals are clear 4xx', async (t) => {
  const c = await start(t)
  const keys = generateKeyPair()
  const other = generateKeyPair()

  const wrongKey = registerBody(c.publicKey, other, { token: await token(c) })
  wrongKey.publicKey = keys.publicKey
  let r = await call(c.url, 'POST', '/v1/register', wrongKey)
  t.equal(r.status, 403, 'proof made with another private key')
  t.equal(r.json.code, 'WEFT_ERR_PROOF_REJECTED')

  r = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, keys, { token: await token(c), timestamp: Date.now() - 61_000 }))
  t.equal(r.status, 403, 'stale timestamp')
  t.match(r.json.message, /off the controller clock/)
  r = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, keys, { token: await token(c), timestamp: Date.now() + 61_000 }))
  t.equal(r.status, 403, 'future timestamp')

  r = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, keys, { token: 'wt_nope' }))
  t.equal(r.status, 403)
  t.equal(r.json.code, 'WEFT_ERR_TOKEN_REJECTED')
  t.match(r.json.message, /not known/)

  r = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, keys, {}))
  t.equal(r.status, 403, 'no token and no credential')
  t.match(r.json.message, /join token is required/)

  const body = registerBody(c.publicKey, keys, { token: await token(c, { reusable: true }) })
  t.equal((await call(c.url, 'POST', '/v1/register', body)).status, 200)
  r = await call(c.url, 'POST', '/v1/register', body)
  t.equal(r.status, 403, 'replayed request (same nonce)')
  t.match(r.json.message, /nonce was already used/)
})

t.test('tokens: single-use is spent, reusable admits many, expired is refused', async (t) => {
  const clock = new ManualClock(Date.now())
  const c = await start(t, { clock })
  const once = await token(c)
  const first = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, generateKeyPair(), { token: once, timestamp: clock.now() }))
  t.equal(first.status, 200)
  const second = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, generateKeyPair(), { token: once, timestamp: clock.now() }))
  t.equal(second.status, 403)
  t.match(second.json.message, /already used/)

  const many = await token(c, { reusable: true })
  for (let i = 0; i < 3; i++) {
    t.equal((await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, generateKeyPair(), { token: many, timestamp: clock.now() }))).status, 200)
  }

  const short = await token(c, { ttlMs: 60_000 })
  clock.advance(60_000)
  const late = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, generateKeyPair(), { token: short, timestamp: clock.now() }))
  t.equal(late.status, 403)
  t.match(late.json.message, /expired/)
})

t.test('re-registration: credential keeps id and IP without a new credential; a token rotates the credential', async (t) => {
  const c = await start(t)
  const n = await joinNode(c, 'db-1')
  const again = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, n.keys, {
    hostname: 'db-1b',
    endpoints: ['198.18.0.9:51820']
  }), n.credential)
  t.equal(again.status, 200)
  t.equal(again.json.nodeId, n.nodeId)
  t.equal(again.json.meshIp, n.meshIp)
  t.notOk('credential' in again.json, 'no new credential when the credential was used')
  const nm = await call(c.url, 'GET', '/v1/netmap', undefined, n.credential)
  t.match(nm.json.nodes[0], { hostname: 'db-1b', endpoints: ['198.18.0.9:51820'] })

  const rotated = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, n.keys, { token: await token(c) }))
  t.equal(rotated.status, 200)
  t.equal(rotated.json.nodeId, n.nodeId)
  t.equal(rotated.json.meshIp, n.meshIp)
  t.match(rotated.json.credential, /^wn_/)
  t.not(rotated.json.credential, n.credential)
  t.equal((await call(c.url, 'GET', '/v1/netmap', undefined, n.credential)).status, 401, 'old credential stops working')
  t.equal((await call(c.url, 'GET', '/v1/netmap', undefined, rotated.json.credential)).status, 200)

  const other = await joinNode(c, 'db-2')
  const stolen = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, n.keys, {}), other.credential)
  t.equal(stolen.status, 401, "another node's credential cannot re-register this key")
})

t.test('IPAM over HTTP: a full /29 answers 409 with a clear message', async (t) => {
  const c = await start(t, { cidr: '100.64.0.0/29' })
  const tok = await token(c, { reusable: true })
  const ips = new Set<string>()
  for (let i = 0; i < 6; i++) ips.add((await joinNode(c, `n${i}`, tok)).meshIp)
  t.equal(ips.size, 6)
  t.notOk(ips.has('100.64.0.0'))
  t.notOk(ips.has('100.64.0.7'))
  const r = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, generateKeyPair(), { token: tok }))
  t.equal(r.status, 409)
  t.equal(r.json.code, 'WEFT_ERR_POOL_EXHAUSTED')
  t.match(r.json.message, /no free mesh address left in 100\.64\.0\.0\/29/)
})

t.test('a removed node rejoining with a token gets its old IP back; others do not get it during quarantine', async (t) => {
  const c = await start(t, { cidr: '100.64.0.0/30' })
  const tok = await token(c, { reusable: true })
  const a = await joinNode(c, 'a', tok)
  await joinNode(c, 'b', tok)
  t.equal((await call(c.url, 'DELETE', `/v1/nodes/${a.nodeId}`, undefined, c.adminKey)).status, 204)
  const stranger = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, generateKeyPair(), { token: tok }))
  t.equal(stranger.status, 409, 'the quarantined address is not handed to a new key')
  const back = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, a.keys, { token: tok }))
  t.equal(back.status, 200)
  t.equal(back.json.meshIp, a.meshIp)
  t.not(back.json.nodeId, a.nodeId, 'a removed node comes back as a new node')
})

t.test('registration rate limit per client address', async (t) => {
  const c = await start(t, { registerRatePerMin: 3 })
  const tok = await token(c, { reusable: true })
  for (let i = 0; i < 3; i++) await joinNode(c, `n${i}`, tok)
  const r = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, generateKeyPair(), { token: tok }))
  t.equal(r.status, 429)
  t.equal(r.json.code, 'WEFT_ERR_RATE_LIMITED')
})

t.test('a refused registration leaves its nonce unused; an accepted one is never replayed, not even after a restart', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  let c = await start(t, { dataDir, cidr: '100.64.0.0/30' })
  const good = await token(c, { reusable: true })
  const bad = 'wt_' + 'x'.repeat(43)
  const a = registerBody(c.publicKey, generateKeyPair(), { token: bad })
  let r = await call(c.url, 'POST', '/v1/register', a)
  t.equal(r.json.code, 'WEFT_ERR_TOKEN_REJECTED', 'refused for its token')
  // The proof does not cover the token, so the same signed request may try again with the right one.
  const accepted = { ...a, token: good }
  t.equal((await call(c.url, 'POST', '/v1/register', accepted)).status, 200, 'the nonce of the refused attempt is still good')

  const b = registerBody(c.publicKey, generateKeyPair(), {})
  r = await call(c.url, 'POST', '/v1/register', b, 'wn_' + 'y'.repeat(43))
  t.equal(r.json.code, 'WEFT_ERR_UNAUTHORIZED', 'refused for an unknown credential')
  r = await call(c.url, 'POST', '/v1/register', b)
  t.equal(r.json.code, 'WEFT_ERR_TOKEN_REJECTED', 'refused for a missing token')
  t.equal((await call(c.url, 'POST', '/v1/register', { ...b, token: good })).status, 200, 'then accepted with the same nonce')

  const full = registerBody(c.publicKey, generateKeyPair(), { token: good })
  r = await call(c.url, 'POST', '/v1/register', full)
  t.equal(r.json.code, 'WEFT_ERR_POOL_EXHAUSTED', 'refused: the /30 has no address left')

  for (const replay of [accepted, a, { ...b, token: good }]) {
    r = await call(c.url, 'POST', '/v1/register', replay)
    t.equal(r.status, 403, 'a replay of an accepted request is refused')
    t.match(r.json.message, /nonce was already used/, 'for its nonce, before its token is looked at')
  }
  await c.close()
  c = await start(t, { dataDir, cidr: '100.64.0.0/30' })
  r = await call(c.url, 'POST', '/v1/register', accepted)
  t.match(r.json.message, /nonce was already used/, 'refused after a restart too')
  const nodes = (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes as unknown[]
  t.equal(nodes.length, 2, 'only the two accepted registrations made nodes')
})

t.test('meshIp: a signed preference is accepted; one added, changed or malformed after signing is refused', async (t) => {
  const c = await start(t)
  const tok = await token(c, { reusable: true })
  const signed = registerBody(c.publicKey, generateKeyPair(), { token: tok, meshIp: '100.64.0.9' })
  t.equal(signed.meshIp, '100.64.0.9')
  let r = await call(c.url, 'POST', '/v1/register', { ...signed, meshIp: '100.64.0.10' })
  t.equal(r.json.code, 'WEFT_ERR_PROOF_REJECTED', 'changed after signing')
  const plain = registerBody(c.publicKey, generateKeyPair(), { token: tok })
  r = await call(c.url, 'POST', '/v1/register', { ...plain, meshIp: '100.64.0.10' })
  t.equal(r.json.code, 'WEFT_ERR_PROOF_REJECTED', 'added after signing')
  for (const bad of ['100.64.0', '100.64.0.256', '100.64.0.09', ' 100.64.0.9', 100]) {
    r = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, generateKeyPair(), { token: tok, meshIp: bad as string }))
    t.equal(r.status, 400, `meshIp ${JSON.stringify(bad)} -> 400`)
  }
  r = await call(c.url, 'POST', '/v1/register', signed)
  t.equal(r.status, 200, 'a signed preference registers')
  t.match(r.json.meshIp, /^100\.64\.0\.\d+$/)
})

t.test('a removed key with meshIp (a node with saved state) stays out even with a valid token', async (t) => {
  const c = await start(t)
  const tok = await token(c, { reusable: true })
  const a = await joinNode(c, 'a', tok)
  t.equal((await call(c.url, 'DELETE', `/v1/nodes/${a.nodeId}`, undefined, c.adminKey)).status, 204)
  const r = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, a.keys, { token: tok, meshIp: a.meshIp }))
  t.equal(r.status, 403)
  t.equal(r.json.code, 'WEFT_ERR_NODE_REMOVED')
  const nodes = (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes as unknown[]
  t.equal(nodes.length, 0, 'not registered again')
})
