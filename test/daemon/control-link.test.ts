import t from 'tap'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { waitFor } from '../../sim/wait.js'
import { ControlClient } from '../../lib/daemon/control-client.js'
import { ControlLink, credentialRefusal } from '../../lib/daemon/control-link.js'
import { ControllerError } from '../../lib/errors.js'
import { call, joinNode, start } from '../control/helpers.js'
import { ManualClock, systemClock } from '../../lib/clock.js'
import { silentLogger } from '../../lib/log.js'
import { generateKeyPair } from '../../lib/wire/keys.js'
import type { Netmap, NodeRecord } from '../../lib/wire/netmap.js'

const rec = (id: string, meshIp: string): NodeRecord => ({
  id,
  hostname: id,
  publicKey: generateKeyPair().publicKey,
  meshIp,
  endpoints: [],
  observedEndpoint: null,
  swimPort: 7946,
  health: 'online',
  createdAt: 1,
  updatedAt: 1
})
const full = (version: number, nodes: NodeRecord[]): Netmap => ({ epoch: 'e1', version, cidr: '100.64.0.0/10', nodes })

/** A stand-in controller on loopback: each stream request is answered by the next script in `scripts`. */
async function fakeController (
  t: { teardown (fn: () => void): void }, scripts: Array<(res: ServerResponse, query: URLSearchParams) => void>
): Promise<{ url: string, queries: URLSearchParams[], heartbeats: number, heartbeatAt: number[] }> {
  const queries: URLSearchParams[] = []
  const state = { url: '', queries, heartbeats: 0, heartbeatAt: [] as number[] }
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    if (u.pathname === '/v1/heartbeat') {
      state.heartbeats++
      state.heartbeatAt.push(Date.now())
      req.resume()
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ epoch: 'e1', version: 1, heartbeatIntervalMs: 60_000 }))
      return
    }
    if (u.pathname === '/v1/netmap/stream') {
      queries.push(u.searchParams)
      const script = scripts.shift()
      if (script === undefined) { res.writeHead(200, { 'content-type': 'application/x-ndjson' }); return } // hold open
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      script(res, u.searchParams)
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return state
}

/** The netmap's owner, as the daemon is: it keeps each netmap the link accepts, and the link reads it back. */
function owner (initial: Netmap | null = null, seen: (m: Netmap, how: 'full' | 'delta') => void = () => {}): {
  current: Netmap | null, netmap: () => Netmap | null, onNetmap: (m: Netmap, how: 'full' | 'delta') => void
} {
  const o = { current: initial, netmap: () => o.current, onNetmap: (m: Netmap, how: 'full' | 'delta') => { o.current = m; seen(m, how) } }
  return o
}

type LinkOptions = ConstructorParameters<typeof ControlLink>[0]

/** A link to `url` for the netmap owner() keeps; `over` replaces any other option (credential, callbacks, clock, config). */
function link (url: string | string[] | ControlClient, onNetmap: (m: Netmap, how: string) => void, netmap: Netmap | null = null,
  over: Partial<LinkOptions> = {}): { l: ControlLink, map: () => Netmap | null } {
  const o = owner(netmap, onNetmap)
  const l = new ControlLink({
    client: url instanceof ControlClient ? url : new ControlClient(url),
    credential: 'wn_test',
    netmap: o.netmap,
    onNetmap: o.onNetmap,
    heartbeat: () => ({ endpoints: [], listenPort: 51820 }),
    onRevoked: () => {},
    onForgotten: () => {},
    clock: systemClock,
    log: silentLogger(),
    ...over
  })
  return { l, map: o.netmap }
}

t.test('a full map then deltas are applied in order', async (t) => {
  const a = rec('a', '100.64.0.1'); const b = rec('b', '100.64.0.2')
  const ctl = await fakeController(t, [res => {
    res.write(JSON.stringify({ type: 'full', netmap: full(1, [a]) }) + '\n')
    res.write(JSON.stringify({ type: 'delta', epoch: 'e1', from: 1, to: 2, upsert: [b], remove: [] }) + '\n')
  }])
  const seen: Array<[number, string]> = []
  const { l, map } = link(ctl.url, (m, how) => seen.push([m.version, how]))
  l.start()
  t.teardown(() => l.stop())
  await waitFor('the link to catch up', () => seen.length === 2, 5000, 5)
  t.same(seen, [[1, 'full'], [2, 'delta']])
  t.same(map()?.nodes.map(n => n.id), ['a', 'b'])
  t.equal(l.state, 'connected')
  await waitFor('the link to catch up', () => ctl.heartbeats > 0, 5000, 5)
  t.pass('heartbeat sent')
})

