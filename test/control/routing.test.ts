import t from 'tap'
import { advertise, decide, nodeRouting, parseAutoApprove, recordRouting, sameRouting, NO_AUTO_APPROVE } from '../../lib/control/routing.js'

const MESH = '100.64.0.0/10'
const ad = (routes: string[], exitNode = false, priority = 0): { routes: string[], exitNode: boolean, priority: number } => ({ routes, exitNode, priority })

t.test('an advertisement is checked, put in canonical order and needs approval before it is enabled', async (t) => {
  const r = advertise(undefined, ad(['198.51.100.0/24', '192.0.2.0/24', '192.0.2.0/24'], true, 5), MESH, NO_AUTO_APPROVE)
  t.same(r, { advertised: ['192.0.2.0/24', '198.51.100.0/24'], exit: true, priority: 5, approved: [], exitApproved: false })
  t.same(recordRouting(r), {}, 'nothing reaches the netmap before an approval')
  const ok = decide(r, ['192.0.2.0/24', 'exit'], [], MESH)
  t.same(recordRouting(ok), { routes: ['192.0.2.0/24'], exitNode: true, routePriority: 5 })
  t.same(nodeRouting(ok), {
    advertised: ['192.0.2.0/24', '198.51.100.0/24'],
    approved: ['192.0.2.0/24'],
    enabled: ['192.0.2.0/24'],
    exitNode: { advertised: true, approved: true },
    priority: 5
  })
})

t.test('an approval outlives a pause in the advertisement, a rejection withdraws it', async (t) => {
  let r = decide(undefined, ['192.0.2.0/24'], [], MESH)
  t.same(recordRouting(r), {}, 'approved before it is advertised: not enabled yet')
  r = advertise(r, ad(['192.0.2.0/24']), MESH, NO_AUTO_APPROVE)
  t.same(recordRouting(r), { routes: ['192.0.2.0/24'] })
  r = advertise(r, ad([]), MESH, NO_AUTO_APPROVE)
  t.same(recordRouting(r), {}, 'no longer advertised')
  r = advertise(r, ad(['192.0.2.0/24']), MESH, NO_AUTO_APPROVE)
  t.same(recordRouting(r), { routes: ['192.0.2.0/24'] }, 'advertised again: enabled again without another approval')
  r = decide(r, [], ['192.0.2.0/24'], MESH)
  t.same(recordRouting(r), {}, 'rejected')
  t.same(r.advertised, ['192.0.2.0/24'], 'the node may keep advertising it')
})

t.test('auto-approve covers routes inside its prefixes and exit nodes when it says so', async (t) => {
  const auto = parseAutoApprove(['192.0.2.0/24', ' exit '])
  const r = advertise(undefined, ad(['192.0.2.128/25', '198.51.100.0/24'], true), MESH, auto)
  t.same(r.approved, ['192.0.2.128/25'], 'inside the prefix, approved; outside it, not')
  t.equal(r.exitApproved, true)
  t.same(advertise(undefined, ad(['192.0.2.0/23']), MESH, auto).approved, [], 'a route wider than the prefix is not inside it')
  const any = parseAutoApprove(['0.0.0.0/0'])
  t.same(advertise(undefined, ad(['198.51.100.0/24']), MESH, any).approved, ['198.51.100.0/24'], '0.0.0.0/0 approves any subnet route')
  t.throws(() => parseAutoApprove(['192.0.2.1/24']), { code: 'WEFT_ERR_CONFIG', message: /--auto-approve-routes: 192\.0\.2\.1\/24 has host bits set; the network is 192\.0\.2\.0\/24/ })
})

t.test('bad routes are refused with the reason, naming the route', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['192.0.2.0', /is not an IPv4 CIDR/],
    ['192.0.2.0/33', /is not an IPv4 CIDR/],
    ['192.0.2.7/24', /host bits set; the network is 192\.0\.2\.0\/24/],
    ['0.0.0.0/0', /every address: advertise an exit node/],
    ['127.0.0.0/8', /loopback/],
    ['224.0.0.0/24', /multicast/],
    ['169.254.1.0/24', /link-local/],
    ['100.64.5.0/24', /overlaps the mesh range 100\.64\.0\.0\/10/],
    ['100.0.0.0/8', /overlaps the mesh range/]
  ]
  for (const [route, why] of bad) {
    t.throws(() => advertise(undefined, ad([route]), MESH, NO_AUTO_APPROVE), { code: 'WEFT_ERR_INVALID_INPUT', message: why }, route)
  }
  t.throws(() => decide(undefined, ['192.0.2.0/24'], ['192.0.2.0/24'], MESH), { message: /both approved and rejected/ })
  t.throws(() => advertise(undefined, ad(Array.from({ length: 65 }, (_, i) => `198.51.100.${i}/32`)), MESH, NO_AUTO_APPROVE), { message: /65 routes advertised; at most 64/ })
})

t.test('sameRouting compares every field', async (t) => {
  const a = advertise(undefined, ad(['192.0.2.0/24'], false, 1), MESH, NO_AUTO_APPROVE)
  t.ok(sameRouting(a, { ...a }))
  t.ok(sameRouting(undefined, advertise(undefined, ad([]), MESH, NO_AUTO_APPROVE)), 'no routing is an empty one')
  t.notOk(sameRouting(a, { ...a, priority: 2 }))
  t.notOk(sameRouting(a, { ...a, exit: true }))
  t.notOk(sameRouting(a, { ...a, approved: ['192.0.2.0/24'] }))
})
