/**
 * Backup and restore (lib/control/backup.ts, GET /v1/backup): a backup taken while registrations go on holds
 * every one acknowledged before it, and a controller restored from it serves the same nodes (ids, IPs,
 * credentials), tokens and policy.
 */
import t from 'tap'
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { systemClock } from '../../lib/clock.js'
import { checkBackup, parseBackup, restoreBackup } from '../../lib/control/backup.js'
import { silentLogger } from '../../lib/log.js'
import { generateKeyPair } from '../../lib/wire/keys.js'
import { weft } from '../cmd/weft-cli.js'
import { call, joinNode, registerBody, start, tempDir, token } from './helpers.js'

interface Acked { nodeId: string, meshIp: string, credential: string, at: number }

t.test('a backup under registration load holds every acknowledged registration, and a restored controller serves them', async (t) => {
  const aDir = join(await tempDir(t), 'a')
  const a = await start(t, { dataDir: aDir })
  const tok = await token(a, { reusable: true })
  t.equal((await call(a.url, 'PUT', '/v1/policy', { text: '{ "acls": [ { "action": "accept", "src": ["*"], "dst": ["*:*"] } ] }' }, a.adminKey)).status, 200)
  const acked: Acked[] = []
  const load = { stop: false }
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; !load.stop; i++) {
      const r = await call(a.url, 'POST', '/v1/register', registerBody(a.publicKey, generateKeyPair(), { hostname: `w${w}-${i}`, token: tok }))
      if (r.status === 200) acked.push({ nodeId: r.json.nodeId, meshIp: r.json.meshIp, credential: r.json.credential, at: Date.now() })
    }
  }
  const workers = Promise.all([0, 1, 2, 3].map(worker))
  while (acked.length < 30) await new Promise(resolve => setImmediate(resolve))
  const asked = Date.now()
  const res = await call(a.url, 'GET', '/v1/backup', undefined, a.adminKey)
  t.equal(res.status, 200)
  while (acked.length < 60) await new Promise(resolve => setImmediate(resolve))
  load.stop = true
  await workers
  const checked = checkBackup(res.json, 'the answer')
  const { backup, summary } = checked
  const before = acked.filter(x => x.at < asked)
  const inBackup = new Set(backup.records.filter(([k]) => k.startsWith('node:')).map(([k]) => k.slice(5)))
  t.same(before.filter(x => !inBackup.has(x.nodeId)), [], `every one of the ${before.length} registrations acknowledged before the backup is in it`)
  t.equal(summary.policyVersion, 1)
  t.equal((await call(a.url, 'GET', '/v1/backup')).status, 401, 'it takes the admin key')

  const bDir = join(await tempDir(t), 'b')
  const restored = await restoreBackup({ dataDir: bDir, backup: checked, clock: systemClock, log: silentLogger() })
  t.equal(restored.nodes, summary.nodes)
  await t.rejects(restoreBackup({ dataDir: bDir, backup: checked, clock: systemClock, log: silentLogger() }), { code: 'WEFT_ERR_CONFIG', message: /already holds a controller store/ })
  for (const f of ['controller.key', 'admin.key']) await copyFile(join(aDir, f), join(bDir, f))
  await a.close()
  const b = await start(t, { dataDir: bDir })
  const nodes = (await call(b.url, 'GET', '/v1/nodes', undefined, b.adminKey)).json.nodes as Array<{ id: string, meshIp: string }>
  const served = new Map(nodes.map(n => [n.id, n.meshIp]))
  t.equal(served.size, summary.nodes, 'the restored controller serves every node of the backup')
  t.same(before.filter(x => served.get(x.nodeId) !== x.meshIp), [], 'each with its id and IP')
  const one = before[0]!
  t.equal((await call(b.url, 'POST', '/v1/heartbeat', { endpoints: [], listenPort: 51820 }, one.credential)).status, 200, 'and its credential')
  t.equal((await call(b.url, 'GET', '/v1/tokens', undefined, b.adminKey)).json.tokens.length, 1, 'the token')
  t.match((await call(b.url, 'GET', '/v1/policy', undefined, b.adminKey)).json, { version: 1 }, 'the policy')
  const after = acked.filter(x => !inBackup.has(x.nodeId))
  if (after.length > 0) {
    t.equal((await call(b.url, 'POST', '/v1/heartbeat', { endpoints: [], listenPort: 51820 }, after[0]!.credential)).status, 401,
      'a node registered after the backup is unknown to the restored controller (it registers again with its join token)')
  }
  const next = await call(b.url, 'POST', '/v1/register', registerBody(b.publicKey, generateKeyPair(), { hostname: 'next', token: tok }))
  t.notOk(nodes.some(n => n.meshIp === next.json.meshIp), 'a new node gets an address no restored node holds')
})

t.test('a file that is not a backup, or holds a damaged record, is refused with the reason', async (t) => {
  t.throws(() => parseBackup('nope', 'f.json'), { code: 'WEFT_ERR_INVALID_INPUT', message: /f\.json is not JSON/ })
  t.throws(() => parseBackup('{"format":"other"}', 'f.json'), { message: /not a Weft controller backup/ })
  const damaged = { format: 'weft-controller-backup-v1', createdAt: 'x', storeId: 's', records: [['node:n1', '{not json']] }
  t.throws(() => parseBackup(JSON.stringify(damaged), 'f.json'), { message: /f\.json holds a damaged record: record node:n1/ })
  const empty = { format: 'weft-controller-backup-v1', createdAt: 'x', storeId: 's', records: [] }
  const dir = join(await tempDir(t), 'c')
  await mkdir(dir)
  await t.rejects(restoreBackup({ dataDir: dir, backup: checkBackup(empty, 'f.json'), clock: systemClock, log: silentLogger() }), { message: /holds no controller store/ })
})

t.test('weft controller backup writes a file only its owner reads; weft controller restore fills an empty data directory from it', async (t) => {
  const aDir = join(await tempDir(t), 'a')
  const a = await start(t, { dataDir: aDir })
  await joinNode(a, 'x')
  const file = join(await tempDir(t), 'weft.backup')
  const out = await weft(['controller', 'backup', '--out', file, '--controller', a.url, '--admin-key', join(aDir, 'admin.key')])
  t.equal(out.code, 0, out.stderr)
  t.match(out.stdout, /^backed up 1 nodes, 1 tokens, no access policy \(\d+ records, store [0-9a-f]{16}, read at .*\) to .*weft\.backup\n$/)
  t.equal((await stat(file)).mode & 0o777, 0o600)
  t.notMatch(await readFile(file, 'utf8'), (await readFile(join(aDir, 'admin.key'), 'utf8')).trim(), 'the admin key is not in it')
  const bDir = join(await tempDir(t), 'b')
  const restored = await weft(['controller', 'restore', '--data', bDir, file])
  t.equal(restored.code, 0, restored.stderr)
  t.match(restored.stdout, /^restored 1 nodes, 1 tokens, no access policy from .* into .*\nnext: copy controller\.key and admin\.key/)
  const again = await weft(['controller', 'restore', '--data', bDir, file])
  t.equal(again.code, 2)
  t.match(again.stderr, /already holds a controller store/)
  const bad = join(await tempDir(t), 'bad.json')
  await writeFile(bad, '{}')
  const refused = await weft(['controller', 'restore', '--data', join(await tempDir(t), 'c'), bad])
  t.equal(refused.code, 1)
  t.match(refused.stderr, /is not a Weft controller backup/)
})
