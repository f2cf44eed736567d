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
import { call, captureLog, joinNode, openStream, start, tempDir, token, until } from './helpers.js'

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

t.test('etcd down: writes are refused with 503, then the controller sends its daemons away; etcd back: both are taken again', async (t) => {
  const a = await start(t, { ...etcd('/outage/'), etcdTimeoutMs: 1000 })
  const before = await joinNode(a, 'before')
  const beat = async (): Promise<{ status: number, json: any }> =>
    await call(a.url, 'POST', '/v1/heartbeat', { endpoints: [], listenPort: 51820 }, before.credential)
  t.equal((await beat()).status, 200)
  await cluster.kill(0)
  const refused = await call(a.url, 'POST', '/v1/tokens', {}, a.adminKey)
  t.match(refused, { status: 503, json: { code: 'WEFT_ERR_STORE_UNAVAILABLE' } })
  // Once its session's TTL passed without a keepalive answered, it refuses its daemons too, saying why.
  t.ok(await until(async () => (await beat()).status === 503, 15_000), 'heartbeats are refused once the session is lost')
  t.match((await beat()).json, { code: 'WEFT_ERR_STORE_UNAVAILABLE', message: /cut off from its store \(no etcd member answered/ })
  t.match(await call(a.url, 'POST', '/v1/tokens', {}, a.adminKey), { status: 503, json: { message: /cut off from it/ } }, 'writes are refused with the reason')
  await cluster.start(0)
  await cluster.healthy(0)
  t.ok(await until(async () => (await call(a.url, 'POST', '/v1/tokens', {}, a.adminKey)).status === 200, 20_000), 'writes are taken again')
  t.equal((await beat()).status, 200, 'and heartbeats')
  const after = await joinNode(a, 'after')
  t.not(after.meshIp, before.meshIp)
})

t.test('a controller too busy to renew its lease in time, while etcd answers, renews it and keeps its daemons', async (t) => {
  const { log, events } = captureLog()
  const a = await start(t, { ...etcd('/busy/'), log })
  const x = await joinNode(a, 'x')
  const s = await openStream(a.url, x.credential)
  t.teardown(() => s.close())
  await s.next()
  // The event loop starved past the lease's TTL (5 s): no keepalive went out, and etcd expired the lease.
  const end = Date.now() + 7000
  while (Date.now() < end) { /* busy */ }
  t.ok(await until(() => events.some(e => e.event === 'store.session_renewed'), 10_000), 'it finds the lease expired and takes a new one')
  t.same(events.filter(e => e.event === 'store.isolated'), [], 'it does not count itself cut off: etcd answered')
  t.notOk(await s.ended(1000), 'its daemon keeps its update channel')
  t.equal((await call(a.url, 'POST', '/v1/heartbeat', { endpoints: [], listenPort: 51820 }, x.credential)).status, 200)
  t.equal((await call(a.url, 'POST', '/v1/tokens', {}, a.adminKey)).status, 200, 'and writes go on')
})

t.test('an admin client given several controllers goes past one that is down', async (t) => {
  const aDir = join(await tempDir(t), 'a')
  const a = await start(t, { ...etcd('/admin/'), dataDir: aDir })
  await joinNode(a, 'a')
  const bDir = join(await tempDir(t), 'b')
  await mkdir(bDir, { mode: 0o700 })
  for (const f of ['controller.key', 'admin.key']) await copyFile(join(aDir, f), join(bDir, f))
  const b = await start(t, { ...etcd('/admin/'), dataDir: bDir })
  const down = a.url
  await a.close()
  const admin = new AdminClient({ controllerUrls: [down, b.url], adminKey: b.adminKey }, systemClock)
  t.equal((await admin.listNodes()).nodes.length, 1, 'the second answers for the store')
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
