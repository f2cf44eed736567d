import t from 'tap'
import { compileFilter, filterTable, mergeRanges, type FilterNode } from '../../lib/policy/compile.js'
import { parsePolicy } from '../../lib/policy/document.js'
import { formatIPv4 } from '../../lib/wire/addr.js'

const POLICY = `{
  "groups": { "group:ops": ["bastion"] },
  "tagOwners": { "tag:web": ["autogroup:admin"], "tag:db": ["autogroup:admin"], "tag:nobody": ["autogroup:admin"] },
  "hosts": { "office": "192.0.2.0/24" },
  "acls": [
    { "action": "accept", "src": ["tag:web"], "dst": ["tag:db:5432"], "proto": "tcp" },
    { "action": "accept", "src": ["group:ops"], "dst": ["*:22"] },
    { "action": "accept", "src": ["*"], "dst": ["*:*"], "proto": "icmp" },
    { "action": "accept", "src": ["tag:web"], "dst": ["office:80,443"] },
    { "action": "accept", "src": ["tag:nobody"], "dst": ["*:*"] },
  ],
}`

const web1: FilterNode = { hostname: 'web-1', meshIp: '100.64.0.1', tags: ['tag:web'] }
const web2: FilterNode = { hostname: 'web-2', meshIp: '100.64.0.2', tags: ['tag:web'] }
const db: FilterNode = { hostname: 'db-1', meshIp: '100.64.0.3', tags: ['tag:db'] }
const bastion: FilterNode = { hostname: 'bastion', meshIp: '100.64.0.9' }
const router: FilterNode = { hostname: 'gw', meshIp: '100.64.0.20', routes: ['192.0.2.0/24'] }
const nodes = [web1, web2, db, bastion, router]

function compile (self: FilterNode, all: readonly FilterNode[] = nodes, text = POLICY): ReturnType<typeof compileFilter> {
  return compileFilter({ policy: parsePolicy(text), nodes: all, self, ifname: 'wg0', meshCidr: '100.64.0.0/10', swimPort: 7946 })
}

/** The rules of one chain, as written. */
function chain (script: string, name: string): string[] {
  const body = script.split(`chain ${name} {`)[1]!.split('\n  }')[0]!
  return body.split('\n').map(l => l.trim()).filter(l => l !== '')
}

t.test('the input chain keeps only the rules whose destination is this node, sources in named sets', async (t) => {
  const c = compile(db)
  const input = chain(c.script, 'input')
  t.same(input, [
    'type filter hook input priority filter; policy accept;',
    'iifname != "wg0" accept',
    'ct state established ct direction reply accept',
    'ct state related accept',
    'ip saddr 100.64.0.0/10 udp dport 7946 accept comment "swim"',
    'ip saddr @s0 meta l4proto tcp th dport 5432 accept comment "rule 0"',
    'ip saddr @s1 meta l4proto { tcp, udp } th dport 22 accept comment "rule 1"',
    'ip saddr @s1 meta l4proto icmp accept comment "rule 1"',
    'meta l4proto icmp accept comment "rule 2"',
    'meta l4proto { tcp, udp } add @drops { meta l4proto . th dport counter }',
    'counter drop comment "default drop"'
  ], 'rule 3 names the office, rule 4 a tag no node carries: neither is here')
  t.match(c.script, /set s0 \{ type ipv4_addr; flags interval; elements = \{ 100\.64\.0\.1-100\.64\.0\.2 \} \}/, 'web-1 and web-2 merge into one range')
  t.match(c.script, /set s1 \{ type ipv4_addr; flags interval; elements = \{ 100\.64\.0\.9 \} \}/)
  const drop = ['meta l4proto { tcp, udp } add @drops { meta l4proto . th dport counter }', 'counter drop comment "default drop"']
  t.same(chain(c.script, 'forward').slice(4), drop,
    'a node that routes nothing forwards nothing from the mesh')
  t.equal(c.rules, 4)
})

t.test('the script replaces the table whole, in one transaction that works whether or not it exists', async (t) => {
  const lines = compile(db).script.split('\n')
  t.same(lines.slice(0, 3), [`table inet ${filterTable('wg0')} {}`, `delete table inet ${filterTable('wg0')}`, `table inet ${filterTable('wg0')} {`])
  t.equal(filterTable('weft.0-a'), 'weft_acl_weft_0_a')
})

t.test('a router filters what it forwards to the ranges it routes, by the rules that name them', async (t) => {
  const c = compile(router)
  const fwd = chain(c.script, 'forward')
  t.ok(fwd.includes('ip saddr @s2 ip daddr @d1 meta l4proto { tcp, udp } th dport { 80, 443 } accept comment "rule 3"'), fwd.join('\n'))
  t.ok(fwd.includes('ip saddr @s0 meta l4proto { tcp, udp } th dport 22 accept comment "rule 1"'), '`*:22` covers forwarded traffic too')
  t.match(c.script, /set d1 \{ type ipv4_addr; flags interval; elements = \{ 192\.0\.2\.0-192\.0\.2\.255 \} \}/)
  t.ok(chain(c.script, 'input').includes('ip saddr @s2 ip daddr @d1 meta l4proto { tcp, udp } th dport { 80, 443 } accept comment "rule 3"'),
    'the router\'s own address on the routed LAN is reached through the input chain')
})

t.test('a source of * matches any address; a rule whose sources name no node is left out', async (t) => {
  const text = '{"tagOwners":{"tag:x":["autogroup:admin"]},"acls":[{"action":"accept","src":["tag:x","*"],"dst":["*:8080"],"proto":"udp"},' +
    '{"action":"accept","src":["tag:x"],"dst":["*:9090"]}]}'
  const input = chain(compile(db, nodes, text).script, 'input')
  t.ok(input.includes('meta l4proto udp th dport 8080 accept comment "rule 0"'))
  t.notOk(input.some(l => l.includes('9090')))
})

t.test('rules grow with the policy, not with the mesh: 10 times the nodes, the same rules and sets', async (t) => {
  const mesh = (n: number): FilterNode[] => Array.from({ length: n }, (_, i) => ({
    hostname: `n${i}`, meshIp: formatIPv4(0x64400001 + i * 2), tags: [i % 2 === 0 ? 'tag:web' : 'tag:db']
  }))
  const small = compile(mesh(100)[1]!, mesh(100))
  const large = compile(mesh(1000)[1]!, mesh(1000))
  t.equal(large.rules, small.rules)
  t.equal(large.sets, small.sets)
  t.ok(large.elements > small.elements, 'only the sets hold more addresses')
})

t.test('ranges merge when they overlap or touch, and stay apart otherwise', async (t) => {
  t.same(mergeRanges([[5, 6], [1, 2], [3, 3], [10, 12], [11, 20], [21, 21]]), [[1, 3], [5, 6], [10, 21]])
  t.same(mergeRanges([]), [])
})
