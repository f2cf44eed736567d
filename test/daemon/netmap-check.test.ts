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
