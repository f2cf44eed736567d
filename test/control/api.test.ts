import t from 'tap'
import { get as httpGet } from 'node:http'
import { Writable } from 'node:stream'
import { ManualClock } from '../../lib/clock.js'
import { createLogger } from '../../lib/log.js'
import { generateKeyPair } from '../../lib/wire/keys.js'
import { call, joinNode, registerBody, start, token } from './helpers.js'

t.test('admin routes need the admin key', async (t) => {
  const c = await start(t)
  for (const [method, path] of [['GET', '/v1/nodes'], ['POST', '/v1/tokens'], ['DELETE', '/v1/nodes/n1']] as const) {
    const none = await call(c.url, method, path, method === 'POST' ? {} : undefined)
    t.equal(none.status, 401, `${method} ${path} without a key`)
    t.equal(none.json.code, 'WEFT_ERR_UNAUTHORIZED')
    const wrong = await call(c.url, method, path, method === 'POST' ? {} : undefined, 'wa_' + 'x'.repeat(43))
    t.equal(wrong.status, 401, `${method} ${path} with a wrong key`)
  }
  const n = await joinNode(c, 'a')
  t.equal((await call(c.url, 'GET', '/v1/nodes', undefined, n.credential)).status, 401, 'a node credential is not an admin key')
  t.equal((await call(c.url, 'GET', '/v1/netmap', undefined, c.adminKey)).status, 401, 'the admin key is not a node credential')
})

t.test('repeated failed authentication from one address is rate limited', async (t) => {
  const c = await start(t, { authFailuresPerMin: 5 })
  for (let i = 0; i < 5; i++) t.equal((await call(c.url, 'GET', '/v1/nodes', undefined, 'wrong')).status, 401)
  const r = await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)
  t.equal(r.status, 429, 'even the right key waits out the window')
  t.equal(r.json.code, 'WEFT_ERR_RATE_LIMITED')
})

t.test('nodes list shows control-side facts', async (t) => {
  const c = await start(t)
  const n = await joinNode(c, 'web-1')
  await call(c.url, 'POST', '/v1/heartbeat', { endpoints: ['198.18.0.2:51820'], listenPort: 51820, agentVersion: '0.1.0', netmapVersion: 2 }, n.credential)
  const r = await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)
  t.equal(r.status, 200)
  t.match(r.json.nodes[0], {
    id: n.nodeId,
    hostname: 'web-1',
    meshIp: n.meshIp,
    health: 'online',
    connected: false,
    agentVersion: '0.1.0',
    netmapVersion: 2,
    healthReason: /controller hears it/,
    lastSeenAt: Number
  })
  t.notOk('credentialHash' in r.json.nodes[0], 'no secret material in the listing')
})

t.test('malformed bodies get a 4xx with a message, never a 5xx', async (t) => {
  const c = await start(t)
  const n = await joinNode(c, 'a')
  const cases: Array<[string, string, unknown, string | undefined, Record<string, string>?]> = [
    ['POST', '/v1/register', '{not json', undefined],
    ['POST', '/v1/register', { publicKey: 42 }, undefined],
    ['POST', '/v1/register', [], undefined],
    ['POST', '/v1/register', 'null', undefined],
    ['POST', '/v1/register', {
      publicKey: 'x',
      hostname: 'a',
      endpoints: 'nope',
      listenPort: 'x',
      swimPort: 1,
      timestamp: 1,
      nonce: 'a',
      proof: 'b'
    }, undefined],
    ['POST', '/v1/heartbeat', { endpoints: [1, 2], listenPort: 70000 }, n.credential],
    ['POST', '/v1/heartbeat', { endpoints: [], listenPort: 1, swim: { incarnation: -1, suspect: 'x', dead: [] } }, n.credential],
    ['POST', '/v1/heartbeat', '{"endpoints":[],"listenPort":1}', n.credential, { 'content-type': 'text/plain' }],
    ['POST', '/v1/tokens', { ttlMs: 'soon' }, c.adminKey],
    ['POST', '/v1/tokens', { reusable: true, extra: 1 }, c.adminKey],
    ['GET', '/v1/netmap/stream?since=abc', undefined, n.credential],
    ['POST', '/v1/register', JSON.stringify({ pad: 'x'.repeat(70_000) }), undefined]
  ]
  for (const [method, path, body, bearer, headers] of cases) {
    const r = await call(c.url, method, path, body, bearer, headers)
    const label = `${method} ${path} ${String(JSON.stringify(body)).slice(0, 60)}`
    t.ok(r.status >= 400 && r.status < 500, `${label} -> ${r.status}`)
    t.type(r.json.message, 'string', `${label} has a message`)
    t.match(r.json.code, /^WEFT_ERR_/, `${label} has a code`)
  }
  const big = await call(c.url, 'POST', '/v1/register', JSON.stringify({ pad: 'x'.repeat(70_000) }))
  t.equal(big.status, 413)
  t.equal((await call(c.url, 'GET', '/v1/nope')).status, 404)
})

