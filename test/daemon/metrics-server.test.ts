import t from 'tap'
import { checkMetricsListen, MetricsServer } from '../../lib/daemon/metrics-server.js'
import { resolve } from '../../lib/daemon/config.js'
import { silentLogger } from '../../lib/log.js'

const CIDR = '100.64.0.0/10'

t.test('--metrics-listen: loopback and underlay addresses pass; mesh addresses and wildcards are refused without the flag', async (t) => {
  const cases: Array<[string, boolean, { host: string, port: number } | RegExp]> = [
    ['127.0.0.1:9586', false, { host: '127.0.0.1', port: 9586 }],
    ['198.18.1.1:9586', false, { host: '198.18.1.1', port: 9586 }],
    ['[::1]:9586', false, { host: '::1', port: 9586 }],
    ['100.64.0.5:9586', false, /100\.64\.0\.5 is inside the mesh CIDR 100\.64\.0\.0\/10, so every peer could scrape .* --metrics-allow-mesh/],
    ['100.127.255.254:9586', false, /inside the mesh CIDR/],
    ['[::ffff:100.64.0.5]:9586', false, /inside the mesh CIDR/],
    ['0.0.0.0:9586', false, /0\.0\.0\.0 listens on every address, this node's mesh IP included/],
    ['[::]:9586', false, /:: listens on every address/],
    ['[0:0:0:0:0:0:0:0]:9586', false, /listens on every address/],
    ['100.64.0.5:9586', true, { host: '100.64.0.5', port: 9586 }],
    ['0.0.0.0:9586', true, { host: '0.0.0.0', port: 9586 }],
    ['localhost:9586', false, /is not IP:PORT/],
    ['127.0.0.1', false, /is not IP:PORT/],
    ['127.0.0.1:0', false, /is not IP:PORT/]
  ]
  for (const [listen, allow, want] of cases) {
    if (want instanceof RegExp) {
      t.throws(() => checkMetricsListen(listen, CIDR, allow), {
        code: 'WEFT_ERR_CONFIG',
        message: want
      }, `${listen}${allow ? ' (allowed)' : ''} refused`)
    } else t.same(checkMetricsListen(listen, CIDR, allow), want, `${listen}${allow ? ' (allowed)' : ''} accepted`)
  }
})

t.test('the daemon config checks the flag\'s syntax at start; --metrics-allow-mesh alone makes no sense', async (t) => {
  const base = { controllerUrls: ['http://198.18.0.1:8080'], stateDir: '/tmp/x', ifname: 'wg0' }
  t.throws(() => resolve({ ...base, metricsListen: 'metrics.example:9586' }),
    { code: 'WEFT_ERR_CONFIG', message: /--metrics-listen "metrics.example:9586" is not IP:PORT/ })
  t.throws(() => resolve({ ...base, metricsAllowMesh: true }), { message: /--metrics-allow-mesh needs --metrics-listen/ })
  t.equal(resolve({ ...base, metricsListen: '127.0.0.1:9586' }).metricsListen, '127.0.0.1:9586')
})

t.test('the endpoint serves GET and HEAD /metrics; other paths 404, other methods 405, a failed scrape 500', async (t) => {
  let fail = false
  const server = await MetricsServer.start({
    host: '127.0.0.1',
    port: 0,
    log: silentLogger(),
    metrics: { contentType: 'text/plain; version=0.0.4; charset=utf-8', scrape: async () => { if (fail) throw new Error('device gone'); return 'weft_x 1\n' } }
  })
  t.teardown(async () => await server.close())
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
  const ok = await fetch(server.url)
  t.equal(ok.status, 200)
  t.equal(ok.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  t.equal(await ok.text(), 'weft_x 1\n')
  const head = await fetch(server.url, { method: 'HEAD' })
  t.equal(head.status, 200)
  t.equal((await fetch(server.url.replace('/metrics', '/'))).status, 404)
  const post = await fetch(server.url, { method: 'POST', body: 'x' })
  t.equal(post.status, 405)
  t.equal(post.headers.get('allow'), 'GET, HEAD')
  fail = true
  const bad = await fetch(server.url)
  t.equal(bad.status, 500)
  t.match(await bad.text(), /device gone/)
})

t.test('an address that cannot be bound is a ConfigError naming the flag', async (t) => {
  await t.rejects(MetricsServer.start({ host: '192.0.2.1', port: 9586, log: silentLogger(), metrics: { contentType: 'text/plain', scrape: async () => '' } }),
    { code: 'WEFT_ERR_CONFIG', message: /--metrics-listen: cannot listen on 192\.0\.2\.1:9586/ })
})
