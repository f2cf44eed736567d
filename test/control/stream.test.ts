import t from 'tap'
import { call, joinNode, openStream, start, token } from './helpers.js'

t.test('stream: full map first, then each change as a delta within the pacing interval and a second', async (t) => {
  const c = await start(t)
  const a = await joinNode(c, 'a')
  const s = await openStream(c.url, a.credential)
  t.teardown(() => s.close())
  t.equal(s.status, 200)
  t.equal(s.contentType, 'application/x-ndjson')
  const first = await s.next()
  if (first.type !== 'full') throw new Error(`expected full, got ${first.type}`)
  t.equal(first.netmap.nodes.length, 1)
  t.equal(first.netmap.epoch, c.controller.epoch)

  const t0 = Date.now()
  const b = await joinNode(c, 'b')
  // a's version went out moments ago, so b's waits for the rest of the pacing interval (netmapIntervalMs, 1 s).
  const d = await s.next(2000)
  t.ok(Date.now() - t0 < 2000, 'delta arrived within the pacing interval and a second of the registration')
  t.comment(`registration (sign + HTTP) to delta on the channel: ${Date.now() - t0} ms`)
  if (d.type !== 'delta') throw new Error(`expected delta, got ${d.type}`)
  t.equal(d.from, first.netmap.version)
  t.equal(d.to, first.netmap.version + 1)
  t.same(d.upsert.map(n => n.id), [b.nodeId])
  t.same(d.remove, [])
})

t.test('stream: catch-up from a recent version is one merged delta; current version gets a ping; other epoch gets a full map', async (t) => {
  const c = await start(t)
  const tok = await token(c, { reusable: true })
  const a = await joinNode(c, 'a', tok)
  c.controller.netmap.flush()
  const v = c.controller.netmap.version
  const epoch = c.controller.epoch
  const b = await joinNode(c, 'b', tok)
  const cc = await joinNode(c, 'c', tok)
  c.controller.netmap.flush()

  const s1 = await openStream(c.url, a.credential, `?epoch=${epoch}&since=${v}`)
  t.teardown(() => s1.close())
  const m1 = await s1.next()
  if (m1.type !== 'delta') throw new Error(`expected delta, got ${m1.type}`)
  t.equal(m1.from, v)
  t.equal(m1.to, c.controller.netmap.version)
  t.same(m1.upsert.map(n => n.id).sort(), [b.nodeId, cc.nodeId].sort())

  const s2 = await openStream(c.url, a.credential, `?epoch=${epoch}&since=${c.controller.netmap.version}`)
  t.teardown(() => s2.close())
  t.match(await s2.next(), { type: 'ping', epoch, version: c.controller.netmap.version }, 'nothing to catch up: a ping, no map')

  const s3 = await openStream(c.url, a.credential, `?epoch=deadbeef&since=${v}`)
  t.teardown(() => s3.close())
  t.match(await s3.next(), { type: 'full' }, 'stale epoch -> full map')
})

t.test('stream: a version older than the delta history gets the full map', async (t) => {
  const c = await start(t, { deltaHistory: 2 })
  const tok = await token(c, { reusable: true })
  const a = await joinNode(c, 'a', tok)
  c.controller.netmap.flush()
  const v = c.controller.netmap.version
  for (let i = 0; i < 4; i++) { await joinNode(c, `x${i}`, tok); c.controller.netmap.flush() }
  const s = await openStream(c.url, a.credential, `?epoch=${c.controller.epoch}&since=${v}`)
  t.teardown(() => s.close())
  const m = await s.next()
  if (m.type !== 'full') throw new Error(`expected full, got ${m.type}`)
  t.equal(m.netmap.nodes.length, 5)
})

