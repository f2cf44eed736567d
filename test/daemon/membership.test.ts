import t from 'tap'
import { controlHint, deadMembers, downMembers, swimMembers, underlayPeer } from '../../lib/daemon/membership.js'
import { NODE_HEALTHS, type NodeHealth, type NodeRecord } from '../../lib/wire/netmap.js'
import type { MemberInfo } from '../../lib/swim/types.js'

const rec = (id: string, health: NodeHealth = 'online', endpoints = ['198.18.1.2:51820']): NodeRecord => ({
  id, hostname: id, publicKey: 'k', meshIp: '100.64.0.2', endpoints, observedEndpoint: null, swimPort: 7946, health, createdAt: 1, updatedAt: 1
})

t.test('SWIM members are the nodes that have not left, addressed by mesh IP and SWIM port', async (t) => {
  const map = { epoch: 'e', version: 1, cidr: '100.64.0.0/10', nodes: [rec('a'), rec('b', 'left'), rec('c', 'offline')] }
  t.same(swimMembers(map), [{ id: 'a', addr: '100.64.0.2:7946' }, { id: 'c', addr: '100.64.0.2:7946' }])
})

t.test('controller health becomes a confirmation only when the controller does not hear the node', async (t) => {
  const want: Record<NodeHealth, 'stale' | null> = { online: null, 'mesh-lost': null, offline: 'stale', 'control-lost': 'stale', left: null, removed: null }
  for (const h of NODE_HEALTHS) t.equal(controlHint(rec('a', h)), want[h], h)
})

t.test('underlay announcements go to the WireGuard endpoint host, port + 1', async (t) => {
  t.same(underlayPeer(rec('a')), { publicKey: 'k', host: '198.18.1.2', port: 51821 })
  t.equal(underlayPeer(rec('a', 'online', [])), null, 'no endpoint, no announcement')
  t.equal(underlayPeer(rec('a', 'online', ['198.18.1.2:65535'])), null, 'no port above 65535')
})

t.test('downMembers and deadMembers: who leaves the peer set, and who is re-probed over the underlay', async t => {
  const m = (id: string, state: 'alive' | 'suspect' | 'dead' | 'left'): MemberInfo => ({ id, addr: `${id}:7946`, state, incarnation: 3, since: 0 })
  const members = [m('a', 'alive'), m('s', 'suspect'), m('d', 'dead'), m('l', 'left')]
  t.same([...downMembers(members)], ['d', 'l'], 'dead and left are down; a suspect keeps its tunnel')
  t.same(deadMembers(members).map(x => x.id), ['d'], 'only the dead are re-probed: a member that left said so')
})
