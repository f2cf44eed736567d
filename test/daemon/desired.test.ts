import t from 'tap'
import { generateKeyPair } from '../../lib/wire/keys.js'
import type { Netmap, NodeRecord } from '../../lib/wire/netmap.js'
import { chooseEndpoint, desired, initiates, type Liveness } from '../../lib/daemon/desired.js'
import { nodeRecord } from './records.js'

const keys = Array.from({ length: 6 }, () => generateKeyPair().publicKey)
const rec = (i: number, over: Partial<NodeRecord> = {}): NodeRecord => nodeRecord(i, keys[i]!, over)
const map = (nodes: NodeRecord[]): Netmap => ({ epoch: 'e', version: 1, cidr: '100.64.0.0/10', nodes })

t.test('endpoint choice, table-driven', async (t) => {
  const cases: Array<[string, string[], string | null, string | null]> = [
    ['first advertised IP endpoint wins', ['198.18.1.1:51820', '198.18.9.9:1'], '203.0.113.1:9', '198.18.1.1:51820'],
    ['hostnames are skipped', ['node1.example:51820', '198.18.1.1:51820'], null, '198.18.1.1:51820'],
    ['observed is the fallback', [], '198.18.7.7:51820', '198.18.7.7:51820'],
    ['observed used when no advertised endpoint is an IP', ['host:1'], '198.18.7.7:51820', '198.18.7.7:51820'],
    ['IPv6 bracketed endpoints are accepted', ['[fd00::1]:51820'], null, '[fd00::1]:51820'],
    ['malformed entries are skipped', ['198.18.1.1', '198.18.1.1:0', '198.18.1.1:70000', ':5'], null, null],
    ['nothing usable: null', [], null, null]
  ]
  for (const [name, endpoints, observed, want] of cases) {
    t.equal(chooseEndpoint({ endpoints, observedEndpoint: observed }), want, name)
  }
})

t.test('desired peer set, table-driven', async (t) => {
  const cases: Array<{ name: string, nodes: NodeRecord[], down?: Liveness, peers: string[], excluded: Array<[string, string]> }> = [
    { name: 'everyone but self', nodes: [rec(0), rec(1), rec(2)], peers: ['n1', 'n2'], excluded: [['n0', 'self']] },
    {
      name: 'left and removed are excluded',
      nodes: [rec(0), rec(1, { health: 'left' }), rec(2, { health: 'removed' }), rec(3)],
      peers: ['n3'],
      excluded: [['n0', 'self'], ['n1', 'left'], ['n2', 'removed']]
    },
    {
      name: 'offline, mesh-lost and control-lost stay (only SWIM decides locally)',
      nodes: [rec(0), rec(1, { health: 'offline' }), rec(2, { health: 'mesh-lost' }), rec(3, { health: 'control-lost' })],
      peers: ['n1', 'n2', 'n3'],
      excluded: [['n0', 'self']]
    },
    {
      name: 'SWIM-dead excluded (Set)',
      nodes: [rec(0), rec(1), rec(2)],
      down: new Set(['n2']),
      peers: ['n1'],
      excluded: [['n0', 'self'], ['n2', 'swim-dead']]
    },
    {
      name: 'SWIM-dead excluded (predicate)',
      nodes: [rec(0), rec(1), rec(2)],
      down: (id) => id === 'n1',
      peers: ['n2'],
      excluded: [['n0', 'self'], ['n1', 'swim-dead']]
    },
    {
      name: 'bad key and bad mesh IP dropped',
      nodes: [rec(0), rec(1, { publicKey: 'garbage' }), rec(2, { meshIp: '100.64.0.300' }), rec(3)],
      peers: ['n3'],
      excluded: [['n0', 'self'], ['n1', 'invalid-key'], ['n2', 'invalid-mesh-ip']]
    },
    {
      name: 'duplicate key: lower id wins',
      nodes: [rec(0), rec(2, { publicKey: keys[1]! }), rec(1)],
      peers: ['n1'],
      excluded: [['n0', 'self'], ['n2', 'duplicate-key']]
    },
    {
      name: 'duplicate mesh IP: lower id wins',
      nodes: [rec(0), rec(1), rec(2, { meshIp: '100.64.0.2' })],
      peers: ['n1'],
      excluded: [['n0', 'self'], ['n2', 'duplicate-mesh-ip']]
    },
    {
      name: 'a record with our own key under another id is not a peer',
      nodes: [rec(0), rec(4, { publicKey: keys[0]! })],
      peers: [],
      excluded: [['n0', 'self'], ['n4', 'self']]
    },
    { name: 'self absent from the map: everyone is a peer', nodes: [rec(1), rec(2)], peers: ['n1', 'n2'], excluded: [] }
  ]
  for (const c of cases) {
    const d = desired(map(c.nodes), c.down ?? new Set(), 'n0')
    t.same(d.peers.map(p => p.nodeId).sort(), c.peers, `${c.name}: peers`)
    t.same(d.excluded.map(e => [e.nodeId, e.reason]), c.excluded, `${c.name}: exclusions`)
  }
})

t.test('a peer carries who it is (id, hostname), key, endpoint, /32 allowed IP and keepalive', async (t) => {
  const d = desired(map([rec(0), rec(1, { endpoints: [], observedEndpoint: '198.18.5.5:4242' })]), new Set(), 'n0', { keepaliveSeconds: 10 })
  t.same(d.peers, [{
    nodeId: 'n1',
    hostname: 'h1',
    meshIp: '100.64.0.2',
    publicKey: keys[1],
    endpoint: '198.18.5.5:4242',
    allowedIps: ['100.64.0.2/32'],
    keepaliveSeconds: 10,
    held: false
  }])
  t.equal(desired(map([rec(1)]), new Set(), 'n0').peers[0]!.keepaliveSeconds, 25, 'default keepalive 25 s')
})

t.test('held: a peer is held exactly when the other end initiates; without selfKey none is', async (t) => {
  const nodes = [0, 1, 2, 3, 4, 5].map(i => rec(i))
  const self = generateKeyPair().publicKey
  const d = desired(map(nodes), new Set(), 'nobody', { selfKey: self })
  t.equal(d.peers.length, 6)
  for (const p of d.peers) {
    t.equal(p.held, !initiates(self, p.publicKey),
      `${p.nodeId}: ${p.publicKey < self ? 'smaller key, it initiates: held' : 'larger key, we initiate: not held'}`)
    t.equal(p.keepaliveSeconds, 25, `${p.nodeId}: the keepalive arming sets is kept`)
  }
  t.equal(d.peers.filter(p => p.held).length, keys.filter(k => k < self).length, 'the peers with smaller keys')
  t.ok(desired(map(nodes), new Set(), 'n0').peers.every(p => p.held === false))
})

t.test('pure: same input gives equal output regardless of node order; input untouched', async (t) => {
  const nodes = [rec(3), rec(1), rec(0), rec(2)]
  const frozen = JSON.stringify(nodes)
  const a = desired(map(nodes), new Set(['n2']), 'n0')
  const b = desired(map([...nodes].reverse()), new Set(['n2']), 'n0')
  t.same(a, b)
  t.equal(JSON.stringify(nodes), frozen)
  const sorted = [...a.peers].sort((x, y) => (x.publicKey < y.publicKey ? -1 : 1))
  t.same(a.peers, sorted, 'peers sorted by public key')
})
