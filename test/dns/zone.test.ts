import t from 'tap'
import { buildZone, normalizeName, parseReverseName, reverseApexOf, reverseNameOf, type Zone } from '../../lib/dns/zone.js'
import { parseCidr, parseIPv4 } from '../../lib/wire/addr.js'
import { namedNode, netmapOf } from './helpers.js'

const POLICY = `{
  // hosts: two single addresses, one range, one on a node's address, one named like a node
  "hosts": {
    "printer": "100.64.9.9",
    "db.prod": "100.64.9.10",
    "lab": "198.18.0.0/16",
    "alias": "100.64.0.1/32",
    "web": "100.64.9.11",
    "Upper": "100.64.9.12",
  },
  "acls": [],
}`

const nodes = [
  namedNode(0, 'web', '100.64.0.1'),
  namedNode(1, 'DB', '100.64.0.2'),
  namedNode(2, undefined, '100.64.0.3'),
  namedNode(3, 'bad.label', '100.64.0.4'),
  namedNode(4, 'web', '100.64.0.5'),
  namedNode(5, 'api', 'not-an-ip')
]

function mustZone (z: Zone | null): Zone {
  if (z === null) throw new Error('expected a zone')
  return z
}

t.test('a netmap without a DNS domain, or with one that is not a name, has no zone', async t => {
  t.equal(buildZone(netmapOf(nodes, { domain: null })), null)
  t.equal(buildZone(netmapOf(nodes, { domain: '' })), null)
  t.equal(buildZone(netmapOf(nodes, { domain: 'not a name' })), null)
})

t.test('names: nodes and single-address hosts, lower case, nodes first', async t => {
  const zone = mustZone(buildZone(netmapOf(nodes, { domain: 'Weft.Internal.', policy: POLICY })))
  t.equal(zone.domain, 'weft.internal')
  t.same(zone.cidr, parseCidr('100.64.0.0/10'))
  t.equal(zone.serial, 7)
  const cases: Array<[string, string | undefined, string]> = [
    ['web.weft.internal', '100.64.0.1', 'a node'],
    ['db.weft.internal', '100.64.0.2', 'a node name is stored lower-case'],
    ['host2.weft.internal', undefined, 'a node without a name has none (its hostname is not one)'],
    ['bad.label.weft.internal', undefined, 'a node name that is not one label is left out'],
    ['api.weft.internal', undefined, 'a node whose mesh IP does not parse is left out'],
    ['printer.weft.internal', '100.64.9.9', 'a /32 host'],
    ['db.prod.weft.internal', '100.64.9.10', 'a host with a dot in its name'],
    ['lab.weft.internal', undefined, 'a wider CIDR gets no name'],
    ['alias.weft.internal', '100.64.0.1', 'a host on a node address still gets its name'],
    ['upper.weft.internal', '100.64.9.12', 'host names are lower-cased']
  ]
  for (const [name, ip, why] of cases) t.equal(zone.names.get(name), ip, why)
  t.equal(zone.names.get('web.weft.internal'), '100.64.0.1', 'the first node keeps a duplicate name; the host of that name loses too')
  t.equal(zone.nameCount, 6)
  t.equal(zone.skipped, 4, 'bad label, duplicate node name, bad IP, host named like a node; the range is not a name')
  t.ok(zone.interior.has('prod.weft.internal'), 'the parent of db.prod exists without records')
})

t.test('reverse: node addresses name the node, host addresses the host unless a node has the address', async t => {
  const zone = mustZone(buildZone(netmapOf(nodes, { policy: POLICY })))
  const cases: Array<[string, string | undefined]> = [
    ['100.64.0.1', 'web.weft.internal'],
    ['100.64.0.2', 'db.weft.internal'],
    ['100.64.0.5', undefined],
    ['100.64.9.9', 'printer.weft.internal'],
    ['100.64.9.11', undefined]
  ]
  for (const [ip, name] of cases) t.equal(zone.reverse.get(ip), name, ip)
  t.equal(zone.reverseApex, '100.in-addr.arpa')
})

