/**
 * The routes behind the dashboard: viewer keys, sessions with their cookie and CSRF header, the mesh matrix, the
 * event timeline and its stream, the health history, and the two halves of each node's health.
 */
import t from 'tap'
import { join } from 'node:path'
import { request } from 'node:http'
import { call, joinNode, start, tempDir, token, until } from './helpers.js'

type Running = Awaited<ReturnType<typeof start>>

/** A call with the session cookie `cookie` (and the CSRF header when given). */
async function withCookie (c: Running, method: string, path: string, cookie: string, csrf?: string, body?: unknown): Promise<{ status: number, json: any }> {
  return await call(c.url, method, path, body, undefined, { cookie, ...(csrf !== undefined ? { 'x-weft-csrf': csrf } : {}) })
}

/** Signs in with `key`: the status, the body and the cookie the answer sets. */
async function signIn (c: Running, key: string): Promise<{ status: number, json: any, setCookie: string | null, cookie: string }> {
  const res = await fetch(new URL('/v1/session', c.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }) })
  const setCookie = res.headers.get('set-cookie')
  return { status: res.status, json: await res.json(), setCookie, cookie: setCookie?.split(';')[0] ?? '' }
}

async function heartbeat (c: Running, credential: string, swim?: { incarnation: number, suspect: unknown[], dead: unknown[] }): Promise<void> {
  const r = await call(c.url, 'POST', '/v1/heartbeat', { endpoints: [], listenPort: 51820, ...(swim !== undefined ? { swim } : {}) }, credential)
  if (r.status !== 200) throw new Error(`heartbeat: ${r.status} ${JSON.stringify(r.json)}`)
}

t.test('a viewer key reads and signs in; it admits no node and changes nothing', async (t) => {
  const c = await start(t)
  const made = await call(c.url, 'POST', '/v1/tokens', { viewer: true, description: 'wall screen' }, c.adminKey)
  t.equal(made.status, 200)
  t.match(made.json, { viewer: true, reusable: false })
  t.match(made.json.token, /^wv_/)
  t.equal((await call(c.url, 'POST', '/v1/tokens', { viewer: true, reusable: true }, c.adminKey)).status, 400, 'a viewer key takes no join options')
  const listed = (await call(c.url, 'GET', '/v1/tokens', undefined, c.adminKey)).json.tokens
  t.match(listed, [{ id: made.json.id, viewer: true }])
  await t.rejects(joinNode(c, 'sneaky', made.json.token), /register failed: 403 .*WEFT_ERR_TOKEN_REJECTED.*is a viewer key/)

  const viewer = made.json.token as string
  const n = await joinNode(c, 'web')
  t.equal((await call(c.url, 'GET', '/v1/nodes', undefined, viewer)).status, 200, 'a script reads with the viewer key as bearer')
  t.equal((await call(c.url, 'GET', '/v1/mesh', undefined, viewer)).status, 200)
  for (const [method, path] of [['GET', '/v1/tokens'], ['GET', '/v1/backup'], ['DELETE', `/v1/nodes/${n.nodeId}`], ['POST', '/v1/tokens']] as const) {
    const r = await call(c.url, method, path, method === 'POST' ? {} : undefined, viewer)
    t.equal(r.status, 403, `${method} ${path}`)
    t.equal(r.json.code, 'WEFT_ERR_FORBIDDEN')
  }
  t.equal((await call(c.url, 'GET', '/v1/nodes', undefined, 'wv_nonsense')).status, 401)
})

