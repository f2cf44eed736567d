import t from 'tap'
import { rm, statfs, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ManualClock } from '../../lib/clock.js'
import { call, captureLog, joinNode, nextUpdate, openStream, registerBody, start, tempDir, token, until } from './helpers.js'
import { mountTmpfs } from './tmpfs.js'

const H = 3_600_000

/** A manual clock whose time is 1 ms past a multiple of 250 ms: a deadline set from it is never on a sweep bucket's edge. */
function offBucketClock (): ManualClock {
  const now = Date.now()
  return new ManualClock(now - (now % 250) + 1)
}

async function beat (url: string, credential: string): Promise<number> {
  return (await call(url, 'POST', '/v1/heartbeat', { endpoints: [], listenPort: 51820 }, credential)).status
}

async function listed (c: { url: string, adminKey: string }): Promise<Array<{ id: string, hostname: string, meshIp: string, expiresAt: number | null }>> {
  return (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes
}

t.test('a node admitted by a token with a node TTL expires: its credential stops at that time, then the controller removes it, says why and quarantines ' +
  'its IP', async (t) => {
  const clock = offBucketClock()
  const { log, events } = captureLog()
  const c = await start(t, { clock, log })
  const ttlTok = (await call(c.url, 'POST', '/v1/tokens', { reusable: true, nodeTtlMs: 2 * H, description: 'contractors' }, c.adminKey)).json.token
  const x = await joinNode(c, 'temp-1', ttlTok, clock)
  const peer = await joinNode(c, 'stays', undefined, clock)
  const expiresAt = clock.now() + 2 * H
  t.match((await listed(c)).find(n => n.id === x.nodeId), { expiresAt })
  t.equal((await listed(c)).find(n => n.id === peer.nodeId)?.expiresAt, null, 'a token without a node TTL sets none')

  clock.set(expiresAt - 1)
  t.equal(await beat(c.url, x.credential), 200, 'the credential works until its expiry')
  const stream = await openStream(c.url, peer.credential)
  t.teardown(() => stream.close())
  await stream.next()
  clock.set(expiresAt)
  const refused = await call(c.url, 'POST', '/v1/heartbeat', { endpoints: [], listenPort: 51820 }, x.credential)
  t.equal(refused.status, 403, 'and not from its expiry on, before any sweep')
  t.match(refused.json, { code: 'WEFT_ERR_NODE_REMOVED', message: /expired and was removed/ }, 'as removed, so its daemon does not register again')
  t.ok((await listed(c)).some(n => n.id === x.nodeId), 'still listed until the sweep removes it')

  // The sweep runs every 250 ms on the controller's clock, started 1 ms past a bucket edge: its first run at or
  // after the expiry's bucket (expiresAt + 249) is at expiresAt + 250.
  clock.advance(249)
  t.ok((await listed(c)).some(n => n.id === x.nodeId), 'no sweep has run since the bucket came due')
  clock.advance(1)
  t.ok(await until(async () => !(await listed(c)).some(n => n.id === x.nodeId)), 'removed by the sweep')
  const delta = await nextUpdate(stream) // two hours of the controller's clock passed: keepalive pings came first
  t.match(delta, { type: 'delta', remove: [x.nodeId] }, 'every daemon is told')
  t.match(events.find(e => e.event === 'node.remove'), {
    nodeId: x.nodeId,
    hostname: 'temp-1',
    meshIp: x.meshIp,
    reason: 'expired',
    expiresAt,
    msg: `temp-1 removed (expired at ${new Date(expiresAt).toISOString()}); ${x.meshIp} quarantined`
  })
  t.match(events.find(e => e.event === 'health.change' && e.to === 'removed'), { nodeId: x.nodeId, reason: `expired at ${new Date(expiresAt).toISOString()}` })
  const stored = (await c.controller.store.load()).nodes.find(n => n.id === x.nodeId)
  t.match(stored, { state: 'removed', removedReason: 'expired', removedAt: clock.now() }, 'the removal is durable, with its reason')

  const other = await joinNode(c, 'new', undefined, clock)
  t.not(other.meshIp, x.meshIp, 'its IP is not handed to another key')
  const back = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, x.keys, {
    hostname: 'temp-1',
    token: await token(c),
    timestamp: clock.now()
  }))
  t.equal(back.status, 200)
  t.not(back.json.nodeId, x.nodeId, 'the same key joins again as a new node')
  t.equal(back.json.meshIp, x.meshIp, 'with its quarantined IP')
})

t.test('a node that reached its expiry is not re-admitted by a join token while its removal is pending', async (t) => {
  const clock = offBucketClock()
  const c = await start(t, { clock })
  const ttlTok = (await call(c.url, 'POST', '/v1/tokens', { reusable: true, nodeTtlMs: H }, c.adminKey)).json.token
  const x = await joinNode(c, 'temp', ttlTok, clock)
  clock.advance(H)
  const r = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, x.keys, { hostname: 'temp', token: ttlTok, timestamp: clock.now() }))
  t.equal(r.status, 409)
  t.equal(r.json.code, 'WEFT_ERR_CONFLICT')
  t.match(r.json.message, /expired at .* and is being removed/)
})