t.test('a policy that does not parse is ignored: the zone has the nodes only', async t => {
  const zone = mustZone(buildZone(netmapOf(nodes, { policy: '{ "hosts": { "x": "not an address" } }' })))
  t.same([...zone.names.keys()].sort(), ['db.weft.internal', 'web.weft.internal'])
})

t.test('the next build reuses the policy hosts while the policy text is unchanged', async t => {
  const first = mustZone(buildZone(netmapOf(nodes, { policy: POLICY })))
  const second = mustZone(buildZone(netmapOf(nodes.slice(0, 2), { policy: POLICY }), first))
  t.equal(second.policyHosts, first.policyHosts, 'same parsed hosts object')
  t.equal(second.names.get('printer.weft.internal'), '100.64.9.9')
  const third = mustZone(buildZone(netmapOf(nodes, { policy: POLICY.replace('100.64.9.9', '100.64.9.8') }), second))
  t.not(third.policyHosts, first.policyHosts)
  t.equal(third.names.get('printer.weft.internal'), '100.64.9.8')
})

t.test('with the previous zone, an address is still checked when it changed', async t => {
  const first = mustZone(buildZone(netmapOf([namedNode(0, 'web', '100.64.0.1')])))
  const moved = mustZone(buildZone(netmapOf([namedNode(0, 'web', '100.64.0.7')]), first))
  t.equal(moved.names.get('web.weft.internal'), '100.64.0.7')
  t.equal(moved.reverse.get('100.64.0.7'), 'web.weft.internal')
  const broken = mustZone(buildZone(netmapOf([namedNode(0, 'web', '100.64.0.300')]), moved))
  t.equal(broken.nameCount, 0)
  t.equal(broken.skipped, 1)
})

t.test('a netmap CIDR that does not parse leaves forward names and no reverse', async t => {
  const zone = mustZone(buildZone(netmapOf(nodes, { cidr: 'nonsense' })))
  t.equal(zone.cidr, null)
  t.equal(zone.reverseApex, null)
  t.equal(zone.names.get('web.weft.internal'), '100.64.0.1')
})

t.test('name helpers', async t => {
  const norm: Array<[string, string | null]> = [
    ['Web.Weft.Internal.', 'web.weft.internal'], ['', ''], ['.', ''], ['a..b', null], ['a b', null], [`${'a'.repeat(64)}.x`, null],
    [`${'a.'.repeat(127)}a`, null], ['_srv._tcp.x', '_srv._tcp.x']
  ]
  for (const [input, want] of norm) t.equal(normalizeName(input), want, JSON.stringify(input))
  const rev: Array<[string, number | null]> = [
    ['1.0.64.100.in-addr.arpa', parseIPv4('100.64.0.1')], ['0.64.100.in-addr.arpa', null], ['01.0.64.100.in-addr.arpa', null],
    ['256.0.64.100.in-addr.arpa', null], ['1.0.64.100.ip6.arpa', null], ['x.1.0.64.100.in-addr.arpa', null]
  ]
  for (const [input, want] of rev) t.equal(parseReverseName(input), want, input)
  t.equal(reverseNameOf(parseIPv4('100.64.1.2')!), '2.1.64.100.in-addr.arpa')
  const apex: Array<[string, string]> = [['100.64.0.0/10', '100.in-addr.arpa'], ['127.0.0.0/8', '127.in-addr.arpa'],
    ['10.1.2.0/24', '2.1.10.in-addr.arpa'], ['0.0.0.0/0', 'in-addr.arpa']]
  for (const [cidr, want] of apex) t.equal(reverseApexOf(parseCidr(cidr)!), want, cidr)
})

t.test('ten thousand nodes build in well under a second', async t => {
  const many = Array.from({ length: 10_000 }, (_, i) => namedNode(i, `node-${i}`, `100.64.${i >> 8}.${i & 255}`))
  const t0 = performance.now()
  const zone = mustZone(buildZone(netmapOf(many)))
  t.equal(zone.nameCount, 10_000)
  t.ok(performance.now() - t0 < 1000, 'a sanity bound; bench/dns.ts measures it')
})
