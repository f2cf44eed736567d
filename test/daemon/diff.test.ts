import t from 'tap'
import { generateKeyPair } from '../../lib/wire/keys.js'
import { afterChange, changedFields, deviceOp, diffPeers, type AppliedPeer } from '../../lib/daemon/diff.js'
import type { DesiredPeer, Exclusion } from '../../lib/daemon/desired.js'
import { desiredPeer } from './records.js'

const keys = Array.from({ length: 5 }, () => generateKeyPair().publicKey).sort()
const want = (i: number, over: Partial<DesiredPeer> = {}): DesiredPeer => desiredPeer(i, keys[i]!, over)
const had = (i: number, over: Partial<AppliedPeer> = {}): AppliedPeer => {
  const { nodeId, hostname, meshIp, ...cfg } = want(i)
  return { ...cfg, nodeId, hostname, meshIp, held: false, ...over }
}
const appliedOf = (...peers: AppliedPeer[]): Map<string, AppliedPeer> => new Map(peers.map(p => [p.publicKey, p]))

t.test('diff, table-driven', async (t) => {
  const cases: Array<{ name: string, want: DesiredPeer[], applied: AppliedPeer[], excluded?: Exclusion[], ops: string[] }> = [
    { name: 'nothing applied: all adds', want: [want(1), want(0)], applied: [], ops: ['add n0 in-netmap', 'add n1 in-netmap'] },
    { name: 'identical: no change at all', want: [want(0), want(1)], applied: [had(0), had(1)], ops: [] },
    { name: 'gone from netmap: remove', want: [want(0)], applied: [had(0), had(1)], ops: ['remove n1 not-in-netmap'] },
    {
      name: 'excluded: remove with its reason',
      want: [want(0)],
      applied: [had(0), had(1)],
      excluded: [{
        nodeId: 'n1',
        publicKey: keys[1]!,
        meshIp: '100.64.0.2',
        reason: 'swim-dead'
      }],
      ops: ['remove n1 swim-dead']
    },
    {
      name: 'endpoint changed in netmap: update endpoint only',
      want: [want(0, { endpoint: '198.18.9.9:1' })],
      applied: [had(0)],
      ops: ['update n0 endpoint-changed']
    },
    { name: 'desired endpoint null: no opinion, no update', want: [want(0, { endpoint: null })], applied: [had(0)], ops: [] },
    { name: 'allowed IPs changed', want: [want(0, { allowedIps: ['100.64.0.9/32'] })], applied: [had(0)], ops: ['update n0 allowed-ips-changed'] },
    {
      name: 'allowed IP order does not matter',
      want: [want(0, {
        allowedIps: [
          '100.64.0.1/32', '100.64.1.0/24'
        ]
      })],
      applied: [had(0, { allowedIps: ['100.64.1.0/24', '100.64.0.1/32'] })],
      ops: []
    },
    {
      name: 'keepalive and endpoint changed together',
      want: [want(0, {
        endpoint: '198.18.9.9:1',
        keepaliveSeconds: 0
      })],
      applied: [had(0)],
      ops: ['update n0 endpoint-changed,keepalive-changed']
    },
    {
      name: 'order: removes, then updates, then adds',
      want: [want(0, { endpoint: '198.18.9.9:1' }), want(2)],
      applied: [had(0), had(1)],
      ops: [
        'remove n1 not-in-netmap', 'update n0 endpoint-changed', 'add n2 in-netmap'
      ]
    },
    { name: 'adopted unknown peer: remove with no node id', want: [], applied: [had(3, { nodeId: null, meshIp: null })], ops: ['remove null not-in-netmap'] }
  ]
  for (const c of cases) {
    const changes = diffPeers(c.want, appliedOf(...c.applied), c.excluded)
    t.same(changes.map(ch => `${ch.op.kind} ${String(ch.nodeId)} ${ch.reason}`), c.ops, c.name)
  }
})

t.test('update ops name exactly the changed fields and carry the full desired config', async (t) => {
  const [ch] = diffPeers([want(0, { allowedIps: ['100.64.0.9/32'] })], appliedOf(had(0)))
  t.equal(ch!.op.kind, 'update')
  if (ch!.op.kind !== 'update') return
  t.same(ch!.op.fields, ['allowedIps'])
  t.same(ch!.op.peer, { publicKey: keys[0], endpoint: '198.18.1.1:51820', allowedIps: ['100.64.0.9/32'], keepaliveSeconds: 25 })
})

t.test('changedFields compares against what was applied, so a roamed device endpoint is not a difference', async (t) => {
  const cfg = { publicKey: keys[0]!, endpoint: '198.18.1.1:51820', allowedIps: ['100.64.0.1/32'], keepaliveSeconds: 25 }
  t.same(changedFields(cfg, { ...cfg }), [])
  t.same(changedFields(cfg, { ...cfg, endpoint: '198.18.200.1:40000' }), ['endpoint'], 'differs from last applied: update')
  t.same(changedFields({ ...cfg, endpoint: null }, { ...cfg, endpoint: '198.18.200.1:40000' }), [])
})

t.test('afterChange records each change so the next diff is empty', async (t) => {
  const target = [want(0, { endpoint: '198.18.9.9:1' }), want(2, { endpoint: null })]
  const applied = appliedOf(had(0), had(1))
  for (const ch of diffPeers(target, applied)) afterChange(applied, ch)
  t.same(diffPeers(target, applied), [], 'converged')
  t.same([...applied.keys()].sort(), [keys[0], keys[2]].sort())
  t.equal(applied.get(keys[0]!)!.endpoint, '198.18.9.9:1')
  t.equal(applied.get(keys[2]!)!.endpoint, null)
})

t.test('a held peer: added with its keepalive off, recorded with the keepalive arming sets, then no difference', async (t) => {
  const [add] = diffPeers([want(0, { held: true })], appliedOf())
  t.match(add, { op: { kind: 'add', peer: { keepaliveSeconds: 25 } }, held: true }, 'the change carries the desired config and held')
  t.same(deviceOp(add!), {
    kind: 'add',
    peer: { publicKey: keys[0], endpoint: '198.18.1.1:51820', allowedIps: ['100.64.0.1/32'], keepaliveSeconds: 0 }
  }, 'the device gets keepalive 0')
  const applied = appliedOf()
  afterChange(applied, add!)
  t.match(applied.get(keys[0]!), { keepaliveSeconds: 25, held: true })
  t.same(diffPeers([want(0, { held: true })], applied), [], 'held is no difference')
  const [upd] = diffPeers([want(0, { held: true, endpoint: '198.18.9.9:1' })], applied)
  t.equal(deviceOp(upd!), upd!.op, 'an update goes as it is')
  afterChange(applied, upd!)
  t.equal(applied.get(keys[0]!)!.held, true, 'an update that leaves the keepalive alone leaves the peer held')
  const [notHeld] = diffPeers([want(1)], appliedOf())
  t.equal(deviceOp(notHeld!), notHeld!.op, 'an add that is not held goes as it is')
})
