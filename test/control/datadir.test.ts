import t from 'tap'
import { readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { systemClock } from '../../lib/clock.js'
import { AdminClient, readAdminKey } from '../../lib/control/admin-client.js'
import { startController } from '../../lib/control/index.js'
import { ConfigError, DataDirError } from '../../lib/errors.js'
import { silentLogger } from '../../lib/log.js'
import { call, captureLog, joinNode, start, tempDir, token } from './helpers.js'

const opts = (dataDir: string): {
  dataDir: string
  listen: string
  log: ReturnType<typeof silentLogger>
} => ({ dataDir, listen: '127.0.0.1:0', log: silentLogger() })

t.test('first start creates the keys with private modes; a restart reuses them and serves the same nodes', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const c1 = await start(t, { dataDir })
  t.equal((await stat(dataDir)).mode & 0o777, 0o700)
  t.equal((await stat(join(dataDir, 'admin.key'))).mode & 0o777, 0o600)
  t.equal((await stat(join(dataDir, 'controller.key'))).mode & 0o777, 0o600)
  const adminKey = (await readFile(join(dataDir, 'admin.key'), 'utf8')).trim()
  const tok = await token(c1, { reusable: true })
  const nodes = [await joinNode(c1, 'a', tok), await joinNode(c1, 'b', tok)]
  await call(c1.url, 'DELETE', `/v1/nodes/${nodes[1]!.nodeId}`, undefined, c1.adminKey)
  const epoch1 = c1.controller.epoch
  await c1.close()

  const c2 = await start(t, { dataDir })
  t.equal(c2.publicKey, c1.publicKey, 'same controller key')
  t.equal((await readFile(join(dataDir, 'admin.key'), 'utf8')).trim(), adminKey, 'admin key file untouched')
  t.not(c2.controller.epoch, epoch1, 'new epoch')
  const nm = await call(c2.url, 'GET', '/v1/netmap', undefined, nodes[0]!.credential)
  t.equal(nm.status, 200, 'node credential survives the restart')
  t.same(nm.json.nodes.map((n: { id: string, meshIp: string }) => [n.id, n.meshIp]), [[
    nodes[0]!.nodeId,
    nodes[0]!.meshIp
  ]], 'same nodes and IPs, removed node stays removed')
  t.equal((await call(c2.url, 'GET', '/v1/nodes', undefined, adminKey)).status, 200, 'admin key still works')
  t.equal((await call(c2.url, 'GET', '/v1/netmap', undefined, nodes[1]!.credential)).status, 403, 'removed credential stays dead (403 NODE_REMOVED)')
  const again = await joinNode(c2, 'c', tok)
  t.not(again.meshIp, nodes[1]!.meshIp, 'the removed node\'s IP stays quarantined across the restart')
})

t.test('a data directory in use by another controller fails with a clear DataDirError', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  await start(t, { dataDir })
  await t.rejects(startController(opts(dataDir)), { name: 'DataDirError', code: 'WEFT_ERR_DATA_DIR', message: /is locked: another controller is using it/ })
})

t.test('a corrupt database fails start-up with a clear DataDirError', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const c = await start(t, { dataDir })
  await c.close()
  const db = join(dataDir, 'db')
  const manifest = (await readdir(db)).find(f => f.startsWith('MANIFEST-'))!
  await writeFile(join(db, manifest), Buffer.alloc(4096, 0xab))
  const err = await startController(opts(dataDir)).then(() => null, (e: unknown) => e)
  t.type(err, DataDirError)
  t.match((err as Error).message, /holds a corrupt database; restore it from a backup/)
})

t.test('a record that is not JSON fails start-up with a DataDirError naming it', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const c = await start(t, { dataDir })
  await c.close()
  const db = new Level<string, string>(join(dataDir, 'db'))
  await db.put('node:nbroken', '{not json')
  await db.close()
  await t.rejects(startController(opts(dataDir)), { code: 'WEFT_ERR_DATA_DIR', message: /node:nbroken .* not valid JSON/ })
})

