import t from 'tap'
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StateDir } from '../../lib/daemon/state.js'
import { generateKeyPair } from '../../lib/wire/keys.js'
import type { Netmap } from '../../lib/wire/netmap.js'

const fresh = async (): Promise<string> => await mkdtemp(join(tmpdir(), 'weft-state-'))

const peerKey = generateKeyPair().publicKey
const netmap = (): Netmap => ({
  epoch: 'e', version: 7, cidr: '100.64.0.0/10',
  nodes: [{ id: 'n1', hostname: 'a', publicKey: peerKey, meshIp: '100.64.0.1', endpoints: ['198.18.0.2:51820'], observedEndpoint: null, swimPort: 7946, health: 'online', createdAt: 1, updatedAt: 2 }]
})

t.test('first start generates a key with mode 0600; later starts reuse it', async (t) => {
  const dir = join(await fresh(), 'state')
  const s = await StateDir.open(dir)
  t.equal((await stat(dir)).mode & 0o777, 0o700, 'state dir is 0700')
  const k1 = await s.loadOrCreateKey()
  t.ok(k1.created)
  t.equal((await stat(join(dir, 'private.key'))).mode & 0o777, 0o600)
  const k2 = await (await StateDir.open(dir)).loadOrCreateKey()
  t.notOk(k2.created)
  t.equal(k2.privateKey, k1.privateKey)
  t.equal(k2.publicKey, k1.publicKey)
})

t.test('a corrupt key file fails with a sentence, never silently replaced', async (t) => {
  const dir = await fresh()
  await writeFile(join(dir, 'private.key'), 'garbage\n')
  const s = await StateDir.open(dir)
  await t.rejects(s.loadOrCreateKey(), { code: 'WEFT_ERR_DATA_DIR', message: /does not hold a WireGuard private key/ })
  t.equal(await readFile(join(dir, 'private.key'), 'utf8'), 'garbage\n', 'file left for the operator')
})

t.test('identity round-trips with mode 0600; a corrupt one says how to recover', async (t) => {
  const dir = await fresh()
  const s = await StateDir.open(dir)
  t.equal(await s.loadIdentity(), null)
  const id = { nodeId: 'n1', meshIp: '100.64.0.1', cidr: '100.64.0.0/10', credential: 'secret', controllerPublicKey: generateKeyPair().publicKey }
  await s.saveIdentity(id)
  t.same(await s.loadIdentity(), id)
  t.equal((await stat(join(dir, 'node.json'))).mode & 0o777, 0o600)
  await writeFile(join(dir, 'node.json'), '{"nodeId": "n1"')
  await t.rejects(s.loadIdentity(), { code: 'WEFT_ERR_DATA_DIR', message: /--join-token/ })
})

t.test('netmap round-trips; invalid or truncated files are refused whole', async (t) => {
  const dir = await fresh()
  const s = await StateDir.open(dir)
  t.equal(await s.loadNetmap(), null)
  await s.saveNetmap(netmap())
  t.same(await s.loadNetmap(), netmap())
  const full = await readFile(join(dir, 'netmap.json'), 'utf8')
  await writeFile(join(dir, 'netmap.json'), full.slice(0, full.length - 5))
  await t.rejects(s.loadNetmap(), { code: 'WEFT_ERR_INVALID_NETMAP' })
  const bad = netmap()
  bad.nodes[0]!.meshIp = '192.0.2.1'
  await writeFile(join(dir, 'netmap.json'), JSON.stringify(bad))
  await t.rejects(s.loadNetmap(), { code: 'WEFT_ERR_INVALID_NETMAP', message: /outside the mesh CIDR/ })
})

t.test('incarnation round-trips; a corrupt counter reads as none', async (t) => {
  const dir = await fresh()
  const s = await StateDir.open(dir)
  t.equal(await s.loadIncarnation(), null)
  await s.saveIncarnation(9)
  t.equal(await s.loadIncarnation(), 9)
  await writeFile(join(dir, 'swim.json'), '{')
  t.equal(await s.loadIncarnation(), null)
})

t.test('atomic writes leave no temp files behind', async (t) => {
  const dir = await fresh()
  const s = await StateDir.open(dir)
  for (let i = 0; i < 20; i++) await s.saveNetmap({ ...netmap(), version: i })
  t.same((await readdir(dir)).sort(), ['netmap.json'])
})

t.test('netmap saves issued together: the newest lands, older ones are folded in, none overtakes it', async (t) => {
  const dir = await fresh()
  const s = await StateDir.open(dir)
  const saves = Array.from({ length: 50 }, async (_, i) => await s.saveNetmap({ ...netmap(), version: i + 1 }))
  await Promise.all(saves)
  t.equal((await s.loadNetmap())?.version, 50, 'the last map applied is the one on disk')
  t.same((await readdir(dir)).sort(), ['netmap.json'])
  await s.saveNetmap({ ...netmap(), version: 51 })
  t.equal((await s.loadNetmap())?.version, 51, 'a save after the burst starts a new write')
})