t.test('an admin sets, moves and clears a node\'s expiry; a cleared expiry never fires; a past time is refused', async (t) => {
  const clock = offBucketClock()
  const { log, events } = captureLog()
  const c = await start(t, { clock, log })
  const n = await joinNode(c, 'db-1', undefined, clock)
  const set = await call(c.url, 'PUT', `/v1/nodes/${n.nodeId}/expiry`, { ttlMs: 12 * H }, c.adminKey)
  t.equal(set.status, 200)
  t.match(set.json, { id: n.nodeId, hostname: 'db-1', meshIp: n.meshIp, expiresAt: clock.now() + 12 * H, health: 'online' })
  t.match(events.find(e => e.event === 'node.expiry'), { nodeId: n.nodeId, expiresAt: clock.now() + 12 * H })
  const at = clock.now() + 3 * H
  t.equal((await call(c.url, 'PUT', `/v1/nodes/${n.nodeId}/expiry`, { expiresAt: at }, c.adminKey)).json.expiresAt, at)
  t.equal((await listed(c))[0]!.expiresAt, at)
  const past = await call(c.url, 'PUT', `/v1/nodes/${n.nodeId}/expiry`, { expiresAt: clock.now() }, c.adminKey)
  t.equal(past.status, 400)
  t.match(past.json, { code: 'WEFT_ERR_INVALID_INPUT', message: /is not in the future .* use `weft nodes remove`/ })
  const cleared = await call(c.url, 'PUT', `/v1/nodes/${n.nodeId}/expiry`, { expiresAt: null }, c.adminKey)
  t.equal(cleared.json.expiresAt, null)
  clock.advance(24 * H)
  t.same(await c.controller.expireNodes(), [])
  t.equal(await beat(c.url, n.credential), 200, 'the credential still works')
  t.equal((await listed(c)).length, 1)
})

t.test('the controller acts on an expiry by its own timer, and on one that passed while it was stopped right after it starts', async (t) => {
  const clock = offBucketClock()
  const dataDir = join(await tempDir(t), 'data')
  let c = await start(t, { clock, dataDir })
  const a = await joinNode(c, 'a', undefined, clock)
  const b = await joinNode(c, 'b', undefined, clock)
  t.equal((await call(c.url, 'PUT', `/v1/nodes/${a.nodeId}/expiry`, { ttlMs: H }, c.adminKey)).status, 200)
  t.equal((await call(c.url, 'PUT', `/v1/nodes/${b.nodeId}/expiry`, { ttlMs: 3 * H }, c.adminKey)).status, 200)
  clock.advance(H + 250)
  t.ok(await until(async () => (await listed(c)).length === 1), 'a is removed without anyone asking')
  await c.close()
  clock.advance(3 * H)
  const { log, events } = captureLog()
  c = await start(t, { clock, dataDir, log })
  clock.advance(250)
  t.ok(await until(async () => (await listed(c)).length === 0), 'b, whose expiry passed while the controller was down, is removed by the first sweep')
  t.match(events.find(e => e.event === 'node.remove'), { nodeId: b.nodeId, reason: 'expired' })
})

t.test('while the store refuses writes an expired node stays out and its removal waits; setting an expiry answers 503', async (t) => {
  const mount = await mountTmpfs(t, 2048)
  if ('reason' in mount) {
    t.comment(`skipped: ${mount.reason}`)
    t.plan(0, mount.reason)
    return
  }
  const clock = offBucketClock()
  const c = await start(t, { clock, dataDir: join(mount.dir, 'data'), storeRetryMs: 50 })
  const ttlTok = (await call(c.url, 'POST', '/v1/tokens', { reusable: true, nodeTtlMs: H }, c.adminKey)).json.token
  const x = await joinNode(c, 'temp', ttlTok, clock)
  const y = await joinNode(c, 'other', ttlTok, clock)
  const fs = await statfs(mount.dir)
  await writeFile(join(mount.dir, 'filler'), Buffer.alloc(fs.bavail * fs.bsize))
  let status = 200
  for (let i = 0; i < 2000 && status === 200; i++) status = (await call(c.url, 'POST', '/v1/tokens', { description: 'x'.repeat(200) }, c.adminKey)).status
  t.equal(status, 503, 'the store failed a write')

  const set = await call(c.url, 'PUT', `/v1/nodes/${y.nodeId}/expiry`, { expiresAt: null }, c.adminKey)
  t.equal(set.status, 503)
  t.equal(set.json.code, 'WEFT_ERR_STORE_UNAVAILABLE')
  t.equal((await listed(c)).find(n => n.id === y.nodeId)?.expiresAt, clock.now() + H, 'the expiry is unchanged')

  clock.advance(H + 250)
  t.same(await c.controller.expireNodes(), [], 'the removal cannot be written')
  t.equal(await beat(c.url, x.credential), 403, 'but the credential no longer works: the node counts as removed')
  t.equal((await listed(c)).length, 2)

  await rm(join(mount.dir, 'filler'))
  // The store retries every storeRetryMs of the controller's clock: move it along while waiting for the reopen.
  t.ok(await until(() => { clock.advance(50); return c.controller.store.phase === 'healthy' }, 10_000), 'the store recovers')
  clock.advance(1000)
  t.ok(await until(async () => (await listed(c)).length === 0), 'both expired nodes are removed once it accepts writes')
})
