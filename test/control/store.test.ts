import t from 'tap'
import { join } from 'node:path'
import { GroupCommit } from '../../lib/control/group-commit.js'
import { LevelStore } from '../../lib/control/level-store.js'
import type { StoredNode } from '../../lib/control/store.js'
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
