import t from 'tap'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { readdirSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { silentLogger } from '../../../lib/log.js'
import { NetnsWorld } from '../../../sim/netns/world.js'
import { openRelay } from '../../../sim/netns/relay.js'
import { processStartTime, readRecord, recordAlive, type ProcRecord } from '../../../sim/netns/procs.js'

const log = silentLogger()
const HTTP_PORT = 18080
const ECHO_PORT = 18081

/**
 * Servers inside the controller namespace, on its underlay address: HTTP with `/hello`, `/big?n=BYTES`
 * (deterministic bytes), POST `/sha` (sha256 of the body) and `/barrier?k=K` (each request waits until K are in
 * flight at once, so K answers prove K concurrent connections), and a TCP server that answers the sha256 of
 * everything it received once the client half-closes.
 */
const SERVERS = `
const http = require('node:http'); const net = require('node:net'); const { createHash } = require('node:crypto')
const [host, httpPort, echoPort] = process.argv.slice(1)
const chunk = Buffer.alloc(65536); for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251
let waiting = []
const srv = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x')
  if (u.pathname === '/hello') return res.end('hello from ' + host)
  if (u.pathname === '/big') {
    let left = Number(u.searchParams.get('n'))
    res.setHeader('content-length', left)
    const more = () => {
      while (left > 0) { const c = chunk.subarray(0, Math.min(left, chunk.length)); left -= c.length; if (!res.write(c)) return res.once('drain', more) }
      res.end()
    }
    return more()
  }
  if (u.pathname === '/sha') {
    const h = createHash('sha256'); let n = 0
    req.on('data', d => { h.update(d); n += d.length }); req.on('end', () => res.end(n + ' ' + h.digest('hex'))); return
  }
  if (u.pathname === '/barrier') {
    const k = Number(u.searchParams.get('k')); waiting.push(res)
    if (waiting.length >= k) { for (const r of waiting) r.end(String(waiting.length)); waiting = [] }
    return
  }
  res.statusCode = 404; res.end()
})
const echo = net.createServer({ allowHalfOpen: true }, s => {
  const h = createHash('sha256'); s.on('data', d => h.update(d)); s.on('end', () => s.end(h.digest('hex')))
})
srv.listen(Number(httpPort), host, () => echo.listen(Number(echoPort), host, () => process.stdout.write('listening\\n')))
`

/** The bytes /big sends: i % 251 for each offset i within 64 KiB chunks. */
function bigSha (n: number): string {
  const chunk = Buffer.alloc(65536)
  for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251
  const h = createHash('sha256')
  for (let left = n; left > 0; left -= chunk.length) h.update(chunk.subarray(0, Math.min(left, chunk.length)))
  return h.digest('hex')
}

const world = await NetnsWorld.create({ nodes: 1, controller: true, log })
t.teardown(async () => { await world.destroy() })
const ns = world.names.controllerNs
const host = world.names.controllerAddr
const servers = world.spawn(ns, [process.execPath, '-e', SERVERS, host, String(HTTP_PORT), String(ECHO_PORT)],
  { stdio: ['ignore', 'pipe', 'inherit'], name: 'servers' })
await once(servers.stdout!, 'data')

const relay = await openRelay(world, { ns, host, port: HTTP_PORT })

t.test('an HTTP server inside a namespace answers from the host through the relay', async t => {
  t.ok(relay.port > 0, `listening on 127.0.0.1:${relay.port}`)
  const r = await fetch(relay.url('/hello'))
  t.equal(r.status, 200, 'status')
  t.equal(await r.text(), `hello from ${host}`, 'the body the server inside sent')
  t.equal(relay.url('/ui/'), `http://127.0.0.1:${relay.port}/ui/`, 'url() names the relay\'s port')
})

t.test('concurrent connections are relayed at the same time', async t => {
  const k = 16
  // Each answer waits until all k requests are in flight, so k answers need k connections open together.
  const answers = await Promise.all(Array.from({ length: k }, async () => await (await fetch(relay.url(`/barrier?k=${k}`))).text()))
  t.same(answers, Array(k).fill(String(k)), `${k} requests in flight at once`)
})

t.test('large bodies pass intact both ways', async t => {
  const n = 48 * 1024 * 1024 + 123
  const r = await fetch(relay.url(`/big?n=${n}`))
  const body = Buffer.from(await r.arrayBuffer())
  t.equal(body.length, n, 'download length')
  t.equal(createHash('sha256').update(body).digest('hex'), bigSha(n), 'download bytes')
  const up = Buffer.alloc(16 * 1024 * 1024 + 7, 'weft')
  const answer = await (await fetch(relay.url('/sha'), { method: 'POST', body: up })).text()
  t.equal(answer, `${up.length} ${createHash('sha256').update(up).digest('hex')}`, 'upload bytes')
})

t.test('a half-close reaches the target, and its answer still comes back', async t => {
  const echo = await openRelay(world, { ns, host, port: ECHO_PORT })
  t.teardown(async () => { await echo.close() })
  const s = createConnection({ host: '127.0.0.1', port: echo.port, allowHalfOpen: true })
  const data = Buffer.alloc(3 * 1024 * 1024, 'x')
  s.end(data)
  let got = ''
  s.on('data', (d: Buffer) => { got += d.toString('utf8') })
  await once(s, 'close')
  t.equal(got, createHash('sha256').update(data).digest('hex'), 'the target saw every byte, then answered')
})

t.test('closing either side closes the other; the relay holds no connection afterwards', async t => {
  // A relay of its own: fetch keeps idle connections to the main one open for seconds.
  const own = await openRelay(world, { ns, host, port: HTTP_PORT })
  t.teardown(async () => { await own.close() })
  const s = createConnection({ host: '127.0.0.1', port: own.port })
  await once(s, 'connect')
  await waitUntil(() => own.connections === 1)
  s.destroy()
  await waitUntil(() => own.connections === 0)
  t.pass('the client\'s close released the pair')
  // The target closing after its answer (Connection: close) closes the client's socket.
  const c = createConnection({ host: '127.0.0.1', port: own.port })
  c.end('GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  let text = ''
  c.on('data', (d: Buffer) => { text += d.toString('utf8') })
  await once(c, 'close')
  t.match(text, /^HTTP\/1\.1 200 OK[\s\S]*hello from /)
  await waitUntil(() => own.connections === 0)
})

t.test('a target that refuses closes the client\'s connection and leaves the relay working', async t => {
  const dead = await openRelay(world, { ns, host, port: 18099 })
  t.teardown(async () => { await dead.close() })
  await t.rejects(fetch(dead.url('/')), 'the request fails')
  await waitUntil(() => dead.connections === 0)
  t.pass('the relay let go of the client\'s connection')
  t.equal(await (await fetch(relay.url('/hello'))).text(), `hello from ${host}`, 'the other relay still answers')
  t.ok(dead.pid !== undefined && processStartTime(dead.pid) !== null, 'the refusing relay\'s process lives on')
})

t.test('a port already taken rejects and leaves no relay process running', async t => {
  const blocker = createServer()
  blocker.listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  const port = (blocker.address() as { port: number }).port
  t.teardown(() => { blocker.close() })
  const before = relayRecords()
  await t.rejects(openRelay(world, { ns, host, port: HTTP_PORT, listenPort: port }), /EADDRINUSE/)
  const after = relayRecords()
  t.equal(after.length, before.length + 1, 'its process was started and recorded')
  t.same(after.filter(recordAlive), before.filter(recordAlive), 'and has ended')
})

t.test('a relay process that cannot start rejects with its reason', async t => {
  await t.rejects(openRelay(world, { ns: `${world.names.prefix}-nope`, host, port: HTTP_PORT }), /exited \(code 255\) before listening: Cannot open network namespace .*nope/)
})

t.test('close() ends the relay\'s process; destroying the world ends the rest', async t => {
  const extra = await openRelay(world, { ns, host, port: HTTP_PORT, listenPort: 0 })
  const pid = extra.pid!
  t.ok(processStartTime(pid) !== null, 'its process runs while it is open')
  await extra.close()
  t.equal(processStartTime(pid), null, 'closed relay\'s process is gone')
  await t.rejects(fetch(extra.url('/hello')), 'its port no longer answers')
  const live = relayRecords().filter(recordAlive)
  t.ok(live.some(r => r.pid === relay.pid), 'the main relay\'s process is recorded and alive')
  await world.destroy()
  for (const r of live) t.notOk(recordAlive(r), `relay process ${r.pid} gone with the world`)
  await relay.close()
})

/** Pid records of this world's relay processes (world.spawn names their files relay-PID.json), oldest first. */
function relayRecords (): ProcRecord[] {
  return readdirSync(world.names.pidDir).filter(n => n.startsWith('relay-')).map(n => readRecord(`${world.names.pidDir}/${n}`))
    .filter((r): r is ProcRecord => r !== null).sort((a, b) => a.startTime - b.startTime || a.pid - b.pid)
}

async function waitUntil (cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > until) throw new Error(`condition not reached within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}
