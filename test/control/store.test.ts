import t from 'tap'
import { join } from 'node:path'
import { Level } from 'level'
import { GroupCommit } from '../../lib/control/group-commit.js'
import { LevelStore, trackedChanges } from '../../lib/control/level-store.js'
import { policySha256, type StoredNode, type StoredPolicy } from '../../lib/control/store.js'
import { tempDir } from './helpers.js'

const node = (i: number): StoredNode => ({
  id: `n${i}`,
  publicKey: `k${i}`,
  hostname: `h${i}`,
  meshIp: `100.64.0.${i + 1}`,
  endpoints: [],
  listenPort: 51820,
  swimPort: 7946,
  credentialHash: 'ab'.repeat(32),
  state: 'active',
  createdAt: 1,
  updatedAt: 1
})

t.test('commits made in the same tick share one synced batch and all become durable', async (t) => {
  const dir = join(await tempDir(t), 'db')
  const store = await LevelStore.open(dir)
  const gc = new GroupCommit(store)
  await Promise.all(Array.from({ length: 200 }, async (_, i) => await gc.commit([
    { kind: 'node', node: node(i) },
    { kind: 'nonce', nonce: `x${i}`, expiresAt: 5 }
  ])))
  t.equal(gc.batches, 1)
  await store.close()
  const again = await LevelStore.open(dir)
  const state = await again.load()
  t.equal(state.nodes.length, 200)
  t.equal(state.nonces.length, 200)
  await again.close()
})

t.test('commits arriving while a batch is in flight go into the next batch, in order', async (t) => {
  const store = await LevelStore.open(join(await tempDir(t), 'db'))
  t.teardown(async () => await store.close())
  const gc = new GroupCommit(store)
  const first = gc.commit([{ kind: 'node', node: node(1) }])
  await new Promise(resolve => setImmediate(resolve))
  const later = Array.from({ length: 50 }, async (_, i) => await gc.commit([{ kind: 'node', node: { ...node(1), hostname: `v${i}` } }]))
  await Promise.all([first, ...later])
  t.ok(gc.batches <= 3, `${gc.batches} batches`)
  const state = await store.load()
  t.equal(state.nodes[0]?.hostname, 'v49', 'the last write wins')
})

t.test('a failed batch rejects every waiter in it', async (t) => {
  const store = await LevelStore.open(join(await tempDir(t), 'db'))
  const gc = new GroupCommit(store)
  await store.close()
  const results = await Promise.allSettled([gc.commit([{ kind: 'node', node: node(1) }]), gc.commit([{ kind: 'node', node: node(2) }])])
  t.same(results.map(r => r.status), ['rejected', 'rejected'])
})

const policy = (version: number, text: string): StoredPolicy => ({ version, text, updatedAt: 1_700_000_000_000 + version, sha256: policySha256(text) })

t.test('the policy is one record, replaced whole, read back after a reopen, and checked after a failed write like nodes', async (t) => {
  const dir = join(await tempDir(t), 'db')
  const store = await LevelStore.open(dir)
  t.same((await store.load()).policy, null, 'none set: null')
  await store.write([{ kind: 'policy', policy: policy(1, '{}') }], { sync: true })
  await store.write([{ kind: 'policy', policy: policy(2, '{ "acls": [] } // ünïcode') }], { sync: true })
  await store.close()
  const again = await LevelStore.open(dir)
  t.teardown(async () => await again.close())
  const { state, records } = await again.readAll()
  t.same(state.policy, policy(2, '{ "acls": [] } // ünïcode'))
  t.same([...records.keys()].filter(k => k.startsWith('policy')), ['policy:current'], 'its digest is kept for the check after a reopen')
  t.same(trackedChanges([{ kind: 'policy', policy: policy(3, 'x') }]).map(([k]) => k), ['policy:current'])
})

t.test('a damaged policy record stops the load with a DataDirError that names it and what is wrong', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['not JSON', '{"version":1,', /record policy:current in the controller database is not valid JSON; restore/],
    ['text changed', JSON.stringify({ ...policy(4, '{}'), text: '{ }' }), /record policy:current .* is damaged: its text does not match its sha256; restore/],
    ['no version', JSON.stringify({ ...policy(4, '{}'), version: 0 }), /is damaged: its version is not a positive integer/],
    ['no text', JSON.stringify({ version: 4, updatedAt: 1, sha256: policySha256('') }), /is damaged: it has no text/]
  ]
  for (const [name, value, why] of cases) {
    const dir = join(await tempDir(t), 'db')
    const db = new Level<string, string>(dir)
    await db.put('policy:current', value)
    await db.close()
    const store = await LevelStore.open(dir)
    await t.rejects(store.load(), { code: 'WEFT_ERR_DATA_DIR', message: why }, name)
    await store.close()
  }
})