t.test('an invalid delta is refused whole: previous netmap kept, error kept, full resync asked', async (t) => {
  const a = rec('a', '100.64.0.1')
  let release!: () => void
  const gate = new Promise<void>(resolve => { release = resolve })
  const ctl = await fakeController(t, [
    res => {
      res.write(JSON.stringify({ type: 'full', netmap: full(1, [a]) }) + '\n')
      res.write(JSON.stringify({
        type: 'delta',
        epoch: 'e1',
        from: 1,
        to: 2,
        upsert: [{ ...rec('b', '100.64.0.2'), publicKey: 'not-a-key' }],
        remove: ['a']
      }) + '\n')
    },
    res => { void gate.then(() => res.write(JSON.stringify({ type: 'full', netmap: full(3, [a, rec('c', '100.64.0.3')]) }) + '\n')) }
  ])
  const seen: number[] = []
  const { l, map } = link(ctl.url, m => seen.push(m.version))
  l.start()
  t.teardown(() => l.stop())
  await waitFor('the link to catch up', () => ctl.queries.length === 2, 5000, 5)
  t.same(seen, [1])
  t.same(map()?.nodes.map(n => n.id), ['a'], 'the bad delta changed nothing, not even its valid remove')
  t.match(l.lastError, /publicKey/)
  t.notOk(ctl.queries[1]!.has('since'), 'the reconnect asks for a full map')
  release()
  await waitFor('the link to catch up', () => seen.length === 2, 5000, 5)
  t.same(seen, [1, 3])
  t.equal(l.lastError, null, 'cleared by the next good map')
})

t.test('a gap in versions, a new epoch, garbage and an oversized line all end in a full resync', async (t) => {
  const a = rec('a', '100.64.0.1')
  const ctl = await fakeController(t, [
    res => {
      res.write(JSON.stringify({ type: 'full', netmap: full(5, [a]) }) + '\n')
      res.write(JSON.stringify({ type: 'delta', epoch: 'e1', from: 7, to: 8, upsert: [], remove: [] }) + '\n')
    },
    res => res.write('{"type":"full","netmap":' + '\n'),
    res => res.write('x'.repeat(70_000)),
    res => {
      res.write(JSON.stringify({ type: 'ping', epoch: 'e2', version: 1, at: 0 }) + '\n')
    },
    res => res.write(JSON.stringify({ type: 'full', netmap: { ...full(1, [a]), epoch: 'e2' } }) + '\n')
  ])
  const seen: string[] = []
  const l = new ControlLink({
    client: new ControlClient(ctl.url),
    credential: 'wn_test',
    ...owner(null, m => seen.push(`${m.epoch}:${m.version}`)),
    heartbeat: () => ({ endpoints: [], listenPort: 51820 }),
    onRevoked: () => {},
    onForgotten: () => {},
    clock: systemClock,
    log: silentLogger(),
    config: { maxLineBytes: 65_536 }
  })
  l.start()
  t.teardown(() => l.stop())
  await waitFor('the new epoch map', () => seen.includes('e2:1'), 10_000, 5)
  t.same(seen, ['e1:5', 'e2:1'])
  t.equal(ctl.queries.length, 5, 'one reconnect per bad or foreign stream')
  t.notOk(ctl.queries[1]!.has('since'), 'after a gap: full map')
  t.notOk(ctl.queries[2]!.has('since'), 'after garbage: full map')
  t.equal(ctl.queries[3]!.get('since'), '5', 'after an oversized line: a broken stream, catch up from what we hold')
  t.notOk(ctl.queries[4]!.has('since'), 'after a new epoch: full map')
})

t.test('a netmap from disk is the starting point: the first request asks for what follows it', async (t) => {
  const a = rec('a', '100.64.0.1')
  const ctl = await fakeController(t, [
    res => res.write(JSON.stringify({ type: 'delta', epoch: 'e1', from: 4, to: 5, upsert: [rec('b', '100.64.0.2')], remove: [] }) + '\n')
  ])
  const seen: number[] = []
  const { l, map } = link(ctl.url, m => seen.push(m.version), full(4, [a]))
  l.start()
  t.teardown(() => l.stop())
  await waitFor('the link to catch up', () => seen.length === 1, 5000, 5)
  t.equal(ctl.queries[0]!.get('epoch'), 'e1')
  t.equal(ctl.queries[0]!.get('since'), '4')
  t.same(map()?.nodes.map(n => n.id), ['a', 'b'])
})

