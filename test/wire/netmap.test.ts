import t from 'tap'
import { applyDelta, type Netmap, type NodeRecord } from '../../lib/wire/netmap.js'

const rec = (id: string, meshIp: string): NodeRecord => ({
  id, hostname: id, publicKey: 'k' + id, meshIp, endpoints: [], observedEndpoint: null, swimPort: 7946, health: 'online', createdAt: 1, updatedAt: 1
})
const base: Netmap = { epoch: 'e1', version: 3, cidr: '100.64.0.0/10', nodes: [rec('a', '100.64.0.1'), rec('b', '100.64.0.2')] }

t.test('a following delta upserts and removes, sorted by id, without touching the input', async (t) => {
  const next = applyDelta(base, {
    epoch: 'e1',
    from: 3,
    to: 4,
    upsert: [rec('c', '100.64.0.3'), { ...rec('a', '100.64.0.1'), health: 'offline' }],
    remove: ['b']
  })
  t.ok(next)
  t.equal(next!.version, 4)
  t.same(next!.nodes.map(n => n.id), ['a', 'c'])
  t.equal(next!.nodes[0]!.health, 'offline')
  t.equal(base.nodes.length, 2, 'input unchanged')
  t.equal(base.nodes[0]!.health, 'online', 'input records unchanged')
})

t.test('a delta that does not follow asks for a resync', async (t) => {
  t.equal(applyDelta(base, { epoch: 'e1', from: 2, to: 4, upsert: [], remove: [] }), null, 'gap')
  t.equal(applyDelta(base, { epoch: 'e2', from: 3, to: 4, upsert: [], remove: [] }), null, 'other epoch')
})
