/**
 * `weft controller migrate`: a LevelDB controller's store copied into a real etcd (sim/etcd.ts), then served
 * by a controller on etcd from the same data directory's keys.
 */
import t from 'tap'
import { join } from 'node:path'
import { Etcd3 } from 'etcd3'
import { EtcdCluster } from '../../sim/etcd.js'
import { weft } from '../cmd/weft-cli.js'
import { call, joinNode, start, tempDir, token } from './helpers.js'

const cluster = await EtcdCluster.start({ members: 1, dir: await tempDir(t) })
t.teardown(async () => await cluster.stop())
const endpoints = cluster.endpoints.join(',')

t.test('what a LevelDB controller acknowledged is served by a controller on etcd after the migration', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const a = await start(t, { dataDir })
  const joined = await Promise.all(['a', 'b'].map(async h => await joinNode(a, h)))
  await token(a, { reusable: true })
  t.equal((await call(a.url, 'PUT', '/v1/policy', { text: '{ "acls": [] } // none' }, a.adminKey)).status, 200)
  await a.close()

  const out = await weft(['controller', 'migrate', '--from-data', dataDir, '--store', 'etcd', '--etcd-endpoints', endpoints, '--etcd-prefix', '/mig/'])
  t.equal(out.code, 0, out.stderr)
  t.match(out.stdout, /^migrated 2 nodes, 3 tokens, access policy v1 \(\d+ records, store [0-9a-f]{16}\) from .* to etcd prefix \/mig\//)
  const again = await weft(['controller', 'migrate', '--from-data', dataDir, '--store', 'etcd', '--etcd-endpoints', endpoints, '--etcd-prefix', '/mig/'])
  t.equal(again.code, 2)
  t.match(again.stderr, /etcd prefix \/mig\/ already holds a store \(2 nodes\); migrate into another --etcd-prefix, or pass --replace/)

  const b = await start(t, { dataDir, store: 'etcd', etcdEndpoints: cluster.endpoints, etcdPrefix: '/mig/' })
  const nodes = (await call(b.url, 'GET', '/v1/nodes', undefined, b.adminKey)).json.nodes as Array<{ meshIp: string }>
  t.same(nodes.map(n => n.meshIp).sort(), joined.map(j => j.meshIp).sort())
  t.match((await call(b.url, 'GET', '/v1/policy', undefined, b.adminKey)).json, { version: 1, text: '{ "acls": [] } // none' })
  t.notOk(joined.some(j => j.meshIp === undefined))
  const next = await joinNode(b, 'c')
  t.notOk(joined.some(j => j.meshIp === next.meshIp), 'the next address follows the migrated high-water mark')
})

t.test('a migration that did not finish keeps every controller off the prefix until it is run again with --replace', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const a = await start(t, { dataDir })
  await joinNode(a, 'a')
  await a.close()
  const c = new Etcd3({ hosts: cluster.endpoints })
  await c.put('/half/meta:migrating').value('x')
  c.close()
  await t.rejects(start(t, { dataDir, store: 'etcd', etcdEndpoints: cluster.endpoints, etcdPrefix: '/half/' }),
    { code: 'WEFT_ERR_DATA_DIR', message: /a migration into etcd prefix \/half\/ did not finish/ })
  const out = await weft(['controller', 'migrate', '--from-data', dataDir, '--store', 'etcd', '--etcd-endpoints', endpoints,
    '--etcd-prefix', '/half/', '--replace'])
  t.equal(out.code, 0, out.stderr)
  const b = await start(t, { dataDir, store: 'etcd', etcdEndpoints: cluster.endpoints, etcdPrefix: '/half/' })
  t.equal((await call(b.url, 'GET', '/v1/nodes', undefined, b.adminKey)).json.nodes.length, 1)
})

t.test('a store of more nodes than one etcd transaction holds is copied whole, with each node\'s address and key claimed', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const a = await start(t, { dataDir })
  const tok = await token(a, { reusable: true })
  const joined = await Promise.all(Array.from({ length: 60 }, async (_, i) => await joinNode(a, `n${i}`, tok)))
  await a.close()
  const out = await weft(['controller', 'migrate', '--from-data', dataDir, '--store', 'etcd', '--etcd-endpoints', endpoints, '--etcd-prefix', '/big/'])
  t.equal(out.code, 0, out.stderr)
  const c = new Etcd3({ hosts: cluster.endpoints })
  t.teardown(() => c.close())
  const claims = await c.getAll().prefix('/big/claim:ip:').keys()
  t.same(claims.map(k => k.slice('/big/claim:ip:'.length)).sort(), joined.map(j => j.meshIp).sort(), 'every address claimed')
  t.equal((await c.getAll().prefix('/big/claim:key:').keys()).length, 60, 'every key claimed')
  const b = await start(t, { dataDir, store: 'etcd', etcdEndpoints: cluster.endpoints, etcdPrefix: '/big/' })
  t.equal((await call(b.url, 'GET', '/v1/nodes', undefined, b.adminKey)).json.nodes.length, 60)
})
