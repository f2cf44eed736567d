/**
 * A controller on a real etcd (`--store etcd`, one member from sim/etcd.ts): it serves what it wrote after a
 * restart on a fresh data directory, refuses writes with 503 while etcd is down and takes them again once etcd
 * is back, having checked that etcd holds everything it acknowledged.
 */
import t from 'tap'
import { copyFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { EtcdCluster } from '../../sim/etcd.js'
import { systemClock } from '../../lib/clock.js'
import { AdminClient } from '../../lib/control/admin-client.js'
import { EtcdStore } from '../../lib/control/etcd-store.js'
import { call, captureLog, joinNode, start, tempDir, token, until } from './helpers.js'

const cluster = await EtcdCluster.start({ members: 1, dir: await tempDir(t) })
t.teardown(async () => await cluster.stop())
const etcd = (prefix: string): { store: 'etcd', etcdEndpoints: string[], etcdPrefix: string } =>
  ({ store: 'etcd', etcdEndpoints: cluster.endpoints, etcdPrefix: prefix })

t.test('what a controller on etcd acknowledged is served by the next one, whose data directory holds only its keys', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const a = await start(t, { ...etcd('/restart/'), dataDir })
  const joined = await Promise.all(['a', 'b', 'c'].map(async h => await joinNode(a, h)))
  const tok = await token(a, { reusable: true })
  await a.close()
  const b = await start(t, { ...etcd('/restart/'), dataDir })
  const nodes = (await call(b.url, 'GET', '/v1/nodes', undefined, b.adminKey)).json.nodes as Array<{ id: string, meshIp: string }>
  t.same(nodes.map(n => n.meshIp).sort(), joined.map(j => j.meshIp).sort())
  t.equal((await call(b.url, 'GET', '/v1/tokens', undefined, b.adminKey)).json.tokens.length, 4)
  const next = await joinNode(b, 'd', tok)
  t.notOk(joined.some(j => j.meshIp === next.meshIp), 'a new node gets an address none of the others holds')
})

t.test('a controller whose mesh CIDR differs from the one in etcd does not start', async (t) => {
  const a = await start(t, { ...etcd('/cidr/') })
  await a.close()
  await t.rejects(start(t, { ...etcd('/cidr/'), cidr: '100.96.0.0/12' }), { code: 'WEFT_ERR_CONFIG', message: /created with --cidr 100\.64\.0\.0\/10/ })
})

t.test('etcd down: writes are refused with 503; etcd back: the store is checked and writes are taken again', async (t) => {
  const a = await start(t, { ...etcd('/outage/'), storeRetryMs: 100, etcdTimeoutMs: 1000 })
  const before = await joinNode(a, 'before')
  await cluster.kill(0)
  const refused = await call(a.url, 'POST', '/v1/tokens', {}, a.adminKey)
  t.match(refused, { status: 503, json: { code: 'WEFT_ERR_STORE_UNAVAILABLE' } })
  const again = await call(a.url, 'POST', '/v1/tokens', {}, a.adminKey)
  t.match(again, { status: 503, json: { code: 'WEFT_ERR_STORE_UNAVAILABLE', message: /refuses writes/ } }, 'refused at once while it is down')
  await cluster.start(0)
  await cluster.healthy(0)
  t.ok(await until(async () => (await call(a.url, 'POST', '/v1/tokens', {}, a.adminKey)).status === 200, 20_000), 'writes are taken again')
  const after = await joinNode(a, 'after')
  t.not(after.meshIp, before.meshIp)
})

t.test('a second controller on the prefix waits as a standby, and serves the store once the leader stops', async (t) => {
  const aDir = join(await tempDir(t), 'a')
  const a = await start(t, { ...etcd('/standby/'), dataDir: aDir })
  const joined = await joinNode(a, 'a')
  // Every controller of a store holds the same controller and admin keys (docs/operations.md).
  const bDir = join(await tempDir(t), 'b')
  await mkdir(bDir, { mode: 0o700 })
  for (const f of ['controller.key', 'admin.key']) await copyFile(join(aDir, f), join(bDir, f))
  const { log, events } = captureLog()
  let served = false
  const b = start(t, { ...etcd('/standby/'), dataDir: bDir, log }).then(c => { served = true; return c })
  t.ok(await until(() => events.some(e => e.event === 'store.standby'), 10_000), 'it says it waits, and for whom')
  t.match(events.find(e => e.event === 'store.standby'), { prefix: '/standby/', leader: /pid \d+ \(127\.0\.0\.1:0, start [0-9a-f]{8}\)/ })
  t.notOk(served, 'it does not serve while the leader runs')
  await a.close()
  const c = await b
  const nodes = (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes as Array<{ meshIp: string }>
  t.same(nodes.map(n => n.meshIp), [joined.meshIp], 'the standby serves what the leader wrote')
  t.not((await joinNode(c, 'b')).meshIp, joined.meshIp)
  const admin = new AdminClient({ controllerUrls: [a.url, c.url], adminKey: c.adminKey }, systemClock)
  t.equal((await admin.listNodes()).nodes.length, 2, 'an admin client given both finds the one that serves')
})

t.test('three members: the first write after the leader dies goes to another member within the request\'s deadline', async (t) => {
  const three = await EtcdCluster.start({ members: 3, dir: await tempDir(t) })
  t.teardown(async () => await three.stop())
  const store = await EtcdStore.open({ endpoints: three.endpoints, prefix: '/three/', timeoutMs: 5000 }, systemClock)
  t.teardown(async () => await store.close())
  await store.write([{ kind: 'meta', key: 'k', value: '1' }])
  const leader = await three.leader()
  t.not(leader, null)
  await three.kill(leader!)
  // The client's channel to the dead member waits until the deadline; one attempt of the whole 5 s failed here.
  await store.write([{ kind: 'meta', key: 'k', value: '2' }])
  t.equal((await store.load()).meta.get('k'), '2')
})