t.test('heartbeats without changes do not bump the netmap; endpoint changes do', async (t) => {
  const c = await start(t)
  const a = await joinNode(c, 'a')
  c.controller.netmap.flush()
  const v = c.controller.netmap.version
  for (let i = 0; i < 3; i++) {
    const r = await call(c.url, 'POST', '/v1/heartbeat', { endpoints: ['198.18.0.2:51820'], listenPort: 51820 }, a.credential)
    t.equal(r.status, 200)
    t.same(r.json, { epoch: c.controller.epoch, version: v, heartbeatIntervalMs: 5000 })
  }
  c.controller.netmap.flush()
  t.equal(c.controller.netmap.version, v)
  const s = await openStream(c.url, a.credential, `?epoch=${c.controller.epoch}&since=${v}`)
  t.teardown(() => s.close())
  await s.next()
  await call(c.url, 'POST', '/v1/heartbeat', { endpoints: ['198.18.0.3:51820'], listenPort: 51821 }, a.credential)
  const d = await s.next(2000) // within the netmap pacing interval (1 s) of the last version, plus slack
  t.match(d, { type: 'delta', from: v, upsert: [{ id: a.nodeId, endpoints: ['198.18.0.3:51820'], observedEndpoint: '127.0.0.1:51821' }] })
})

t.test('removing a node: its stream closes, its credential fails, others get a remove delta', async (t) => {
  const c = await start(t)
  const tok = await token(c, { reusable: true })
  const a = await joinNode(c, 'a', tok)
  const b = await joinNode(c, 'b', tok)
  c.controller.netmap.flush() // b's record is out (not held by the pacing), so there is something to remove
  const sa = await openStream(c.url, a.credential)
  const sb = await openStream(c.url, b.credential)
  t.teardown(() => { sa.close(); sb.close() })
  await sa.next()
  await sb.next()
  const r = await call(c.url, 'DELETE', `/v1/nodes/${b.nodeId}`, undefined, c.adminKey)
  t.equal(r.status, 204)
  t.ok(await sb.ended(1000), "the removed node's stream is closed")
  t.match(await sa.next(1000), { type: 'delta', upsert: [], remove: [b.nodeId] })
  t.equal((await call(c.url, 'POST', '/v1/heartbeat', { endpoints: [], listenPort: 51820 }, b.credential)).status, 403)
  t.equal((await call(c.url, 'GET', '/v1/netmap', undefined, b.credential)).status, 403)
  const nm = await call(c.url, 'GET', '/v1/netmap', undefined, a.credential)
  t.same(nm.json.nodes.map((n: { id: string }) => n.id), [a.nodeId])
  t.equal((await call(c.url, 'DELETE', `/v1/nodes/${b.nodeId}`, undefined, c.adminKey)).status, 404)
})

t.test('a stream without a valid credential is refused', async (t) => {
  const c = await start(t)
  const r = await call(c.url, 'GET', '/v1/netmap/stream', undefined, 'wn_bogus')
  t.equal(r.status, 401)
  t.equal(r.json.code, 'WEFT_ERR_UNAUTHORIZED')
})

t.test('leave marks the node left in the netmap', async (t) => {
  const c = await start(t)
  const tok = await token(c, { reusable: true })
  const a = await joinNode(c, 'a', tok)
  const b = await joinNode(c, 'b', tok)
  const s = await openStream(c.url, a.credential)
  t.teardown(() => s.close())
  await s.next()
  t.equal((await call(c.url, 'POST', '/v1/leave', undefined, b.credential)).status, 204)
  t.match(await s.next(1000), { type: 'delta', upsert: [{ id: b.nodeId, health: 'left' }] })
})

t.test('idle channels get ping lines at the configured interval', async (t) => {
  const c = await start(t, { streamPingIntervalMs: 200 })
  const a = await joinNode(c, 'a')
  const s = await openStream(c.url, a.credential)
  t.teardown(() => s.close())
  t.match(await s.next(), { type: 'full' })
  t.match(await s.next(1000), { type: 'ping', epoch: c.controller.epoch, version: c.controller.netmap.version, at: Number })
  t.match(await s.next(1000), { type: 'ping' })
  const metrics = await (await fetch(new URL('/metrics', c.url))).text()
  t.match(metrics, /weft_update_channels_open 1/)
})