t.test('a missing controller key with an existing database is refused, not silently replaced', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const c = await start(t, { dataDir })
  await c.close()
  await unlink(join(dataDir, 'controller.key'))
  await t.rejects(startController(opts(dataDir)), { code: 'WEFT_ERR_DATA_DIR', message: /controller\.key is missing/ })
})

t.test('the CIDR is fixed once the data directory exists', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const c = await start(t, { dataDir })
  await c.close()
  const err = await startController({ ...opts(dataDir), cidr: '100.64.0.0/16' }).then(() => null, (e: unknown) => e)
  t.type(err, ConfigError)
  t.match((err as Error).message, /created with --cidr 100\.64\.0\.0\/10/)
})

t.test('a data path that is a file is a DataDirError', async (t) => {
  const file = join(await tempDir(t), 'file')
  await writeFile(file, 'x')
  await t.rejects(startController(opts(file)), { code: 'WEFT_ERR_DATA_DIR' })
})

t.test('a garbled admin.key is refused at start with what to do', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const c = await start(t, { dataDir })
  await c.close()
  await writeFile(join(dataDir, 'admin.key'), 'wa_not-the-key\n')
  await t.rejects(startController(opts(dataDir)), { code: 'WEFT_ERR_DATA_DIR', message: /admin\.key does not hold .*admin key.*--rotate-admin-key/s })
})

t.test('a deleted admin.key: the controller starts, warns how to make a new one, and the old key keeps working', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const c = await start(t, { dataDir })
  await c.close()
  await unlink(join(dataDir, 'admin.key'))
  const { log, events } = captureLog()
  const c2 = await startController({ ...opts(dataDir), log })
  t.teardown(async () => await c2.close())
  const warning = events.find(e => e.event === 'controller.admin_key_missing')
  t.ok(warning !== undefined && warning.level === 40, 'controller.admin_key_missing at warn level')
  t.match(warning?.msg, /--rotate-admin-key/)
  t.equal((await call(c2.url, 'GET', '/v1/nodes', undefined, c.adminKey)).status, 200, 'the key the operator kept still works')
})

t.test('--rotate-admin-key writes a new admin.key; the old key stops working', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const c = await start(t, { dataDir })
  await c.close()
  await writeFile(join(dataDir, 'admin.key'), 'garbage\n')
  const { log, events } = captureLog()
  const c2 = await startController({ ...opts(dataDir), log, rotateAdminKey: true })
  t.teardown(async () => await c2.close())
  const fresh = (await readFile(join(dataDir, 'admin.key'), 'utf8')).trim()
  t.not(fresh, c.adminKey)
  t.equal((await stat(join(dataDir, 'admin.key'))).mode & 0o777, 0o600)
  t.ok(events.some(e => e.event === 'controller.admin_key_rotated' && e.level === 40), 'controller.admin_key_rotated at warn level')
  t.equal((await call(c2.url, 'GET', '/v1/nodes', undefined, c.adminKey)).status, 401, 'the old key is refused')
  t.equal((await call(c2.url, 'GET', '/v1/nodes', undefined, fresh)).status, 200, 'the new key works')
  await c2.close()
  const c3 = await startController(opts(dataDir))
  t.teardown(async () => await c3.close())
  t.equal((await call(c3.url, 'GET', '/v1/nodes', undefined, fresh)).status, 200, 'and keeps working after a plain restart')
})

t.test('an admin command refused with 401 says how to recover the key', async (t) => {
  const c = await start(t)
  const file = join(await tempDir(t), 'admin.key')
  await writeFile(file, 'wa_wrong\n')
  const client = new AdminClient({ controllerUrls: [c.url], adminKey: await readAdminKey(file), adminKeyFile: file }, systemClock)
  const err = await client.listNodes().then(() => null, (e: Error) => e)
  t.match(err, { remoteCode: 'WEFT_ERR_UNAUTHORIZED' })
  t.ok(err?.message.includes(`did not accept the admin key from ${file}`), String(err?.message))
  t.match(err?.message, /restore it from a backup, or restart the controller with --rotate-admin-key/)
})
