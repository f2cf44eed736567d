import t from 'tap'
import { acceptedRoutes, choosePrimaries, exitState, findNode, withRoutes, type RouteChoiceInput } from '../../lib/daemon/route-choice.js'
import { desired } from '../../lib/daemon/desired.js'
import { generateKeyPair } from '../../lib/wire/keys.js'
import type { NodeRecord } from '../../lib/wire/netmap.js'
import { nodeRecord } from './records.js'

const LAN = '192.0.2.0/24'
const HOLD = 10_000

/** n0 is us; n1, n2, n3 route LAN (n1 and n2 at `prio`, n3 at 0). */
function mesh (prio: { n1?: number, n2?: number } = {}): NodeRecord[] {
  return [
    nodeRecord(0, generateKeyPair().publicKey),
    nodeRecord(1, generateKeyPair().publicKey, { routes: [LAN], routePriority: prio.n1 }),
    nodeRecord(2, generateKeyPair().publicKey, { routes: [LAN], routePriority: prio.n2 }),
    nodeRecord(3, generateKeyPair().publicKey, { routes: [LAN, '198.51.100.0/24'] })
  ].map(n => n.routePriority === undefined ? (({ routePriority: _, ...rest }) => rest)(n) : n)
}

function input (nodes: NodeRecord[], o: Partial<RouteChoiceInput> = {}): RouteChoiceInput {
  const base = { selfId: 'n0', down: new Set<string>(), aliveSince: new Map(), now: 100_000, holdDownMs: HOLD, previous: new Map(), own: [] }
  return { nodes, ...base, acceptRoutes: true, exitNode: 'none', ...o }
}

t.test('the highest priority carries a route, node id breaks ties, the same on every node', async (t) => {
  const nodes = mesh({ n2: 5 })
  const c = choosePrimaries(input(nodes))
  t.equal(c.primaries.get(LAN), 'n2', 'priority first')
  t.equal(c.primaries.get('198.51.100.0/24'), 'n3')
  t.same(c.changes.map(x => [x.route, x.to, x.reason]), [[LAN, 'n2', 'first'], ['198.51.100.0/24', 'n3', 'first']])
  t.equal(choosePrimaries(input(mesh())).primaries.get(LAN), 'n1', 'equal priority: the smaller node id')
  t.equal(choosePrimaries(input([...nodes].reverse())).primaries.get(LAN), 'n2', 'the netmap order does not matter')
  t.equal(choosePrimaries({ ...input(nodes), selfId: 'n1' }).primaries.get(LAN), 'n2', 'another node decides the same')
})

t.test('when SWIM holds the primary down the route moves in the same choice, and comes back only after the hold-down', async (t) => {
  const nodes = mesh({ n1: 5 })
  let c = choosePrimaries(input(nodes))
  t.equal(c.primaries.get(LAN), 'n1')
  c = choosePrimaries(input(nodes, { down: new Set(['n1']), previous: c.primaries }))
  t.equal(c.primaries.get(LAN), 'n2', 'failed over at once, no waiting')
  t.same(c.changes, [{ route: LAN, from: 'n1', to: 'n2', reason: 'primary-down' }])
  t.equal(c.recheckAt, null)

  const back = 200_000
  const since = new Map([['n1', back]])
  c = choosePrimaries(input(nodes, { aliveSince: since, now: back + 1, previous: c.primaries }))
  t.equal(c.primaries.get(LAN), 'n2', 'n1 is back but has not stayed up for the hold-down: n2 keeps the route')
  t.same(c.changes, [])
  t.equal(c.recheckAt, back + HOLD, 'the daemon is told when to choose again')
  c = choosePrimaries(input(nodes, { aliveSince: since, now: back + HOLD - 1, previous: c.primaries }))
  t.equal(c.primaries.get(LAN), 'n2')
  c = choosePrimaries(input(nodes, { aliveSince: since, now: back + HOLD, previous: c.primaries }))
  t.equal(c.primaries.get(LAN), 'n1', 'after the hold-down the better router takes its route back')
  t.same(c.changes, [{ route: LAN, from: 'n2', to: 'n1', reason: 'better-router' }])
})

