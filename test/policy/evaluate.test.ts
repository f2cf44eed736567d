import t from 'tap'
import { parsePolicy } from '../../lib/policy/document.js'
import { decide, endpointsOf, nodeEndpoint, runTests, type PolicyNode } from '../../lib/policy/evaluate.js'

const policy = parsePolicy(`{
  "groups": { "group:ops": ["bastion"] },
  "tagOwners": { "tag:web": ["autogroup:admin"], "tag:db": ["autogroup:admin"] },
  "hosts": { "office": "192.0.2.0/24" },
  "acls": [
    { "action": "accept", "src": ["tag:web"], "dst": ["tag:db:5432"], "proto": "tcp" },
    { "action": "accept", "src": ["group:ops", "office"], "dst": ["*:22"] },
    { "action": "accept", "src": ["*"], "dst": ["*:0"], "proto": "icmp" },
  ],
}`)
const nodes: PolicyNode[] = [
  { name: 'web-1', ip: '100.64.0.2', tags: ['tag:web'] },
  { name: 'db-1', ip: '100.64.0.3', tags: ['tag:db'] },
  { name: 'bastion', ip: '100.64.0.4', tags: [] }
]
const [web, db, bastion] = nodes.map(nodeEndpoint) as [ReturnType<typeof nodeEndpoint>, ReturnType<typeof nodeEndpoint>, ReturnType<typeof nodeEndpoint>]

t.test('the first matching rule accepts; with none, the flow is dropped', async (t) => {
  t.same(decide(policy, web, db, 'tcp', 5432), { accept: true, rule: 0 })
  t.same(decide(policy, web, db, 'tcp', 22), { accept: false, rule: null }, 'tag:web has no rule for 22')
  t.same(decide(policy, web, db, 'udp', 5432), { accept: false, rule: null }, 'rule 0 is TCP only')
  t.same(decide(policy, bastion, db, 'tcp', 22), { accept: true, rule: 1 }, 'a group member')
  t.same(decide(policy, db, web, 'tcp', 5432), { accept: false, rule: null }, 'rules have a direction')
  t.same(decide(policy, db, web, 'icmp', 0), { accept: true, rule: 2 }, 'ICMP ignores ports')
  const office = endpointsOf({ kind: 'host', name: 'office' }, policy, nodes)[0]!
  t.same(decide(policy, office, db, 'tcp', 22), { accept: true, rule: 1 }, 'an address inside a host range')
})

t.test('tests hold, or fail naming the test, the flow and the rule that decides', async (t) => {
  t.equal(runTests(parsePolicy(`{
    "tagOwners": { "tag:web": ["autogroup:admin"], "tag:db": ["autogroup:admin"] },
    "acls": [{ "action": "accept", "src": ["tag:web"], "dst": ["tag:db:5432"] }],
    "tests": [{ "src": "tag:web", "accept": ["tag:db:5432"], "deny": ["tag:db:22"] }]
  }`)), 1)
  t.throws(() => runTests(parsePolicy(`{
    "tagOwners": { "tag:web": ["autogroup:admin"], "tag:db": ["autogroup:admin"] },
    "acls": [{ "action": "accept", "src": ["tag:web"], "dst": ["tag:db:*"] }],
    "tests": [
      { "src": "tag:web", "deny": ["tag:db:22"] }
    ]
  }`)), { code: 'WEFT_ERR_POLICY', message: /^5:7: test 0 fails: tag:web -> tag:db:22\/tcp should be denied, but rule 0 \(line 3\) accepts it/ })
  t.throws(() => runTests(parsePolicy(`{
    "groups": { "group:ops": ["bastion"] },
    "tests": [{ "src": "group:ops", "accept": ["192.0.2.9:22"] }]
  }`)), { message: /test 0 fails: group:ops -> 192\.0\.2\.9\/32:22\/tcp should be accepted, but no rule accepts it/ })
  t.equal(runTests(parsePolicy(`{
    "acls": [{ "action": "accept", "src": ["100.64.0.2"], "dst": ["db-1:5432"] }],
    "tests": [{ "src": "web-1", "accept": ["db-1:5432"] }]
  }`), nodes), 1, 'with the nodes known, a node name stands for its address and tags')
})
