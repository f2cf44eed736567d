/**
 * PolicyFilter on a real kernel: two namespaces on one bridge, node 1's underlay interface standing in for the
 * Weft interface and the underlay addresses for mesh IPs. TCP from node 0 to node 1 meets node 1's filter as
 * it would over WireGuard; what is dropped is counted by port.
 */
import { spawn } from 'node:child_process'
import t from 'tap'
import { silentLogger } from '../../lib/log.js'
import { systemClock } from '../../lib/clock.js'
import { PolicyFilter } from '../../lib/daemon/policy-filter.js'
import { filterTable } from '../../lib/policy/compile.js'
import { inNetns, run } from '../../lib/daemon/wg/exec.js'
import type { Netmap, NodeRecord } from '../../lib/wire/netmap.js'
import { NetnsWorld } from '../../sim/netns/world.js'
import { nodeRecord } from '../daemon/records.js'
import { generateKeyPair } from '../../lib/wire/keys.js'
import { TCP_PEER, tryTcp as tcpFrom } from './tcp.js'

const log = silentLogger()
const world = await NetnsWorld.create({ nodes: 2, log })
t.teardown(async () => { await world.destroy() })
const [ns0, ns1] = [world.names.nodeNs(0), world.names.nodeNs(1)]
const ip1 = world.names.nodeAddr(1)
const nodes: NodeRecord[] = [0, 1].map(i => nodeRecord(i, generateKeyPair().publicKey, {
  hostname: `node-${i}`, meshIp: world.names.nodeAddr(i), tags: i === 0 ? ['tag:web'] : ['tag:db']
}))
const newFilter = (): PolicyFilter => new PolicyFilter({
  selfId: nodes[1]!.id, ifname: world.names.nodeEth(1), meshCidr: '198.18.0.0/15', swimPort: 7946, clock: systemClock, log, netns: ns1
})
const filter = newFilter()

const listener = spawn('ip', ['netns', 'exec', ns1, process.execPath, TCP_PEER, 'listen', '5432', '22'], { stdio: ['ignore', 'pipe', 'inherit'] })
t.teardown(() => { listener.kill() })
await new Promise(resolve => listener.stdout.once('data', resolve))

function map (version: number | null, text: string, over: Partial<Netmap> = {}): Netmap {
  return { epoch: 'e', version: 1, cidr: '198.18.0.0/15', nodes, ...(version === null ? {} : { policy: { version, text } }), ...over }
}

/** What node 0 gets when it opens a connection to node 1's `port`: connected, refused or timeout. */
async function tryTcp (port: number): Promise<string> {
  return await tcpFrom(ns0, ip1, port)
}

const table = async (): Promise<string> => (await run(inNetns(ns1, ['nft', 'list', 'tables']))).stdout

const POLICY = `{
  // web reaches the database; nothing else does
  "tagOwners": { "tag:web": ["autogroup:admin"], "tag:db": ["autogroup:admin"] },
  "acls": [{ "action": "accept", "src": ["tag:web"], "dst": ["tag:db:5432"], "proto": "tcp" }],
}`

t.test('an allowed port connects, a denied one is dropped and counted by port', async (t) => {
  t.equal(await tryTcp(22), 'connected', 'no policy: everything is allowed')
  await filter.sync(map(1, POLICY))
  t.match(filter.state, { version: 1, pending: null, error: null, rules: 1 })
  t.equal(await tryTcp(5432), 'connected')
  t.equal(await tryTcp(22), 'timeout')
  const drops = await filter.drops()
  t.ok(drops.total >= 1)
  t.ok((drops.byPort.find(d => d.proto === 'tcp' && d.port === 22)?.packets ?? 0) >= 1, JSON.stringify(drops))
})

t.test('the same netmap compiles and applies nothing; a new policy replaces the filter and keeps the drop count', async (t) => {
  const at = filter.state.appliedAt
  const before = (await filter.drops()).total
  await filter.sync(map(1, POLICY, { version: 2 }))
  t.equal(filter.state.appliedAt, at, 'nothing the filter depends on changed')
  await filter.sync(map(2, POLICY.replace('"tag:db:5432"', '"tag:db:5432,22"')))
  t.equal(filter.state.version, 2)
  t.equal(await tryTcp(22), 'connected')
  t.ok((await filter.drops()).total >= before, 'changed in place: the drop count goes on')
})

t.test('a filter removed by hand is loaded whole again at the next change', async (t) => {
  await run(inNetns(ns1, ['nft', 'delete', 'table', 'inet', filterTable(world.names.nodeEth(1))]))
  t.equal(await tryTcp(23), 'refused', 'no filter: nothing listens on 23, and nothing drops it')
  await filter.sync(map(3, POLICY.replace('"tag:db:5432"', '"tag:db:5432,22,23"')))
  t.equal(filter.state.version, 3)
  t.match(await table(), filterTable(world.names.nodeEth(1)))
  t.equal(await tryTcp(24), 'timeout')
})

t.test('a policy the daemon cannot read keeps the one in force', async (t) => {
  await filter.sync(map(4, '{ "acls": [ { "action": "deny" } ] }'))
  t.match(filter.state, { version: 3, pending: 4 })
  t.match(filter.state.error, /cannot read access policy v4: .*"action" must be "accept"/)
  t.equal(await tryTcp(22), 'connected', 'v3 still allows it')
})

t.test('without a policy the filter goes; an unreadable first policy lets only SWIM in', async (t) => {
  await filter.sync(map(null, ''))
  t.equal(filter.state.version, null)
  t.notMatch(await table(), filterTable(world.names.nodeEth(1)))
  const fresh = newFilter()
  await fresh.sync(map(5, 'not json'))
  t.match(fresh.state, { version: 0, pending: 5 })
  t.equal(await tryTcp(5432), 'timeout')
  await fresh.remove()
  t.equal(await tryTcp(5432), 'connected')
})
