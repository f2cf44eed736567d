import t, { type Test } from 'tap'
import { GroupCommit } from '../../lib/control/group-commit.js'
import { trackedChanges } from '../../lib/control/store-records.js'
import { policySha256, type StoredNode, type StoredPolicy } from '../../lib/control/store.js'
import { etcdBackend, leveldb, type FreshStore } from './store-backends.js'

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

for (const backend of [leveldb, await etcdBackend(t)]) {
  const test = (name: string, fn: (t: Test, fresh: FreshStore) => Promise<void>): void => {
    t.test(`${backend.name}: ${name}`, async (t) => await fn(t, await backend.fresh(t)))
  }

  test('commits made in the same tick share as few batches as the store allows, and all become durable', async (t, fresh) => {
    const store = await fresh.open()
    const gc = new GroupCommit(store)
    await Promise.all(Array.from({ length: 200 }, async (_, i) => await gc.commit([
      { kind: 'node', node: node(i) },
      { kind: 'nonce', nonce: `x${i}`, expiresAt: 5 }
    ])))
    t.equal(gc.batches, store.maxOps === undefined ? 1 : Math.ceil(200 / Math.floor(store.maxOps / 2)))
    await store.close()
    const again = await fresh.open()
    const state = await again.load()
    t.equal(state.nodes.length, 200)
    t.equal(state.nonces.length, 200)
    await again.close()
  })

  test('commits arriving while a batch is in flight go into the next batch, in order', async (t, fresh) => {
    const store = await fresh.open()
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

  test('a failed batch rejects every waiter in it', async (t, fresh) => {
    const store = await fresh.open()
    const gc = new GroupCommit(store)
    await store.close()
    const results = await Promise.allSettled([gc.commit([{ kind: 'node', node: node(1) }]), gc.commit([{ kind: 'node', node: node(2) }])])
    t.same(results.map(r => r.status), ['rejected', 'rejected'])
  })

  test('deletes remove records, and a batch is all or nothing', async (t, fresh) => {
    const store = await fresh.open()
    t.teardown(async () => await store.close())
    await store.write([{ kind: 'node', node: node(1) }, { kind: 'node', node: node(2) }, { kind: 'meta', key: 'seq', value: '1' }], { sync: true })
    const tok = { hash: 'h', reusable: false, createdAt: 1, expiresAt: 2, uses: 0 }
    await store.write([{ kind: 'del-node', id: 'n1' }, { kind: 'token', token: tok }], { sync: true })
    const state = await store.load()
    t.same(state.nodes.map(n => n.id), ['n2'])
    t.same(state.tokens.map(k => k.hash), ['h'])
    t.equal(state.meta.get('seq'), '1')
    // A group commit can carry two writes of one record: the batch leaves what applying it in order leaves.
    await store.write([{ kind: 'node', node: node(3) }, { kind: 'node', node: { ...node(3), hostname: 'later' } }, { kind: 'del-node', id: 'n2' },
      { kind: 'node', node: node(2) }, { kind: 'node', node: node(4) }, { kind: 'del-node', id: 'n4' }], { sync: true })
    t.same((await store.load()).nodes.map(n => [n.id, n.hostname]).sort(), [['n2', 'h2'], ['n3', 'later']])
  })

  test('the policy is one record, replaced whole, read back after a reopen, and checked after a failed write like nodes', async (t, fresh) => {
    const store = await fresh.open()
    t.same((await store.load()).policy, null, 'none set: null')
    await store.write([{ kind: 'policy', policy: policy(1, '{}') }], { sync: true })
    await store.write([{ kind: 'policy', policy: policy(2, '{ "acls": [] } // ünïcode') }], { sync: true })
    await store.close()
    const again = await fresh.open()
    t.teardown(async () => await again.close())
    const { state, records } = await again.readAll()
    t.same(state.policy, policy(2, '{ "acls": [] } // ünïcode'))
    t.same([...records.keys()].filter(k => k.startsWith('policy')), ['policy:current'], 'its digest is kept for the check after a reopen')
    t.same(trackedChanges([{ kind: 'policy', policy: policy(3, 'x') }]).map(([k]) => k), ['policy:current'])
  })

  test('a damaged policy record stops the load with a DataDirError that names it and what is wrong', async (t) => {
    const cases: Array<[string, string, RegExp]> = [
      ['not JSON', '{"version":1,', /record policy:current in the controller database is not valid JSON; restore/],
      ['text changed', JSON.stringify({ ...policy(4, '{}'), text: '{ }' }), /record policy:current .* is damaged: its text does not match its sha256; restore/],
      ['no version', JSON.stringify({ ...policy(4, '{}'), version: 0 }), /is damaged: its version is not a positive integer/],
      ['no text', JSON.stringify({ version: 4, updatedAt: 1, sha256: policySha256('') }), /is damaged: it has no text/]
    ]
    for (const [name, value, why] of cases) {
      const fresh = await backend.fresh(t)
      await fresh.seed('policy:current', value)
      const store = await fresh.open()
      await t.rejects(store.load(), { code: 'WEFT_ERR_DATA_DIR', message: why }, name)
      await store.close()
    }
  })
}

const policy = (version: number, text: string): StoredPolicy => ({ version, text, updatedAt: 1_700_000_000_000 + version, sha256: policySha256(text) })
