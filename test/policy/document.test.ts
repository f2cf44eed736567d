import t from 'tap'
import { parsePolicy } from '../../lib/policy/document.js'

const GOOD = `{
  // Operators write comments,
  "groups": { "group:ops": ["alice-laptop", "bastion"] },
  "tagOwners": { "tag:web": ["autogroup:admin"], "tag:db": ["autogroup:admin"], },
  "hosts": { "office": "192.0.2.0/24", "printer": "198.51.100.7" },
  "acls": [
    { "action": "accept", "src": ["tag:web"], "dst": ["tag:db:5432"], "proto": "tcp" },
    { "action": "accept", "src": ["group:ops", "office"], "dst": ["*:22", "printer:631,9100", "203.0.113.0/24:1000-2000"] },
  ],
  "tests": [
    { "src": "tag:web", "accept": ["tag:db:5432"], "deny": ["tag:db:22"] },
  ],
}`

t.test('a document with comments and trailing commas parses into groups, tags, hosts, rules and tests', async (t) => {
  const p = parsePolicy(GOOD)
  t.same([...p.groups], [['group:ops', ['alice-laptop', 'bastion']]])
  t.same([...p.tagOwners.keys()], ['tag:web', 'tag:db'])
  t.same([...p.hosts], [['office', '192.0.2.0/24'], ['printer', '198.51.100.7/32']])
  t.equal(p.acls.length, 2)
  t.same(p.acls[0]!.src, [{ kind: 'tag', name: 'tag:web' }])
  t.same(p.acls[0]!.proto, ['tcp'])
  t.same(p.acls[1]!.proto, ['tcp', 'udp', 'icmp'], 'no proto: all three')
  t.same(p.acls[1]!.src, [{ kind: 'group', name: 'group:ops' }, { kind: 'host', name: 'office' }])
  t.same(p.acls[1]!.dst.map(d => [d.selector, d.ports]), [
    [{ kind: 'any' }, [{ from: 22, to: 22 }]],
    [{ kind: 'host', name: 'printer' }, [{ from: 631, to: 631 }, { from: 9100, to: 9100 }]],
    [{ kind: 'cidr', cidr: '203.0.113.0/24' }, [{ from: 1000, to: 2000 }]]
  ])
  t.same(p.acls[1]!.at, { line: 8, column: 5 }, 'each rule knows where it is')
  t.same(p.tests[0]!.accept, [{ selector: { kind: 'tag', name: 'tag:db' }, port: 5432 }])
  t.same(parsePolicy('{}').acls, [], 'an empty policy has no rules')
})

t.test('each mistake is refused with its line and column and what is wrong', async (t) => {
  const bad = (text: string, re: RegExp, why: string): void => {
    t.throws(() => parsePolicy(text), { code: 'WEFT_ERR_POLICY', message: re }, why)
  }
  bad('{ "acls": [ }', /^1:13: not valid JSON: value expected/, 'syntax')
  bad('[]', /^1:1: the policy must be a JSON object/, 'not an object')
  bad('{\n  "acl": []\n}', /^2:3: unknown section "acl"/, 'a typo in a section')
  bad('{ "acls": [{ "action": "accept", "src": ["tag:web"], "dst": ["*:*"] }] }', /^1:42: tag:web is not defined in "tagOwners"/, 'an undefined tag')
  bad('{ "acls": [{ "action": "accept", "src": ["group:x"], "dst": ["*:*"] }] }', /group:x is not defined in "groups"/, 'an undefined group')
  bad('{ "acls": [{ "action": "accept", "src": ["*"], "dst": ["tag:db"] }] }', /"tag:db" needs its ports/, 'a destination without ports')
  bad('{ "acls": [{ "action": "accept", "src": ["*"], "dst": ["*:70000"] }] }', /"70000" in "\*:70000" is not a port/, 'a port out of range')
  bad('{ "acls": [{ "action": "accept", "src": ["*"], "dst": ["*:20-10"] }] }', /is not a port, a range/, 'a backwards range')
  bad('{ "acls": [{ "action": "deny", "src": ["*"], "dst": ["*:*"] }] }', /"action" must be "accept"/, 'deny rules')
  bad('{ "acls": [{ "action": "accept", "src": ["*"], "dst": ["*:*"], "ports": [] }] }', /unknown field "ports"/, 'an unknown field')
  bad('{ "acls": [{ "action": "accept", "src": ["192.0.2.7/24"], "dst": ["*:*"] }] }', /not an IPv4 address or CIDR \(CIDRs have no host bits set\)/, 'host bits')
  bad('{ "acls": [{ "action": "accept", "src": ["*"], "dst": ["*:*"], "proto": "sctp" }] }', /"proto" must be one of tcp, udp, icmp/, 'a protocol')
  bad('{ "tagOwners": { "tag:web": ["alice"] } }', /tag owners can only be "autogroup:admin"/, 'tag owners')
  bad('{ "hosts": { "office": "192.0.2.0/33" } }', /host office: "192.0.2.0\/33" is not an IPv4 address or CIDR/, 'a host')
  bad('{ "groups": { "ops": [] } }', /"ops" is not a group name such as group:ops/, 'a group name')
  bad('{ "groups": { "group:ops": [], "group:ops": [] } }', /"group:ops" appears twice in "groups"/, 'a duplicate')
  bad('{ "tests": [{ "src": "*", "accept": ["*:1-2"] }] }', /a test names one port/, 'a test with a range')
  bad('{ "acls": [{ "action": "accept", "src": ["autogroup:member"], "dst": ["*:*"] }] }', /no autogroups in rules/, 'autogroups')
  bad('{ "acls": [] }' + ' '.repeat(1 << 20), /larger than/, 'a document too large')
})
