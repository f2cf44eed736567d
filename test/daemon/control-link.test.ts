import t from 'tap'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { waitFor } from '../../sim/wait.js'
import { ControlClient } from '../../lib/daemon/control-client.js'
import { ControlLink } from '../../lib/daemon/control-link.js'
import { systemClock } from '../../lib/clock.js'
import { silentLogger } from '../../lib/log.js'
import { generateKeyPair } from '../../lib/wire/keys.js'
import type { Netmap, NodeRecord } from '../../lib/wire/netmap.js'

const rec = (id: string, meshIp: string): NodeRecord => ({
  id, hostname: id, publicKey: generateKeyPair().publicKey, meshIp, endpoints: [], observedEndpoint: null, swimPort: 7946, health: 'online', createdAt: 1, updatedAt: 1
})
const full = (version: number, nodes: NodeRecord[]): Netmap => ({ epoch: 'e1', version, cidr: '100.64.0.0/10', nodes })

/** A stand-in controller on loopback: each stream request is answered by the next script in `scripts`. */
async function fakeController (t: { teardown (fn: () => void): void }, scripts: Array<(res: ServerResponse, query: URLSearchParams) => void>): Promise<{ url: string, queries: URLSearchParams[], heartbeats: number }> {
  const queries: URLSearchParams[] = []
  const state = { url: '', queries, heartbeats: 0 }
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    if (u.pathname === '/v1/heartbeat') {
      state.heartbeats++
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

function link (url: string, onNetmap: (m: Netmap, how: string) => void, netmap: Netmap | null = null): ControlLink {
  return new ControlLink({
    client: new ControlClient(url), credential: 'wn_test', netmap, onNetmap,
    heartbeat: () => ({ endpoints: [], listenPort: 51820 }), onRevoked: () => {}, clock: systemClock, log: silentLogger()
  })
}

t.test('a full map then deltas are applied in order', async (t) => {
  const a = rec('a', '100.64.0.1'); const b = rec('b', '100.64.0.2')
  const ctl = await fakeController(t, [res => {
    res.write(JSON.stringify({ type: 'full', netmap: full(1, [a]) }) + '\n')
    res.write(JSON.stringify({ type: 'delta', epoch: 'e1', from: 1, to: 2, upsert: [b], remove: [] }) + '\n')
  }])
  const seen: Array<[number, string]> = []
  const l = link(ctl.url, (m, how) => seen.push([m.version, how]))
  l.start()
  t.teardown(() => l.stop())
  await waitFor('the link to catch up', () => seen.length === 2, 5000, 5)
  t.same(seen, [[1, 'full'], [2, 'delta']])
  t.same(l.netmap?.nodes.map(n => n.id), ['a', 'b'])
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
      res.write(JSON.stringify({ type: 'delta', epoch: 'e1', from: 1, to: 2, upsert: [{ ...rec('b', '100.64.0.2'), publicKey: 'not-a-key' }], remove: ['a'] }) + '\n')
    },
    res => { void gate.then(() => res.write(JSON.stringify({ type: 'full', netmap: full(3, [a, rec('c', '100.64.0.3')]) }) + '\n')) }
  ])
  const seen: number[] = []
  const l = link(ctl.url, m => seen.push(m.version))
  l.start()
  t.teardown(() => l.stop())
  await waitFor('the link to catch up', () => ctl.queries.length === 2, 5000, 5)
  t.same(seen, [1])
  t.same(l.netmap?.nodes.map(n => n.id), ['a'], 'the bad delta changed nothing, not even its valid remove')
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
    client: new ControlClient(ctl.url), credential: 'wn_test', netmap: null, onNetmap: m => seen.push(`${m.epoch}:${m.version}`),
    heartbeat: () => ({ endpoints: [], listenPort: 51820 }), onRevoked: () => {}, clock: systemClock, log: silentLogger(),
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
  const ctl = await fakeController(t, [res => res.write(JSON.stringify({ type: 'delta', epoch: 'e1', from: 4, to: 5, upsert: [rec('b', '100.64.0.2')], remove: [] }) + '\n')])
  const seen: number[] = []
  const l = link(ctl.url, m => seen.push(m.version), full(4, [a]))
  l.start()
  t.teardown(() => l.stop())
  await waitFor('the link to catch up', () => seen.length === 1, 5000, 5)
  t.equal(ctl.queries[0]!.get('epoch'), 'e1')
  t.equal(ctl.queries[0]!.get('since'), '4')
  t.same(l.netmap?.nodes.map(n => n.id), ['a', 'b'])
})
