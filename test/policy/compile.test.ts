import t from 'tap'
import { compileFilter, filterTable, mergeRanges, replaceScript, updateScript, type CompiledFilter, type FilterNode } from '../../lib/policy/compile.js'
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

/** The rules of one chain, each named set replaced by its elements (`@s_...` -> `{ 100.64.0.1 }`). */
function chain (c: CompiledFilter, name: 'input' | 'forward'): string[] {
  return c.chains[name].map(r => r.replace(/@([sd]_[0-9a-f]+)/g, (_, set: string) => `{ ${/elements = \{ (.*) \} \}$/.exec(c.sets.get(set)!)![1]!} }`))
}

t.test('the input chain keeps only the rules whose destination is this node, sources in named sets', async (t) => {
  const c = compile(db)
  t.same(chain(c, 'input'), [
    'iifname != "wg0" accept',
    'ct state established ct direction reply accept',
    'ct state related accept',
    'ip saddr 100.64.0.0/10 udp dport 7946 accept comment "swim"',
    'ip saddr { 100.64.0.1-100.64.0.2 } meta l4proto tcp th dport 5432 accept comment "rule 0"',
    'ip saddr { 100.64.0.9 } meta l4proto { tcp, udp } th dport 22 accept comment "rule 1"',
    'ip saddr { 100.64.0.9 } meta l4proto icmp accept comment "rule 1"',
    'meta l4proto icmp accept comment "rule 2"',
    'meta l4proto { tcp, udp } add @drops { meta l4proto . th dport counter }',
    'counter name "dropped" drop'
  ], 'rule 3 names the office, rule 4 a tag no node carries: neither is here; web-1 and web-2 merge into one range')
  t.equal(c.sets.size, 2, 'rule 1\'s two lines share one set')
  t.same(chain(c, 'forward').slice(3), ['meta l4proto { tcp, udp } add @drops { meta l4proto . th dport counter }', 'counter name "dropped" drop'],
    'a node that routes nothing forwards nothing from the mesh')
  t.equal(c.rules, 4)
})

t.test('a filter is loaded whole once, then changed in place: sets both versions use, the drops set and the counter stay', async (t) => {
  const T = filterTable('wg0')
  const first = compile(db)
  const lines = replaceScript('wg0', first).split('\n')
  t.same(lines.slice(0, 5), [`table inet ${T} {}`, `delete table inet ${T}`, `table inet ${T} {`, '  counter dropped {}',
    '  set drops { type inet_proto . inet_service; flags dynamic; size 65535; }'])
  // bastion is renamed, so group:ops names nobody: rule 1 and its set go, rule 0's set stays.
  const next = compile(db, nodes.map(n => n === bastion ? { ...n, hostname: 'bastion-2' } : n))
  const update = updateScript('wg0', first, next).split('\n').filter(l => l !== '')
  const [kept, gone] = [...first.sets.keys()].sort((a, b) => next.sets.has(a) ? -1 : next.sets.has(b) ? 1 : 0)
  t.same(update.slice(0, 3), [`flush chain inet ${T} input`, `flush chain inet ${T} forward`, `delete set inet ${T} ${gone!}`])
  t.notOk(update.some(l => l.includes(kept!) && l.startsWith('add set')), 'a set both use is not touched')
  t.notOk(update.some(l => /drops \{|counter dropped/.test(l) && !l.startsWith('add rule')), 'neither is the drops set nor the counter')
  t.same(update.filter(l => l.startsWith(`add rule inet ${T} input`)).length, next.chains.input.length)
  t.equal(filterTable('weft.0-a'), 'weft_acl_weft_0_a')
})

t.test('a router filters what it forwards to the ranges it routes, by the rules that name them', async (t) => {
  const c = compile(router)
  const rule3 = 'ip saddr { 100.64.0.1-100.64.0.2 } ip daddr { 192.0.2.0-192.0.2.255 } meta l4proto { tcp, udp } th dport { 80, 443 } accept comment "rule 3"'
  const fwd = chain(c, 'forward')
  t.ok(fwd.includes(rule3), fwd.join('\n'))
  t.ok(fwd.includes('ip saddr { 100.64.0.9 } meta l4proto { tcp, udp } th dport 22 accept comment "rule 1"'), '`*:22` covers forwarded traffic too')
  t.ok(chain(c, 'input').includes(rule3), 'the router\'s own address on the routed LAN is reached through the input chain')
})

t.test('a source of * matches any address; a rule whose sources name no node is left out', async (t) => {
  const text = '{"tagOwners":{"tag:x":["autogroup:admin"]},"acls":[{"action":"accept","src":["tag:x","*"],"dst":["*:8080"],"proto":"udp"},' +
    '{"action":"accept","src":["tag:x"],"dst":["*:9090"]}]}'
  const input = chain(compile(db, nodes, text), 'input')
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
  t.equal(large.sets.size, small.sets.size)
  t.ok(large.elements > small.elements, 'only the sets hold more addresses')
})

t.test('ranges merge when they overlap or touch, and stay apart otherwise', async (t) => {
  t.same(mergeRanges([[5, 6], [1, 2], [3, 3], [10, 12], [11, 20], [21, 21]]), [[1, 3], [5, 6], [10, 21]])
  t.same(mergeRanges([]), [])
})
