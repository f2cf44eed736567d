import t from 'tap'
import { checkNetmap, parseMessage } from '../../lib/daemon/netmap-check.js'
import { generateKeyPair } from '../../lib/wire/keys.js'
import type { NodeRecord } from '../../lib/wire/netmap.js'

const rec = (id: string, meshIp: string): NodeRecord => ({
  id,
  hostname: id,
  publicKey: generateKeyPair().publicKey,
  meshIp,
  endpoints: [
    '198.18.0.2:51820', '[2001:db8::1]:51820'
  ],
  observedEndpoint: '198.18.0.2:51820',
  swimPort: 7946,
  health: 'online',
  createdAt: 1,
  updatedAt: 2
})
const map = (nodes: NodeRecord[]): unknown => ({ epoch: 'e', version: 1, cidr: '100.64.0.0/10', nodes })

t.test('a well-formed netmap passes', async (t) => {
  t.equal(checkNetmap(map([rec('a', '100.64.0.1'), rec('b', '100.64.0.2')])).nodes.length, 2)
  const router = { ...rec('r', '100.64.0.3'), routes: ['192.0.2.0/24', '198.51.100.0/25'], exitNode: true, routePriority: -3 }
  t.same(checkNetmap(map([router])).nodes[0], router, 'with routes, exit node and priority')
})

t.test('each kind of bad netmap is refused with its reason', async (t) => {
  const a = rec('a', '100.64.0.1')
  const cases: Array<[string, unknown, RegExp]> = [
    ['not an object', 'x', /not an object/],
    ['no epoch', { version: 1, cidr: '100.64.0.0/10', nodes: [] }, /epoch/],
    ['negative version', { epoch: 'e', version: -1, cidr: '100.64.0.0/10', nodes: [] }, /version/],
    ['bad cidr', { epoch: 'e', version: 1, cidr: '100.64.0.1/10', nodes: [] }, /cidr/],
    ['bad key', map([{ ...a, publicKey: 'x' }]), /publicKey/],
    ['ip outside', map([{ ...a, meshIp: '198.18.0.1' }]), /outside/],
    ['ip not v4', map([{ ...a, meshIp: '::1' }]), /IPv4/],
    ['bad endpoint', map([{ ...a, endpoints: ['nope'] }]), /endpoints/],
    ['too many endpoints', map([{ ...a, endpoints: Array(17).fill('198.18.0.2:1') }]), /endpoints/],
    ['bad health', map([{ ...a, health: 'zombie' as never }]), /health/],
    ['bad swim port', map([{ ...a, swimPort: 70000 }]), /swimPort/],
    ['route not canonical', map([{ ...a, routes: ['192.0.2.1/24'] }]), /route 192\.0\.2\.1\/24 is not a canonical/],
    ['route not a string', map([{ ...a, routes: [7 as never] }]), /route 7 is not/],
    ['route over the mesh', map([{ ...a, routes: ['100.64.0.0/16'] }]), /overlaps the mesh CIDR/],
    ['default route as a subnet route', map([{ ...a, routes: ['0.0.0.0/0'] }]), /route 0\.0\.0\.0\/0/],
    ['too many routes', map([{ ...a, routes: Array.from({ length: 65 }, (_, i) => `198.51.100.${i}/32`) }]), /at most 64/],
    ['exit not boolean', map([{ ...a, exitNode: 'yes' as never }]), /exitNode/],
    ['priority out of range', map([{ ...a, routePriority: 1e6 }]), /routePriority/],
    ['duplicate id', map([a, { ...rec('a', '100.64.0.2') }]), /duplicate node id/],
    ['duplicate ip', map([a, rec('b', '100.64.0.1')]), /appears twice/],
    ['duplicate key', map([a, { ...rec('b', '100.64.0.2'), publicKey: a.publicKey }]), /appears twice/]
  ]
  for (const [name, v, re] of cases) t.throws(() => checkNetmap(v), { code: 'WEFT_ERR_INVALID_NETMAP', message: re }, name)
})

t.test('update channel lines: full, delta, ping, and garbage', async (t) => {
  const full = parseMessage(JSON.stringify({ type: 'full', netmap: map([rec('a', '100.64.0.1')]) }), null)
  t.equal(full.type, 'full')
  const delta = parseMessage(JSON.stringify({ type: 'delta', epoch: 'e', from: 1, to: 2, upsert: [rec('b', '100.64.0.2')], remove: ['a'] }), '100.64.0.0/10')
  t.equal(delta.type, 'delta')
  t.equal(parseMessage('{"type":"ping","epoch":"e","version":3,"at":5}', null).type, 'ping')
  t.throws(() => parseMessage('{"type":"delta","epoch":"e","from":1,"to":2,"upsert":[],"remove":[]}', null), /before any full/)
  t.throws(() => parseMessage('{"type":"delta","epoch":"e","from":2,"to":2,"upsert":[],"remove":[]}', '100.64.0.0/10'), /from < to/)
  t.throws(() => parseMessage('not json', null), { code: 'WEFT_ERR_INVALID_NETMAP' })
  t.throws(() => parseMessage('{"type":"evil"}', null), /unknown/)
  t.throws(() => parseMessage('[]', null), /not an object/)
})