t.test('health over HTTP: a silent node goes offline, reported by peers it goes control-lost, a heartbeat brings it back', async (t) => {
  const clock = new ManualClock(Date.now())
  const lines: string[] = []
  const sink = new Writable({ write (chunk, _enc, cb) { lines.push(...String(chunk).split('\n').filter(l => l !== '')); cb() } })
  const c = await start(t, { clock, log: createLogger({ level: 'info', destination: sink }) })
  const tok = await token(c, { reusable: true })
  const [a, b, x] = [await joinNode(c, 'a', tok, clock), await joinNode(c, 'b', tok, clock), await joinNode(c, 'x', tok, clock)]
  const beat = async (n: { credential: string }, dead: string[] = []): Promise<void> => {
    const r = await call(c.url, 'POST', '/v1/heartbeat', {
      endpoints: [],
      listenPort: 51820,
      swim: { incarnation: 0, suspect: [], dead: dead.map(id => ({ id, incarnation: 0 })) }
    }, n.credential)
    t.equal(r.status, 200)
  }
  const health = async (id: string): Promise<string> =>
    (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes.find((n: { id: string }) => n.id === id).health
  clock.advance(10_000)
  await beat(a)
  await beat(b)
  clock.advance(5_250)
  c.controller.sweep()
  t.equal(await health(x.nodeId), 'control-lost', 'controller lost it, peers report it alive')
  await beat(a, [x.nodeId])
  await beat(b, [x.nodeId])
  t.equal(await health(x.nodeId), 'offline', 'peers now hold it dead too')
  await beat(x)
  t.equal(await health(x.nodeId), 'mesh-lost', 'controller hears it again but peers still hold it dead')
  await beat(a)
  await beat(b)
  t.equal(await health(x.nodeId), 'online')
  const metrics = await (await fetch(new URL('/metrics', c.url))).text()
  t.match(metrics, /weft_health_changes_total\{from="online",to="control-lost"\} 1/)
  t.match(metrics, /weft_nodes\{health="online"\} 3/)
  t.match(metrics, /weft_registrations_total\{result="new"\} 3/)
  t.match(metrics, /weft_http_request_duration_seconds_bucket/)
  const events = lines.map(l => JSON.parse(l)).filter(e => e.event === 'health.change' && e.nodeId === x.nodeId)
  t.same(events.map(e => [e.from, e.to]), [['online', 'control-lost'], ['control-lost', 'offline'], ['offline', 'mesh-lost'], ['mesh-lost', 'online']])
  t.match(events[0], { meshIp: x.meshIp, hostname: 'x', msg: 'x online -> control-lost', reason: /controller lost it but peers see it/ })
  const all = lines.join('\n')
  t.notMatch(all, new RegExp(c.adminKey), 'the admin key is never logged')
  t.notMatch(all, new RegExp(x.credential), 'credentials are never logged')
  t.notMatch(all, new RegExp(tok), 'tokens are never logged')
})

t.test('healthz, info and the OpenAPI document', async (t) => {
  const c = await start(t)
  t.same((await call(c.url, 'GET', '/healthz')).json, { ok: true })
  t.match((await call(c.url, 'GET', '/v1/info')).json, { publicKey: c.publicKey, cidr: '100.64.0.0/10', epoch: c.controller.epoch, heartbeatIntervalMs: 5000 })
  const doc = (await call(c.url, 'GET', '/v1/openapi.json')).json
  t.equal(doc.openapi, '3.1.0')
  for (const p of ['/v1/info', '/v1/register', '/v1/heartbeat', '/v1/leave', '/v1/netmap', '/v1/netmap/stream', '/v1/tokens', '/v1/nodes', '/v1/nodes/{id}',
    '/v1/nodes/{id}/tags', '/v1/nodes/{id}/name', '/v1/policy', '/v1/policy/test', '/v1/session', '/v1/mesh', '/v1/events', '/v1/events/stream',
    '/v1/history', '/v1/nodes/{id}/history']) {
    t.ok(doc.paths[p] !== undefined, `${p} documented`)
  }
})

t.test('heartbeat: a SWIM report with an incarnation above 2^48 is refused', async (t) => {
  const c = await start(t)
  const n = await joinNode(c, 'a')
  for (const swim of [{ incarnation: 2 ** 48 + 1, suspect: [], dead: [] }, { incarnation: 1, suspect: [{ id: 'x', incarnation: 2 ** 53 }], dead: [] }]) {
    const r = await call(c.url, 'POST', '/v1/heartbeat', { endpoints: [], listenPort: 1, swim }, n.credential)
    t.equal(r.status, 400, JSON.stringify(swim))
  }
  const ok = await call(c.url, 'POST', '/v1/heartbeat', { endpoints: [], listenPort: 1, swim: { incarnation: 2 ** 48, suspect: [], dead: [] } }, n.credential)
  t.equal(ok.status, 200, 'at 2^48')
})

t.test('a value of the wrong type is refused with 400, never coerced: bodies on every route', async (t) => {
  const c = await start(t)
  const n = await joinNode(c, 'a')
  const signed = (o: Record<string, unknown>): Record<string, unknown> => ({ ...registerBody(c.publicKey, generateKeyPair(), { token: 'wt_unused' }), ...o })
  const cases: Array<[string, string, unknown, string | undefined]> = [
    ['POST', '/v1/tokens', { reusable: 'true' }, c.adminKey],
    ['POST', '/v1/tokens', { reusable: [true] }, c.adminKey],
    ['POST', '/v1/tokens', { reusable: 1 }, c.adminKey],
    ['POST', '/v1/tokens', { ttlMs: '60000' }, c.adminKey],
    ['POST', '/v1/tokens', { ttlMs: [60000] }, c.adminKey],
    ['POST', '/v1/tokens', { reusable: null }, c.adminKey],
    ['POST', '/v1/register', signed({ listenPort: true }), undefined],
    ['POST', '/v1/register', signed({ listenPort: '51820' }), undefined],
    ['POST', '/v1/register', signed({ swimPort: [7946] }), undefined],
    ['POST', '/v1/register', signed({ timestamp: String(Date.now()) }), undefined],
    ['POST', '/v1/register', signed({ endpoints: '198.18.0.2:51820' }), undefined],
    ['POST', '/v1/register', signed({ hostname: 42 }), undefined],
    ['POST', '/v1/register', signed({ token: ['wt_unused'] }), undefined],
    ['POST', '/v1/heartbeat', { endpoints: [], listenPort: true }, n.credential],
    ['POST', '/v1/heartbeat', { endpoints: '198.18.0.2:51820', listenPort: 51820 }, n.credential],
    ['POST', '/v1/heartbeat', { endpoints: [], listenPort: 51820, netmapVersion: '3' }, n.credential],
    ['POST', '/v1/heartbeat', { endpoints: [], listenPort: 51820, agentVersion: 1 }, n.credential],
    ['POST', '/v1/heartbeat', { endpoints: [], listenPort: 51820, swim: { incarnation: '1', suspect: [], dead: [] } }, n.credential],
    ['POST', '/v1/heartbeat', { endpoints: [], listenPort: 51820, swim: { incarnation: 1, suspect: [{ id: 'n1', incarnation: [2] }], dead: [] } }, n.credential]
  ]
  for (const [method, path, body, bearer] of cases) {
    const r = await call(c.url, method, path, body, bearer)
    const label = `${method} ${path} ${JSON.stringify(body).slice(0, 80)}`
    t.equal(r.status, 400, `${label} -> 400`)
    t.equal(r.json.code, 'WEFT_ERR_INVALID_INPUT', `${label} has the code`)
  }
  const nodes = (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes as Array<{ id: string }>
  t.same(nodes.map(x => x.id), [n.nodeId], 'no refused registration went through')
  const ok = await call(c.url, 'POST', '/v1/tokens', { reusable: true, ttlMs: 60_000 }, c.adminKey)
  t.equal(ok.status, 200, 'the right types still work')
  t.equal(ok.json.reusable, true)
})

t.test('a query string integer is taken only as decimal digits', async (t) => {
  const c = await start(t)
  const n = await joinNode(c, 'a')
  for (const q of [
    'since=1e3', 'since=0x10', 'since=1.0', 'since=01', 'since=', 'since=-1', 'since=%201', 'since=1&since=2', 'since=99999999999999999999',
    'epoch=a&epoch=b'
  ]) {
    const r = await firstLine(c.url, n.credential, q)
    t.equal(r.status, 400, `?${q} -> 400`)
    t.equal(r.line.code, 'WEFT_ERR_INVALID_INPUT', `?${q} has the code`)
  }
  for (const q of ['since=0', 'since=7', 'epoch=x&since=123456789012345']) {
    const r = await firstLine(c.url, n.credential, q)
    t.equal(r.status, 200, `?${q} opens the channel`)
    t.equal(r.line.type, 'full', `?${q}: a full map, since the epoch is not current`)
  }
  const cur = await firstLine(c.url, n.credential, `epoch=${c.controller.epoch}&since=${c.controller.netmap.version}`)
  t.equal(cur.line.type, 'ping', 'the current epoch and version as digits: a ping')
})

/** Opens the update channel with `query` and resolves with the status and the first line (or error body), then hangs up. */
async function firstLine (base: string, credential: string, query: string): Promise<{ status: number, line: any }> {
  return await new Promise((resolve, reject) => {
    const req = httpGet(new URL(`/v1/netmap/stream?${query}`, base), { agent: false, headers: { authorization: `Bearer ${credential}` } }, res => {
      let buf = ''
      res.setEncoding('utf8')
      const done = (): void => { req.destroy(); resolve({ status: res.statusCode ?? 0, line: JSON.parse(buf.split('\n')[0]!) }) }
      res.on('data', (chunk: string) => { buf += chunk; if (buf.includes('\n')) done() })
      res.on('end', done)
    })
    req.on('error', reject)
    req.setTimeout(5000, () => req.destroy(new Error(`no answer to ?${query} within 5 s`)))
  })
}
