/**
 * Mesh names on the controller: a unique DNS label per node from its hostname, kept across registrations and
 * restarts, changed only by an admin's rename, and carried in the netmap.
 */
import t from 'tap'
import { copyFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { systemClock } from '../../lib/clock.js'
import { silentLogger } from '../../lib/log.js'
import { parseBackup, restoreBackup } from '../../lib/control/backup.js'
import { generateKeyPair } from '../../lib/wire/keys.js'
import type { NodeStatus } from '../../lib/wire/api.js'
import { call, captureLog, nextUpdate, openStream, registerBody, start, tempDir, token } from './helpers.js'

type Running = Awaited<ReturnType<typeof start>>

async function register (c: Running, hostname: string, tok: string, keys = generateKeyPair(), credential?: string): Promise<{ status: number, json: any }> {
  return await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, keys, { hostname, token: tok }), credential)
}

async function listed (c: Running): Promise<NodeStatus[]> {
  return (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes
}

async function nameOf (c: Running, id: string): Promise<string | null | undefined> {
  return (await listed(c)).find(n => n.id === id)?.dnsName
}

t.test('each node gets its hostname as a label, unique in the mesh: later ones get -2, -3 in the order they registered', async (t) => {
  const c = await start(t, { dnsDomain: 'corp.example' })
  const tok = await token(c, { reusable: true })
  const a = await register(c, 'Web_1.example.com', tok)
  const b = await register(c, 'web-1', tok)
  const burst = await Promise.all(Array.from({ length: 8 }, async () => await register(c, 'db', tok)))
  t.equal(await nameOf(c, a.json.nodeId), 'web-1.corp.example')
  t.equal(await nameOf(c, b.json.nodeId), 'web-1-2.corp.example')
  const dbs = await Promise.all(burst.map(async r => await nameOf(c, r.json.nodeId)))
  t.same([...dbs].sort(), ['db', 'db-2', 'db-3', 'db-4', 'db-5', 'db-6', 'db-7', 'db-8'].map(l => `${l}.corp.example`).sort(),
    'eight registrations of one hostname at once get eight names')

  const map = (await call(c.url, 'GET', '/v1/netmap', undefined, a.json.credential)).json
  t.same(map.dns, { domain: 'corp.example' }, 'the full map carries the domain')
  t.equal(map.nodes.find((n: { id: string }) => n.id === b.json.nodeId).name, 'web-1-2', 'and each record its label')
})

t.test('a node keeps its name when it registers again, whatever hostname it brings; removal frees the name', async (t) => {
  const c = await start(t)
  const tok = await token(c, { reusable: true })
  const keys = generateKeyPair()
  const first = await register(c, 'laptop', tok, keys)
  t.equal(await nameOf(c, first.json.nodeId), 'laptop.weft.internal', 'the default domain')
  const again = await register(c, 'renamed-host', tok, keys)
  t.equal(again.json.nodeId, first.json.nodeId)
  t.equal(await nameOf(c, first.json.nodeId), 'laptop.weft.internal')
  t.equal((await listed(c))[0]!.hostname, 'renamed-host', 'the hostname itself follows the node')
  const other = await register(c, 'laptop', tok)
  t.equal(await nameOf(c, other.json.nodeId), 'laptop-2.weft.internal')
  t.equal((await call(c.url, 'DELETE', `/v1/nodes/${first.json.nodeId}`, undefined, c.adminKey)).status, 204)
  const third = await register(c, 'laptop', tok)
  t.equal(await nameOf(c, third.json.nodeId), 'laptop.weft.internal', 'a removed node\'s name is free again')
})

t.test('PUT /v1/nodes/:id/name: checked, unique, durable, published as a delta and audited', async (t) => {
  const { log, events } = captureLog()
  const dataDir = join(await tempDir(t), 'data')
  const c = await start(t, { log, dataDir })
  const tok = await token(c, { reusable: true })
  const a = await register(c, 'alpha', tok)
  const b = await register(c, 'beta', tok)
  const stream = await openStream(c.url, b.json.credential)
  t.teardown(() => stream.close())
  await nextUpdate(stream)

  const put = async (id: string, name: unknown): Promise<{ status: number, json: any }> =>
    await call(c.url, 'PUT', `/v1/nodes/${id}/name`, { name }, c.adminKey)
  const ok = await put(a.json.nodeId, 'Gateway')
  t.equal(ok.status, 200)
  t.equal(ok.json.name, 'gateway', 'lower-cased')
  t.equal(ok.json.dnsName, 'gateway.weft.internal')
  let renamed = false
  for (let i = 0; i < 5 && !renamed; i++) {
    const m = await nextUpdate(stream, 3000)
    renamed = m.type === 'delta' && m.upsert.some(n => n.id === a.json.nodeId && n.name === 'gateway')
  }
  t.ok(renamed, 'a delta carries the new name')
  t.match(events.find(e => e.event === 'node.rename'), { nodeId: a.json.nodeId, from: 'alpha', to: 'gateway' })

  const taken = await put(b.json.nodeId, 'gateway')
  t.equal(taken.status, 409)
  t.match(taken.json, { code: 'WEFT_ERR_CONFLICT', message: /gateway is taken by alpha/ })
  for (const bad of ['-x', 'a_b', 'a.b', '']) {
    const r = await put(b.json.nodeId, bad)
    t.equal(r.status, 400, JSON.stringify(bad))
  }
  t.equal((await put(b.json.nodeId, 42)).status, 400, 'not a string')
  t.equal((await put('n0000000000000000', 'x')).status, 404)
  t.equal((await call(c.url, 'PUT', `/v1/nodes/${b.json.nodeId}/name`, { name: 'x' })).status, 401, 'admin only')
  t.equal((await put(b.json.nodeId, 'alpha')).status, 200, 'the old name is free once renamed away')
  t.equal((await put(b.json.nodeId, 'alpha')).status, 200, 'renaming to the name it has changes nothing')

  await c.close()
  const again = await start(t, { dataDir })
  const names = (await listed(again)).map(n => [n.hostname, n.dnsName]).sort()
  t.same(names, [['alpha', 'gateway.weft.internal'], ['beta', 'alpha.weft.internal']], 'a restart keeps the names')
})

t.test('a store from before names: the start names its nodes, oldest first, and writes the names', async (t) => {
  const dir = await tempDir(t)
  const c = await start(t, { dataDir: join(dir, 'old') })
  const tok = await token(c, { reusable: true })
  const ids: string[] = []
  for (const h of ['web', 'web', 'db']) ids.push((await register(c, h, tok)).json.nodeId)
  const backup = (await call(c.url, 'GET', '/v1/backup', undefined, c.adminKey)).json
  await c.close()
  // The same records as a controller that predates names would have stored them.
  backup.records = backup.records.map(([k, v]: [string, string]) => {
    if (!k.startsWith('node:')) return [k, v]
    const { name, ...rest } = JSON.parse(v)
    t.type(name, 'string')
    return [k, JSON.stringify(rest)]
  })
  const file = join(dir, 'backup.json')
  await writeFile(file, JSON.stringify(backup))
  const checked = parseBackup(await readFile(file, 'utf8'), file)
  await restoreBackup({ dataDir: join(dir, 'restored'), backup: checked, clock: systemClock, log: silentLogger() })
  for (const f of ['controller.key', 'admin.key']) await copyFile(join(dir, 'old', f), join(dir, 'restored', f))
  const r1 = await start(t, { dataDir: join(dir, 'restored') })
  const got = new Map((await listed(r1)).map(n => [n.id, n.dnsName]))
  t.same(ids.map(id => got.get(id)), ['web.weft.internal', 'web-2.weft.internal', 'db.weft.internal'], 'in the order the nodes registered')
  await r1.close()
  const r2 = await start(t, { dataDir: join(dir, 'restored') })
  const kept = new Map((await listed(r2)).map(n => [n.id, n.dnsName]))
  t.same(ids.map(id => kept.get(id)), ids.map(id => got.get(id)), 'and the next start finds them written')
})

t.test('--dns-domain is checked at start', async (t) => {
  await t.rejects(start(t, { dnsDomain: 'Bad_Domain' }), { code: 'WEFT_ERR_CONFIG', message: /--dns-domain "Bad_Domain": "bad_domain"|"Bad_Domain" is not/ })
  await t.rejects(start(t, { dnsDomain: 'x.local' }), { code: 'WEFT_ERR_CONFIG', message: /mDNS/ })
})