t.test('credentialRefusal: what a refused credential means', async (t) => {
  const cases: Array<[unknown, string | null]> = [
    [new ControllerError('x', 403, 'WEFT_ERR_NODE_REMOVED'), 'removed'],
    [new ControllerError('x', 401, 'WEFT_ERR_UNAUTHORIZED'), 'unknown'],
    [new ControllerError('x', 401), 'unknown'],
    [new ControllerError('x', 403), 'refused'],
    [new ControllerError('x', 403, 'WEFT_ERR_TOKEN_REJECTED'), 'refused'],
    [new ControllerError('x', 429, 'WEFT_ERR_RATE_LIMITED'), null],
    [new ControllerError('x', 503), null],
    [new Error('x'), null]
  ]
  for (const [err, want] of cases) {
    t.equal(credentialRefusal(err), want, `${(err as ControllerError).statusCode ?? 'Error'} ${(err as ControllerError).remoteCode ?? ''}`)
  }
})

t.test('a real controller: a removed node is revoked as removed, an unknown credential is forgotten, and the link stops', async (t) => {
  const c = await start(t, { heartbeatIntervalMs: 100, controlStaleMs: 1000 })
  const gone = await joinNode(c, 'gone')
  t.equal((await call(c.url, 'DELETE', `/v1/nodes/${gone.nodeId}`, undefined, c.adminKey)).status, 204)
  const watch = (credential: string): { link: ControlLink, revoked: Array<[string, boolean]>, forgotten: string[] } => {
    const revoked: Array<[string, boolean]> = []
    const forgotten: string[] = []
    const { l } = link(c.url, () => {}, null, {
      credential,
      onRevoked: (reason, removed) => revoked.push([reason, removed]),
      onForgotten: reason => forgotten.push(reason),
      config: { heartbeatIntervalMs: 100 }
    })
    l.start()
    t.teardown(() => l.stop())
    return { link: l, revoked, forgotten }
  }
  const removed = watch(gone.credential)
  await waitFor('the removed node to be told', () => removed.link.state === 'revoked', 5000, 5)
  t.equal(removed.revoked.length, 1, 'told once')
  t.equal(removed.revoked[0]![1], true, 'as removed by an admin')
  t.match(removed.revoked[0]![0], /removed by an admin/)
  t.same(removed.forgotten, [])

  const unknown = watch('wn_' + 'q'.repeat(43))
  await waitFor('the unknown credential to be told', () => unknown.link.state === 'forgotten', 5000, 5)
  t.equal(unknown.forgotten.length, 1, 'told once')
  t.same(unknown.revoked, [])
  const metrics = async (): Promise<string> => await (await fetch(new URL('/metrics', c.url))).text()
  const count = async (status: number): Promise<number> =>
    Number(new RegExp('weft_http_request_duration_seconds_count\\{method="POST",route="/v1/heartbeat",' +
      `status="${status}"\\} (\\d+)`).exec(await metrics())?.[1] ?? 0)
  // A heartbeat the link sent before the refusal may still be on its way: the baseline waits for its answer.
  await waitFor('the refused link\'s heartbeats answered', async () => await count(401) === unknown.link.counters.heartbeatsSent, 5000, 10)
  const refusedBefore = await count(401)
  // A node the controller knows, heartbeating every 100 ms as the refused link would: five chances for it to send one.
  const alive = watch((await joinNode(c, 'alive')).credential)
  const okBefore = await count(200)
  await waitFor('five heartbeats of a live link', async () => await count(200) >= okBefore + 5, 5000, 10)
  t.equal(await count(401), refusedBefore, 'no heartbeat from the refused link meanwhile')
  t.equal(alive.link.state, 'connected')
})

