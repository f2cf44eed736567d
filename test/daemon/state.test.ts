import t from 'tap'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ManualClock, systemClock } from '../../lib/clock.js'
import { mustSaveAtOnce, StateDir } from '../../lib/daemon/state.js'
import { mergePrefs, PREF_DEFAULTS } from '../../lib/daemon/prefs.js'
import { generateKeyPair } from '../../lib/wire/keys.js'
import type { Netmap } from '../../lib/wire/netmap.js'

/** A fresh directory, removed when the file's tests end. */
async function fresh (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-state-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  return dir
}

const peerKey = generateKeyPair().publicKey
const netmap = (): Netmap => ({
  epoch: 'e',
  version: 7,
  cidr: '100.64.0.0/10',
  nodes: [{
    id: 'n1',
    hostname: 'a',
    publicKey: peerKey,
    meshIp: '100.64.0.1',
    endpoints: ['198.18.0.2:51820'],
    observedEndpoint: null,
    swimPort: 7946,
    health: 'online',
    createdAt: 1,
    updatedAt: 2
  }]
})

t.test('first start generates a key with mode 0600; later starts reuse it', async (t) => {
  const dir = join(await fresh(), 'state')
  const s = await StateDir.open(dir, { clock: systemClock })
  t.equal((await stat(dir)).mode & 0o777, 0o700, 'state dir is 0700')
  const k1 = await s.loadOrCreateKey()
  t.ok(k1.created)
  t.equal((await stat(join(dir, 'private.key'))).mode & 0o777, 0o600)
  const k2 = await (await StateDir.open(dir, { clock: systemClock })).loadOrCreateKey()
  t.notOk(k2.created)
  t.equal(k2.privateKey, k1.privateKey)
  t.equal(k2.publicKey, k1.publicKey)
})

t.test('a corrupt key file fails with a sentence, never silently replaced', async (t) => {
  const dir = await fresh()
  await writeFile(join(dir, 'private.key'), 'garbage\n')
  const s = await StateDir.open(dir, { clock: systemClock })
  await t.rejects(s.loadOrCreateKey(), { code: 'WEFT_ERR_DATA_DIR', message: /does not hold a WireGuard private key/ })
  t.equal(await readFile(join(dir, 'private.key'), 'utf8'), 'garbage\n', 'file left for the operator')
})