t.test('with the primary gone, a settled router is preferred to a better one that just came back; none settled, the best one', async (t) => {
  const nodes = mesh({ n1: 5, n2: 3 })
  const since = new Map([['n1', 95_000]])
  let c = choosePrimaries(input(nodes, { down: new Set(['n2']), previous: new Map([[LAN, 'n2']]), aliveSince: since }))
  t.equal(c.primaries.get(LAN), 'n3', 'n1 came back 5 s ago: the settled n3 takes it')
  t.equal(c.recheckAt, 95_000 + HOLD)
  c = choosePrimaries(input(nodes, { down: new Set(['n2', 'n3']), previous: new Map([[LAN, 'n2']]), aliveSince: since }))
  t.equal(c.primaries.get(LAN), 'n1', 'the only live router carries the route even within its hold-down')
})

t.test('a route with no live router, a withdrawn route, our own routes and records that are not peers', async (t) => {
  const nodes = mesh()
  const c = choosePrimaries(input(nodes, { down: new Set(['n1', 'n2', 'n3']), previous: new Map([[LAN, 'n1']]) }))
  t.equal(c.primaries.size, 0)
  t.same(c.changes, [{ route: LAN, from: 'n1', to: null, reason: 'primary-down' }])
  const withdrawn = choosePrimaries(input(nodes.map(n => ({ ...n, routes: undefined })), { previous: new Map([[LAN, 'n1']]) }))
  t.same(withdrawn.changes, [{ route: LAN, from: 'n1', to: null, reason: 'withdrawn' }])
  t.notOk(choosePrimaries(input(nodes, { own: [LAN] })).primaries.has(LAN), 'a route we advertise ourselves never goes into the tunnel')
  const left = nodes.map(n => n.id === 'n1' ? { ...n, health: 'left' as const } : n)
  t.equal(choosePrimaries(input(left)).primaries.get(LAN), 'n2', 'a node that left carries nothing')
  t.same(acceptedRoutes(nodes, 'n0', []), [LAN, '198.51.100.0/24'])
  t.same(acceptedRoutes(nodes, 'n0', [LAN]), ['198.51.100.0/24'], 'the kernel never sends our own LAN into the tunnel')
  t.same(acceptedRoutes(nodes, 'n3', []), [LAN], 'a router uses other routers\' routes, not the ones its own record carries')
})

t.test('withRoutes puts each route after its primary\'s own /32 and leaves every other peer as it is', async (t) => {
  const nodes = mesh()
  const cfg = desired({ epoch: 'e', version: 1, cidr: '100.64.0.0/10', nodes }, new Set(), 'n0')
  const out = withRoutes(cfg, new Map([[LAN, 'n2'], ['198.51.100.0/24', 'n2']]))
  const n2 = out.peers.find(p => p.nodeId === 'n2')!
  t.same(n2.allowedIps, ['100.64.0.3/32', '192.0.2.0/24', '198.51.100.0/24'])
  for (const p of out.peers.filter(p => p.nodeId !== 'n2')) t.equal(p, cfg.peers.find(q => q.nodeId === p.nodeId), `${p.nodeId} untouched`)
  t.same(withRoutes(cfg, new Map([[LAN, 'n9']])).peers.flatMap(p => p.allowedIps).filter(a => a === LAN), [], 'a primary that is not a peer gets nothing')
})

const ANY = '0.0.0.0/0'

/** n0 is us; n1 (priority 5) and n2 offer themselves as exit nodes, n3 does not. */
function exits (): NodeRecord[] {
  return [
    nodeRecord(0, generateKeyPair().publicKey),
    nodeRecord(1, generateKeyPair().publicKey, { exitNode: true, routePriority: 5 }),
    nodeRecord(2, generateKeyPair().publicKey, { exitNode: true }),
    nodeRecord(3, generateKeyPair().publicKey, { routes: [LAN] })
  ]
}