t.test('a 403 that does not say why revokes without claiming a removal', async (t) => {
  const server = createServer((req, res) => { req.resume(); res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden by the proxy') })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const revoked: boolean[] = []
  const { l } = link(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, () => {}, null, {
    onRevoked: (_r, removed) => revoked.push(removed)
  })
  l.start()
  t.teardown(() => l.stop())
  await waitFor('the link to be refused', () => l.state === 'revoked', 5000, 5)
  t.same(revoked, [false])
})

t.test('several controllers: a broken link moves to the next at once, and the channel carries on from the netmap held', async (t) => {
  const down = await fakeController(t, [])
  const downUrl = down.url
  // The first controller is gone: its port refuses connections.
  const closed = createServer()
  await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', () => resolve()))
  const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`
  await new Promise<void>(resolve => closed.close(() => resolve()))
  const second = await fakeController(t, [res => { res.write(JSON.stringify({ type: 'ping', epoch: 'e1', version: 3, at: 1 }) + '\n') }])
  const { l } = link([deadUrl, second.url, downUrl], () => {}, full(3, [rec('a', '100.64.0.1')]))
  const t0 = Date.now()
  l.start()
  t.teardown(() => l.stop())
  await waitFor('the link to open on the second controller', () => l.state === 'connected', 5000)
  t.ok(Date.now() - t0 < 1000, `no backoff before the next controller (${Date.now() - t0} ms)`)
  t.equal(l.controller, second.url)
  t.equal(second.queries[0]?.get('since'), '3', 'it resumes from the version it holds')
  await waitFor('a heartbeat to the controller in use', () => second.heartbeats > 0, 5000)
  t.equal(down.queries.length, 0, 'the third was never needed')
})

t.test('one controller name that resolves to several addresses: a broken link moves to the next address at once', async (t) => {
  const first = await fakeController(t, [])
  const port = Number(new URL(first.url).port)
  // The same port on another loopback address: a second controller behind the same name.
  const second = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    if (u.pathname === '/v1/netmap/stream') {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      res.write(JSON.stringify({ type: 'ping', epoch: 'e1', version: 3, at: 1 }) + '\n')
      return
    }
    req.resume()
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ epoch: 'e1', version: 3, heartbeatIntervalMs: 60_000 }))
  })
  await new Promise<void>(resolve => second.listen(port, '127.0.0.2', () => resolve()))
  t.teardown(() => { second.closeAllConnections(); second.close() })
  // 127.0.0.3 has nothing on the port: refused. The name resolves to it first, then to the live one.
  const asked: string[] = []
  const client = new ControlClient(`http://controllers.weft.test:${port}`, undefined, {}, systemClock, async host => { asked.push(host); return ['127.0.0.3', '127.0.0.2'] })
  await client.resolve()
  t.equal(client.size, 2, 'one place per address')
  t.same(client.controllers, [`http://controllers.weft.test:${port}`], 'still one controller as configured')
  const { l } = link(client, () => {}, full(3, [rec('a', '100.64.0.1')]))
  const t0 = Date.now()
  l.start()
  t.teardown(() => l.stop())
  await waitFor('the link to open at the second address', () => l.state === 'connected', 5000)
  t.ok(Date.now() - t0 < 1000, `no backoff before the next address (${Date.now() - t0} ms)`)
  t.equal(client.address, '127.0.0.2')
  t.equal(l.controller, `http://controllers.weft.test:${port}`, 'status names the controller as configured')
  t.ok(asked.every(h => h === 'controllers.weft.test'))
  t.equal(first.queries.length, 0, 'the address the name does not give is never asked')
})

t.test('a change in SWIM\'s view sends the next heartbeat early, at most one a second', async (t) => {
  const c = await fakeController(t, [])
  const { l } = link(c.url, () => {})
  t.teardown(() => l.stop())
  l.start()
  await waitFor('the first heartbeat', () => c.heartbeats === 1, 5000, 10)
  for (let i = 0; i < 5; i++) l.reportSoon()
  await waitFor('an early heartbeat (the period is 60 s)', () => c.heartbeats === 2, 5000, 10)
  l.reportSoon()
  await waitFor('another, for the change after it', () => c.heartbeats === 3, 5000, 10)
  const gaps = c.heartbeatAt.slice(1).map((at, i) => at - c.heartbeatAt[i]!)
  t.ok(gaps.every(g => g >= 950), `one a second at most (gaps ${gaps.join(', ')} ms)`)
  t.equal(l.counters.heartbeatsSent, 3, 'five changes at once made one heartbeat')
})

t.test('a credential refused on the update channel sends no heartbeat after, though one was due', async (t) => {
  let heartbeats = 0
  let held: ServerResponse | undefined
  const server: Server = createServer((req, res) => {
    req.resume()
    if (req.url?.startsWith('/v1/heartbeat') === true) {
      heartbeats++
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ epoch: 'e1', version: 1, heartbeatIntervalMs: 1000 }))
      return
    }
    held = res // the update channel: answered when the test refuses it
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const clock = new ManualClock()
  const forgotten: string[] = []
  const { l } = link(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, () => {}, null, {
    onForgotten: reason => forgotten.push(reason),
    clock
  })
  t.teardown(() => l.stop())
  l.start()
  clock.advance(0)
  await waitFor('the first heartbeat answered', () => l.lastContactAt !== null, 5000, 5)
  await waitFor('the update channel asked for', () => held !== undefined, 5000, 5)
  held!.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unknown credential' }))
  await waitFor('the link to be told', () => l.state === 'forgotten', 5000, 5)
  clock.advance(5000)
  t.equal(l.counters.heartbeatsSent, 1, 'the heartbeat due after the refusal is not sent')
  t.equal(heartbeats, 1)
  t.equal(forgotten.length, 1)
})