t.test('sessions: a cookie that scripts cannot read, a CSRF header for every change, sign-out, a revoked viewer key ends its sessions', async (t) => {
  const c = await start(t)
  t.equal((await signIn(c, 'wa_wrong')).status, 401, 'a wrong key is refused')
  const admin = await signIn(c, c.adminKey)
  t.equal(admin.status, 200)
  t.match(admin.json, { role: 'admin', csrf: /^[\w-]{20,}$/ })
  t.match(admin.setCookie, /^weft_session=ws_[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/, 'HttpOnly, SameSite=Strict; no Secure over plain HTTP')
  t.same((await withCookie(c, 'GET', '/v1/session', admin.cookie)).json, admin.json, 'the page finds its session again')
  t.equal((await call(c.url, 'GET', '/v1/session')).status, 401, 'no cookie, no session')

  const n = await joinNode(c, 'web')
  t.equal((await withCookie(c, 'GET', '/v1/nodes', admin.cookie)).status, 200)
  const noCsrf = await withCookie(c, 'DELETE', `/v1/nodes/${n.nodeId}`, admin.cookie)
  t.equal(noCsrf.status, 403, 'a change without the CSRF header is refused')
  t.match(noCsrf.json, { code: 'WEFT_ERR_FORBIDDEN', message: /x-weft-csrf/ })
  t.equal((await withCookie(c, 'DELETE', `/v1/nodes/${n.nodeId}`, admin.cookie, 'wrong')).status, 403)
  t.equal((await withCookie(c, 'DELETE', `/v1/nodes/${n.nodeId}`, admin.cookie, admin.json.csrf)).status, 204, 'with it, the admin removes')

  const viewerKey = await call(c.url, 'POST', '/v1/tokens', { viewer: true }, c.adminKey)
  const viewer = await signIn(c, viewerKey.json.token)
  t.equal(viewer.json.role, 'viewer')
  const m = await joinNode(c, 'db')
  t.equal((await withCookie(c, 'GET', '/v1/nodes', viewer.cookie)).status, 200)
  t.equal((await withCookie(c, 'DELETE', `/v1/nodes/${m.nodeId}`, viewer.cookie, viewer.json.csrf)).status, 403, 'a viewer session removes nothing')
  t.equal((await call(c.url, 'DELETE', `/v1/tokens/${viewerKey.json.id as string}`, undefined, c.adminKey)).status, 200)
  t.equal((await withCookie(c, 'GET', '/v1/nodes', viewer.cookie)).status, 401, 'revoking the key ends its sessions')

  const out = await fetch(new URL('/v1/session', c.url), { method: 'DELETE', headers: { cookie: admin.cookie, 'x-weft-csrf': admin.json.csrf } })
  t.equal(out.status, 204)
  t.match(out.headers.get('set-cookie'), /^weft_session=; .*Max-Age=0/, 'sign-out clears the cookie')
  t.equal((await withCookie(c, 'GET', '/v1/nodes', admin.cookie)).status, 401, 'and the session is gone')
})

t.test('each node\'s two halves of health, and the matrix of who holds whom', async (t) => {
  const c = await start(t)
  const tok = await token(c, { reusable: true })
  const [a, b, x] = [await joinNode(c, 'a', tok), await joinNode(c, 'b', tok), await joinNode(c, 'x', tok)]
  await heartbeat(c, a.credential, { incarnation: 1, suspect: [], dead: [{ id: x.nodeId, incarnation: 0 }] })
  await heartbeat(c, b.credential, { incarnation: 1, suspect: [{ id: x.nodeId, incarnation: 0 }], dead: [] })
  const nodes = (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes as any[]
  const byName = new Map(nodes.map(n => [n.hostname, n]))
  t.match(byName.get('x'), { control: { fresh: true, channelOpen: false, connectedSince: null }, mesh: { reporters: 2, alive: 0, suspect: 1, dead: 1 } })
  t.match(byName.get('a'), { mesh: { reporters: 1, alive: 1, suspect: 0, dead: 0 } }, 'b holds a alive; x reports nothing')
  const m = (await call(c.url, 'GET', '/v1/mesh', undefined, c.adminKey)).json
  t.same(m.nodes.map((n: { hostname: string }) => n.hostname), ['a', 'b', 'x'], 'sorted by name')
  t.same(m.rows, ['-ad', 'a-s', '???'])
})

t.test('events: joins, renames, health changes and removals, with their reasons, listed and streamed as they happen', async (t) => {
  const c = await start(t, { controlStaleMs: 300, heartbeatIntervalMs: 100, streamGraceMs: 100 })
  const a = await joinNode(c, 'alpha')
  const stream = await openEvents(c, 0)
  t.teardown(() => stream.close())
  t.match(await stream.next(), { type: 'join', nodeId: a.nodeId, name: 'alpha.weft.internal', reason: /joined as 100\.64\./ }, 'replayed from seq 0')
  await call(c.url, 'PUT', `/v1/nodes/${a.nodeId}/name`, { name: 'gw' }, c.adminKey)
  t.match(await stream.next(), { type: 'rename', from: 'alpha', to: 'gw', name: 'gw.weft.internal' })
  t.match(await stream.next(5000), { type: 'health', nodeId: a.nodeId, from: 'online', to: 'offline', reason: /controller lost it/ }, 'a silent node goes offline')
  await call(c.url, 'DELETE', `/v1/nodes/${a.nodeId}`, undefined, c.adminKey)
  t.match(await stream.next(), { type: 'remove', nodeId: a.nodeId, reason: 'removed by an admin' })
  const listed = (await call(c.url, 'GET', '/v1/events?since=1', undefined, c.adminKey)).json
  t.same(listed.events.map((e: { type: string }) => e.type), ['rename', 'health', 'remove'])
  t.equal(listed.last, 4)
  t.equal((await call(c.url, 'GET', '/v1/events?since=x', undefined, c.adminKey)).status, 400)
})

t.test('history: each node\'s health changes are kept in the store, across a restart', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const o = { dataDir, controlStaleMs: 300, heartbeatIntervalMs: 100, streamGraceMs: 100 }
  const c = await start(t, o)
  const t0 = Date.now()
  const a = await joinNode(c, 'alpha')
  t.ok(await until(async () => (await call(c.url, 'GET', `/v1/nodes/${a.nodeId}/history`, undefined, c.adminKey)).json.changes.length === 2, 5000),
    'online at the join, then offline')
  await heartbeat(c, a.credential)
  const h = (await call(c.url, 'GET', `/v1/history?since=${t0 - 1000}`, undefined, c.adminKey)).json
  t.match(h, { nodes: [{ id: a.nodeId, dnsName: 'alpha.weft.internal', changes: [{ health: 'online' }, { health: 'offline' }, { health: 'online' }] }] })
  t.ok(h.from === t0 - 1000 && h.to >= h.from)
  await c.close()
  const again = await start(t, o)
  const kept = (await call(again.url, 'GET', `/v1/nodes/${a.nodeId}/history?since=${t0 - 1000}`, undefined, again.adminKey)).json.changes
  t.same(kept.slice(0, 3).map((x: { health: string }) => x.health), ['online', 'offline', 'online'], 'written before the stop, read at the start')
  t.equal((await call(again.url, 'GET', '/v1/nodes/n0000000000000000/history', undefined, again.adminKey)).status, 404)
})

t.test('/ui redirects to /ui/, which is the dashboard once built', async (t) => {
  const c = await start(t)
  const res = await fetch(new URL('/ui', c.url), { redirect: 'manual' })
  t.equal(res.status, 302)
  t.equal(res.headers.get('location'), '/ui/')
  const page = await fetch(new URL('/ui/', c.url))
  if (page.status === 200) {
    t.match(page.headers.get('content-security-policy'), /default-src 'self'/)
    t.match(await page.text(), /<title>[^<]*Weft/)
  } else {
    t.equal(page.status, 404)
    t.match(((await page.json()) as { message: string }).message, /the dashboard is not built/)
  }
})

/** An open event stream, read event by event. */
async function openEvents (c: Running, since: number): Promise<{ next: (ms?: number) => Promise<any>, close: () => void }> {
  const url = new URL(`/v1/events/stream?since=${since}`, c.url)
  const queue: any[] = []
  let wake: (() => void) | null = null
  let buf = ''
  const req = request(url, { headers: { authorization: `Bearer ${c.adminKey}` } })
  await new Promise<void>((resolve, reject) => {
    req.on('response', res => {
      if (res.statusCode !== 200 || !String(res.headers['content-type']).startsWith('text/event-stream')) reject(new Error(`stream: ${res.statusCode}`))
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buf += chunk
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i)
          buf = buf.slice(i + 2)
          const data = block.split('\n').find(l => l.startsWith('data: '))
          if (data !== undefined) { queue.push(JSON.parse(data.slice(6))); wake?.() }
        }
      })
      resolve()
    })
    req.on('error', reject)
    req.end()
  })
  return {
    next: async (ms = 3000) => {
      const end = Date.now() + ms
      while (queue.length === 0) {
        if (Date.now() >= end) throw new Error('no event in time')
        await new Promise<void>(resolve => { wake = resolve; setTimeout(resolve, 50) })
      }
      return queue.shift()
    },
    close: () => req.destroy()
  }
}
