import t from 'tap'
import { createServer, request, type Server } from 'node:http'
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import { ManualClock, systemClock } from '../../lib/clock.js'
import { ControllerHttp } from '../../lib/client/http.js'
import { AdminClient } from '../../lib/control/admin-client.js'
import { ControlClient } from '../../lib/daemon/control-client.js'
import { joinNode, start } from '../control/helpers.js'

/** Listens on a free loopback port; closed at teardown. */
async function listen (t: { teardown (fn: () => void): void }, server: Server): Promise<number> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return (server.address() as AddressInfo).port
}

/** A path-based reverse proxy on loopback: `/weft/...` goes to `target` as `/...`; every other path is its own 404 page. */
async function proxy (t: { teardown (fn: () => void): void }, target: string): Promise<{ url: string, seen: string[] }> {
  const seen: string[] = []
  const to = new URL(target)
  const server = createServer((req, res) => {
    seen.push(`${req.method ?? ''} ${req.url ?? ''}`)
    if (req.url?.startsWith('/weft/') !== true) {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>404 Not Found</body></html>')
      return
    }
    const up = request({ host: to.hostname, port: to.port, method: req.method, path: req.url.slice('/weft'.length), headers: req.headers }, upRes => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers)
      upRes.pipe(res)
    })
    up.on('error', () => res.writeHead(502).end())
    req.pipe(up)
  })
  return { url: `http://127.0.0.1:${await listen(t, server)}/weft/`, seen }
}

t.test('a controller behind a path prefix: admin and node calls keep the prefix', async (t) => {
  const c = await start(t)
  const p = await proxy(t, c.url)
  const admin = new AdminClient({ controllerUrls: [p.url], adminKey: c.adminKey }, systemClock)
  const tok = await admin.createToken({ reusable: false, ttlMs: 60_000 })
  t.match(tok.token, /^wt_/)
  const n = await joinNode(c, 'behind-proxy', tok.token)
  t.same((await admin.listNodes()).nodes.map(x => x.id), [n.nodeId])

  const node = new ControlClient(p.url)
  t.match(await node.info(), { publicKey: c.publicKey })
  await node.heartbeat(n.credential, { endpoints: [], listenPort: 51820 })
  const ac = new AbortController()
  const first: string[] = []
  await node.stream(n.credential, null, null, line => { first.push(line); ac.abort(new Error('got one')) }, {
    signal: ac.signal,
    idleMs: 5000,
    maxLineBytes: 1 << 20
  })
    .catch(() => {})
  t.match(JSON.parse(first[0]!), { type: 'full' }, 'the update channel opens through the prefix')
  await node.leave(n.credential)
  await admin.removeNode(n.nodeId)
  t.ok(p.seen.length > 0 && p.seen.every(s => / \/weft\/v1\//.test(s)), `every request went below /weft: ${p.seen.join(', ')}`)
})

t.test('a 2xx without the JSON a route promises is a clear error, not a crash or a silent undefined', async (t) => {
  const server = createServer((req, res) => {
    if (req.url === '/v1/info') res.writeHead(200, { 'content-type': 'text/html' }).end('<html>a proxy page</html>')
    else res.writeHead(204).end()
  })
  const url = `http://127.0.0.1:${await listen(t, server)}`
  const http = new ControllerHttp(url, { keepAlive: false, clock: systemClock })
  await t.rejects(http.call('GET', '/v1/info', { expect: 'json' }), { code: 'WEFT_ERR_CONTROLLER', message: /answered GET \/v1\/info with a body that is not JSON \(text\/html\): is --controller the controller's own URL, with the path prefix of any proxy/ })
  await t.rejects(http.call('GET', '/v1/netmap', { expect: 'json' }), { message: /answered GET \/v1\/netmap with HTTP 204 and no body, where JSON was expected/ })
  t.equal(await http.call('POST', '/v1/leave', { body: {}, expect: 'empty' }), undefined, '204 where nothing is expected')
})

t.test('a controller that accepts but never answers: a bounded wait and a sentence, for http and for the TLS handshake', async (t) => {
  const held: Socket[] = []
  const silent = createNetServer(s => { held.push(s) })
  await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => { for (const s of held) s.destroy(); silent.close() })
  const port = (silent.address() as AddressInfo).port
  for (const scheme of ['http', 'https']) {
    const http = new ControllerHttp(`${scheme}://127.0.0.1:${port}`, { requestTimeoutMs: 300, keepAlive: false, clock: systemClock })
    const t0 = Date.now()
    await t.rejects(http.call('GET', '/v1/nodes', { expect: 'json' }), {
      code: 'WEFT_ERR_CONTROLLER_UNREACHABLE',
      reason: 'timeout',
      message: new RegExp(`^the controller at ${scheme}://127\\.0\\.0\\.1:${port} did not answer (GET /v1/nodes|the TLS handshake) within 0\\.3 s\\. The ` +
        'host may be down')
    }, scheme)
    t.ok(Date.now() - t0 < 5000, `${scheme}: gave up within its bound`)
  }
})

t.test('the bound on a whole request runs on the client\'s clock', async (t) => {
  const held: Socket[] = []
  const silent = createNetServer(s => { held.push(s) })
  await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => { for (const s of held) s.destroy(); silent.close() })
  const port = (silent.address() as AddressInfo).port
  const clock = new ManualClock()
  const http = new ControllerHttp(`http://127.0.0.1:${port}`, { requestTimeoutMs: 10_000, keepAlive: false, clock })
  let settled = false
  const outcome = http.call('GET', '/v1/nodes', { expect: 'json' }).then(() => null, (err: unknown) => err).finally(() => { settled = true })
  await clock.advanceAsync(9_999)
  t.equal(settled, false, 'still waiting just before the bound')
  await clock.advanceAsync(1)
  t.match(await outcome, { code: 'WEFT_ERR_CONTROLLER_UNREACHABLE', reason: 'timeout', message: /did not answer GET \/v1\/nodes within 10 s/ })
})

t.test('a TLS proxy\'s "plain HTTP request was sent to HTTPS port" page is the http-to-https sentence', async (t) => {
  const server = createServer((_req, res) => {
    res.writeHead(400, { 'content-type': 'text/html' }).end('<html><center>The plain HTTP request was sent to HTTPS port</center></html>')
  })
  const url = `http://127.0.0.1:${await listen(t, server)}`
  await t.rejects(new ControllerHttp(url, { keepAlive: false, clock: systemClock }).call('GET', '/v1/nodes', { expect: 'json' }), {
    code: 'WEFT_ERR_CONTROLLER_TLS',
    reason: 'not-http',
    message: `the controller at ${url} speaks HTTPS, not plain HTTP: use ${url.replace('http:', 'https:')} in --controller.`
  })
})