t.test('identity round-trips with mode 0600; a corrupt one says how to recover', async (t) => {
  const dir = await fresh()
  const s = await StateDir.open(dir, { clock: systemClock })
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
  const s = await StateDir.open(dir, { clock: systemClock })
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

t.test('the incarnation bound round-trips; a corrupt or out-of-range one reads as none', async (t) => {
  const dir = await fresh()
  const s = await StateDir.open(dir, { clock: systemClock })
  t.equal(await s.loadIncarnation(), null)
  s.reserveIncarnation(9)
  t.equal(await s.loadIncarnation(), 9, 'durable when the call returns')
  s.reserveIncarnation(2 ** 48)
  t.equal(await s.loadIncarnation(), 2 ** 48)
  await writeFile(join(dir, 'swim.json'), '{')
  t.equal(await s.loadIncarnation(), null)
  await writeFile(join(dir, 'swim.json'), JSON.stringify({ incarnation: 2 ** 48 + 1 }))
  t.equal(await s.loadIncarnation(), null, 'above 2^48')
  t.same((await readdir(dir)).sort(), ['swim.json'], 'no temp file left')
})

t.test('route preferences round-trip with mode 0600; a damaged file stops the start with the way out', async (t) => {
  const dir = await fresh()
  const s = await StateDir.open(dir, { clock: systemClock })
  t.equal(await s.loadPrefs(), null)
  const prefs = mergePrefs(PREF_DEFAULTS, { exitNode: 'auto', advertiseRoutes: ['192.0.2.0/24'] })
  await s.savePrefs(prefs)
  t.same(await s.loadPrefs(), prefs)
  t.equal((await stat(join(dir, 'prefs.json'))).mode & 0o777, 0o600)
  for (const bad of ['{', '[]', JSON.stringify({ exitNode: 7 }), JSON.stringify({ exitnode: 'auto' })]) {
    await writeFile(join(dir, 'prefs.json'), bad)
    await t.rejects(s.loadPrefs(), { code: 'WEFT_ERR_DATA_DIR', message: /prefs\.json is not valid \(.+\); fix it, or delete it/ }, bad)
  }
})

t.test('atomic writes leave no temp files behind', async (t) => {
  const dir = await fresh()
  const s = await StateDir.open(dir, { clock: systemClock })
  for (let i = 0; i < 20; i++) await s.saveNetmap({ ...netmap(), version: i })
  t.same((await readdir(dir)).sort(), ['netmap.json'])
})

t.test('netmap saves issued together: the newest lands, older ones are folded in, none overtakes it', async (t) => {
  const dir = await fresh()
  const s = await StateDir.open(dir, { clock: systemClock })
  const saves = Array.from({ length: 50 }, async (_, i) => await s.saveNetmap({ ...netmap(), version: i + 1 }))
  await Promise.all(saves)
  t.equal((await s.loadNetmap())?.version, 50, 'the last map applied is the one on disk')
  t.same((await readdir(dir)).sort(), ['netmap.json'])
  await s.saveNetmap({ ...netmap(), version: 51 })
  t.equal((await s.loadNetmap())?.version, 51, 'a save after the burst starts a new write')
})

t.test('paced saves: a map that is not urgent waits for the interval; an urgent one or a flush writes at once', async (t) => {
  const dir = await fresh()
  // An interval no test run reaches: whatever lands below landed because it was urgent or flushed.
  const s = await StateDir.open(dir, { netmapIntervalMs: 3_600_000, clock: systemClock })
  await s.saveNetmap({ ...netmap(), version: 1 }, false)
  t.equal((await s.loadNetmap())?.version, 1, 'the first write does not wait')
  let landed = false
  const paced = s.saveNetmap({ ...netmap(), version: 2 }, false).then(() => { landed = true })
  await s.loadIncarnation() // one more disk round trip: a write that did not wait would have started by now
  t.equal((await s.loadNetmap())?.version, 1, 'a second map within the interval waits')
  t.equal(landed, false)
  await s.saveNetmap({ ...netmap(), version: 3 }, true)
  await paced
  t.equal((await s.loadNetmap())?.version, 3, 'an urgent map wakes the write, folding in the waiting one')
  void s.saveNetmap({ ...netmap(), version: 4 }, false)
  await s.flushNetmap()
  t.equal((await s.loadNetmap())?.version, 4, 'flush writes the waiting map')
  await s.flushNetmap()
  t.same((await readdir(dir)).sort(), ['netmap.json'])
})

t.test('paced saves: a waiting map is written once the interval has passed on the clock', async (t) => {
  const clock = new ManualClock()
  const s = await StateDir.open(await fresh(), { netmapIntervalMs: 2000, clock })
  await s.saveNetmap({ ...netmap(), version: 1 }, false)
  let landed = false
  const paced = s.saveNetmap({ ...netmap(), version: 2 }, false).then(() => { landed = true })
  await clock.advanceAsync(1999)
  t.equal(landed, false, 'not before the interval')
  t.equal(clock.timers, 1, 'the write waits on one clock timer')
  await clock.advanceAsync(1)
  await paced
  t.equal((await s.loadNetmap())?.version, 2)
  t.equal(clock.timers, 0)
})

t.test('mustSaveAtOnce: any change to who is in the mesh is urgent; endpoints and health are not', (t) => {
  const base = netmap()
  const other = { ...base.nodes[0]!, id: 'n2', publicKey: generateKeyPair().publicKey, meshIp: '100.64.0.2' }
  const two: typeof base = { ...base, version: 8, nodes: [base.nodes[0]!, other] }
  const edit = (f: (n: typeof other) => typeof other): typeof base => ({ ...two, version: 9, nodes: [two.nodes[0]!, f(other)] })
  t.equal(mustSaveAtOnce(null, base), true, 'the first map')
  t.equal(mustSaveAtOnce(base, { ...base, epoch: 'f' }), true, 'a new controller epoch')
  t.equal(mustSaveAtOnce(base, two), true, 'a node added: a restart from the older file would remove its live tunnel')
  t.equal(mustSaveAtOnce(two, base), true, 'a node removed')
  t.equal(mustSaveAtOnce(two, edit(n => ({ ...n, health: 'control-lost' }))), false, 'health online -> control-lost')
  t.equal(mustSaveAtOnce(two, edit(n => ({ ...n, endpoints: ['198.18.0.9:51820'] }))), false, 'an endpoint')
  t.equal(mustSaveAtOnce(two, edit(n => ({ ...n, health: 'left' }))), true, 'a node left')
  t.equal(mustSaveAtOnce(two, edit(n => ({ ...n, publicKey: generateKeyPair().publicKey }))), true, 'a key changed')
  t.equal(mustSaveAtOnce(two, edit(n => ({ ...n, meshIp: '100.64.0.9' }))), true, 'a mesh IP changed')
  t.end()
})