t.test('exit auto: the best live exit node carries 0.0.0.0/0, fails over like a route and takes it back after the hold-down', async (t) => {
  const nodes = exits()
  let c = choosePrimaries(input(nodes, { exitNode: 'auto' }))
  t.equal(c.primaries.get(ANY), 'n1', 'priority first')
  t.equal(c.primaries.get(LAN), 'n3', 'subnet routes are chosen alongside')
  c = choosePrimaries(input(nodes, { exitNode: 'auto', down: new Set(['n1']), previous: c.primaries }))
  t.equal(c.primaries.get(ANY), 'n2')
  t.same(c.changes.find(x => x.route === ANY), { route: ANY, from: 'n1', to: 'n2', reason: 'primary-down' })
  const back = choosePrimaries(input(nodes, { exitNode: 'auto', previous: c.primaries, aliveSince: new Map([['n1', 100_000]]) }))
  t.equal(back.primaries.get(ANY), 'n2', 'a returning exit node waits for the hold-down')
  t.equal(back.recheckAt, 100_000 + HOLD)
  t.notOk(choosePrimaries(input(nodes)).primaries.has(ANY), 'no exit node wanted: no default route')
  t.same([...choosePrimaries(input(nodes, { exitNode: 'auto', acceptRoutes: false })).primaries.keys()], [ANY], '--accept-routes=false leaves the exit node')
})

t.test('a pinned exit node carries the traffic only while it lives: dead, not an exit node or unknown, none does (fail closed)', async (t) => {
  const nodes = exits()
  const pinned = (name: string, down: string[] = []): string | undefined =>
    choosePrimaries(input(nodes, { exitNode: name, down: new Set(down) })).primaries.get(ANY)
  t.equal(pinned('n2'), 'n2', 'by id, over a better exit node')
  t.equal(pinned(nodes[2]!.hostname), 'n2', 'by hostname')
  t.equal(pinned(nodes[2]!.meshIp), 'n2', 'by mesh IP')
  t.equal(pinned('n2', ['n2']), undefined, 'down: no other exit node takes over')
  t.equal(pinned('n3'), undefined, 'not an exit node')
  t.equal(pinned('nobody'), undefined)
  t.match(exitState(nodes, 'n2', new Map(), new Set(['n2'])), { via: null, reason: /exit node n2 is down \(SWIM\); traffic to addresses outside the mesh is dropped/ })
  t.match(exitState(nodes, 'n3', new Map(), new Set()), { reason: /n3 is not an approved exit node/ })
  t.match(exitState(nodes, 'nobody', new Map(), new Set()), { reason: /no node nobody in the netmap/ })
  t.match(exitState(nodes, 'auto', new Map(), new Set()), { reason: /no live exit node/ })
  t.same(exitState(nodes, 'auto', new Map([[ANY, 'n1']]), new Set()), { mode: 'auto', via: 'n1', reason: null })
  t.same(exitState(nodes, 'none', new Map(), new Set()), { mode: 'none', via: null, reason: null })
})

t.test('findNode: id, then mesh IP, then a unique hostname; left and removed nodes are not found', async (t) => {
  const a = nodeRecord(1, generateKeyPair().publicKey, { hostname: 'twin' })
  const b = nodeRecord(2, generateKeyPair().publicKey, { hostname: 'twin' })
  const gone = nodeRecord(3, generateKeyPair().publicKey, { hostname: 'gone', health: 'removed' })
  t.equal(findNode([a, b, gone], 'twin'), 'ambiguous')
  t.equal(findNode([a, b, gone], a.meshIp), a)
  t.equal(findNode([a, b, gone], 'gone'), null)
  t.equal(findNode([a, b, gone], 'n2'), b)
})
