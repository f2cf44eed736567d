import t from 'tap'
import { parsePolicy } from '../../lib/policy/document.js'
import type { PolicyNode } from '../../lib/policy/evaluate.js'
import { askPolicy, splitDestination } from '../../lib/policy/query.js'

const policy = parsePolicy(`{
  "groups": { "group:ops": ["bastion", "laptop"] },
  "tagOwners": { "tag:web": ["autogroup:admin"], "tag:db": ["autogroup:admin"] },
  "hosts": { "office": "192.0.2.0/24" },
  "acls": [
    { "action": "accept", "src": ["tag:web"], "dst": ["tag:db:5432"], "proto": "tcp" },
    { "action": "accept", "src": ["group:ops", "office"], "dst": ["*:22"] },
  ],
}`)
const nodes: PolicyNode[] = [
  { name: 'web', ip: '100.64.0.2', tags: ['tag:web'] },
  { name: 'web', ip: '100.64.0.5', tags: [] },
  { name: 'db-1', ip: '100.64.0.3', tags: ['tag:db'] },
  { name: 'bastion', ip: '100.64.0.4', tags: [] }
]

t.test('a name stands for every node that has it, with its own tags; each pair gets its answer and deciding rule', async (t) => {
  t.same(askPolicy(policy, nodes, 'web', 'db-1:5432', 'tcp'), {
    port: 5432,
    flows: [
      { src: 'web (100.64.0.2)', dst: 'db-1 (100.64.0.3)', accept: true, rule: 0, line: 6 },
      { src: 'web (100.64.0.5)', dst: 'db-1 (100.64.0.3)', accept: false, rule: null, line: null }
    ]
  }, 'two nodes called web: the tagged one is accepted, the other is not')
  t.same(askPolicy(policy, nodes, '100.64.0.4', '100.64.0.3:22', 'udp').flows,
    [{ src: 'bastion (100.64.0.4)', dst: 'db-1 (100.64.0.3)', accept: true, rule: 1, line: 7 }], 'a mesh IP is its node')
  t.same(askPolicy(policy, nodes, 'group:ops', 'db-1:22', 'tcp').flows.map(f => [f.src, f.accept]),
    [['bastion (100.64.0.4)', true], ['laptop (no such node)', true]], 'a group is each member, known or not')
  t.same(askPolicy(policy, nodes, 'office', 'web:22', 'tcp').flows.map(f => [f.src, f.dst, f.rule]),
    [['office', 'web (100.64.0.2)', 1], ['office', 'web (100.64.0.5)', 1]], 'a host is its first address')
  t.same(askPolicy(policy, nodes, 'tag:web', 'tag:db:5432', 'tcp').flows, [{ src: 'tag:web', dst: 'tag:db', accept: true, rule: 0, line: 6 }],
    'a tag is a node carrying it')
  t.same(askPolicy(policy, nodes, '*', 'db-1', 'icmp'), { port: 0, flows: [{ src: '*', dst: 'db-1 (100.64.0.3)', accept: false, rule: null, line: null }] })
  t.same(askPolicy(policy, nodes, '198.51.100.0/24', 'db-1:22', 'tcp').flows.map(f => f.accept), [false], 'an address outside every rule')
})

t.test('names nothing knows and destinations without a port are refused with the reason', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['ghost', 'db-1:22', /"ghost" is not the hostname or mesh IP of any node, nor "\*", a group, tag or host of the policy/],
    ['web', 'ghost:22', /"ghost" is not/],
    ['group:dev', 'db-1:22', /group:dev is not defined in the policy's "groups"/],
    ['tag:', 'db-1:22', /"tag:" is not a tag/],
    ['192.0.2.1/24', 'db-1:22', /"192\.0\.2\.1\/24" is not/],
    ['web', 'db-1', /destination "db-1" needs one port, 0-65535/],
    ['web', 'db-1:65536', /needs one port/]
  ]
  for (const [src, dst, why] of cases) {
    t.throws(() => askPolicy(policy, nodes, src, dst, 'tcp'), { code: 'WEFT_ERR_INVALID_INPUT', message: why }, `${src} ${dst}`)
  }
  t.same(splitDestination('tag:db:5432', 'tcp'), { name: 'tag:db', port: 5432 })
  t.same(splitDestination('tag:db', 'icmp'), { name: 'tag:db', port: 0 }, 'ICMP needs no port')
  t.same(splitDestination('192.0.2.0/24:0', 'udp'), { name: '192.0.2.0/24', port: 0 })
})
