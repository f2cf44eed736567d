/**
 * The access policy on real daemons, wireguard-go and nftables in namespaces. node-0 joins with a token that
 * tags it tag:web, node-1 is tagged tag:db by the admin, node-2 is in group:ops and routes a LAN
 * (192.0.2.0/24, the policy's "office", with a host at 192.0.2.10), node-3 is none of these. Connections are
 * opened with test/e2e/tcp-peer.js from the nodes' namespaces to listeners on node-1 and the LAN host.
 */
import type { ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import { Mesh, waitFor } from '../../sim/cluster.js'
import { filterTable } from '../../lib/policy/compile.js'
import { TCP_PEER, tryTcp } from './tcp.js'

const [WEB, DB, OPS, OTHER] = [0, 1, 2, 3]
const LAN = '192.0.2.0/24'
const LAN_HOST = '192.0.2.10'
const mesh = await Mesh.create(4)
t.teardown(async () => {
  if (!t.passing()) {
    const ev = [0, 1, 2, 3].flatMap(i => ['policy.apply', 'policy.invalid', 'policy.apply.failed'].flatMap(e => mesh.events(`n${i}`, e))
      .map(e => `n${i} ${JSON.stringify(e)}`))
    process.stderr.write(`--- mesh state at failure ---\n${await mesh.diagnose()}\n${ev.join('\n')}\n`)
  }
  await mesh.destroy()
})

const meshIp = new Map<number, string>()
const keyOf = new Map<number, string>()

/** Writes `policy` to a file in the mesh's directory and returns its path. */
async function policyFile (name: string, policy: unknown): Promise<string> {
  const path = join(mesh.dir, name)
  await writeFile(path, typeof policy === 'string' ? policy : JSON.stringify(policy, null, 2))
  return path
}

/** Sets `policy` and waits until every running daemon of `nodes` enforces it; returns its version and the ms that took. */
async function setPolicy (name: string, policy: unknown, nodes: readonly number[] = [WEB, DB, OPS, OTHER]): Promise<{ version: number, ms: number }> {
  const path = await policyFile(name, policy)
  const t0 = Date.now()
  const out = await mesh.admin('policy', 'set', path)
  const version = Number(/version (\d+)/.exec(out)?.[1])
  await waitFor(`policy v${version} enforced everywhere`, async () =>
    (await Promise.all(nodes.map(async i => (await mesh.tryStatus(i))?.policy.version === version))).every(Boolean), 15_000, 50)
  return { version, ms: Date.now() - t0 }
}

/** What node `from` gets when it opens a TCP connection to node-1's `port`: connected, refused or timeout. */
async function tcp (from: number, port: number): Promise<string> {
  return await tryTcp(mesh.ns(from), meshIp.get(DB)!, port)
}

const P1 = {
  groups: { 'group:ops': ['node-2'] },
  tagOwners: { 'tag:web': ['autogroup:admin'], 'tag:db': ['autogroup:admin'] },
  hosts: { office: LAN },
  acls: [
    { action: 'accept', src: ['tag:web'], dst: ['tag:db:5432'], proto: 'tcp' },
    { action: 'accept', src: ['group:ops'], dst: ['*:*'] },
    { action: 'accept', src: ['tag:web'], dst: ['office:80'], proto: 'tcp' }
  ],
  tests: [{ src: 'tag:web', accept: ['tag:db:5432'], deny: ['tag:db:22'] }]
}

t.before(async () => {
  await mesh.world.addLan(0, `${LAN_HOST}/24`, [{ node: OPS, addr: '192.0.2.1/24' }])
  const webToken = (await mesh.admin('token', 'create', '--tag', 'tag:web')).trim()
  await mesh.startDaemon(WEB, { join: false, extra: ['--join-token', webToken] })
  for (const i of [DB, OPS, OTHER]) await mesh.startDaemon(i, { extra: i === OPS ? ['--advertise-routes', LAN] : [] })
  await waitFor('a full mesh', async () => (await Promise.all([0, 1, 2, 3].map(async i => (await mesh.wgPeers(i)).length === 3))).every(Boolean), 60_000)
  for (const i of [0, 1, 2, 3]) {
    const s = await mesh.status(i)
    meshIp.set(i, s.node.meshIp)
    keyOf.set(i, s.node.publicKey)
  }
  await mesh.admin('nodes', 'tag', 'node-1', 'tag:db')
  const listen = (ns: string, ...ports: string[]): ChildProcess =>
    mesh.world.spawn(ns, [process.execPath, TCP_PEER, 'listen', ...ports], { stdio: ['ignore', 'pipe', 'ignore'], name: 'listen' })
  const listeners = [listen(mesh.ns(DB), '5432', '22'), listen(mesh.world.names.lanNs(0), '80', '8080')]
  await Promise.all(listeners.map(async l => await new Promise(resolve => l.stdout!.once('data', resolve))))
  await waitFor('the controller to hold the advertisement', async () => (await mesh.admin('routes', 'list')).includes('awaiting approval'), 20_000)
  await mesh.admin('routes', 'approve', 'node-2', LAN)
  await waitFor('node-0 and node-3 to reach the LAN host', async () =>
    await tryTcp(mesh.ns(WEB), LAN_HOST, 8080) === 'connected' && await tryTcp(mesh.ns(OTHER), LAN_HOST, 8080) === 'connected', 20_000, 200)
})

t.test('before any policy every flow is allowed, and a policy whose test fails is refused', async (t) => {
  t.equal(await tcp(OTHER, 22), 'connected')
  t.equal((await mesh.status(DB)).policy.version, null)
  const failing = { ...P1, acls: [{ action: 'accept', src: ['*'], dst: ['*:*'] }] }
  await t.rejects(mesh.admin('policy', 'set', await policyFile('failing.json', failing)), /test 0 fails: tag:web -> tag:db:22\/tcp should be denied/)
  t.equal(await tcp(OTHER, 22), 'connected', 'still no policy')
})

t.test('the policy decides: the allowed port connects, others are dropped and counted, ping follows the rules', async (t) => {
  const { version, ms } = await setPolicy('p1.json', P1)
  t.comment(`policy v${version} enforced on all 4 nodes ${ms} ms after weft policy set`)
  t.equal(await tcp(WEB, 5432), 'connected', 'tag:web -> tag:db:5432')
  t.equal(await tcp(WEB, 22), 'timeout', 'tag:web -> tag:db:22 is dropped')
  t.equal(await tcp(OTHER, 5432), 'timeout', 'node-3 is neither web nor ops')
  t.equal(await tcp(OPS, 22), 'connected', 'group:ops reaches every port')
  t.equal(await tryTcp(mesh.ns(WEB), LAN_HOST, 80), 'connected', 'the router forwards tag:web -> office:80')
  t.equal(await tryTcp(mesh.ns(WEB), LAN_HOST, 8080), 'timeout', 'and drops tag:web -> office:8080')
  t.equal(await tryTcp(mesh.ns(OTHER), LAN_HOST, 80), 'timeout', 'and node-3 -> office:80')
  const routerDrops = (await mesh.status(OPS)).policy.drops?.byPort.find(d => d.proto === 'tcp' && d.port === 8080)?.packets ?? 0
  t.ok(routerDrops >= 1, `the router counted the forwarded drop (${routerDrops})`)
  t.ok(await mesh.ping(OPS, meshIp.get(DB)!), 'ops pings the database')
  t.notOk(await mesh.ping(WEB, meshIp.get(DB)!), 'web may not ping it: its rule is TCP only')
  const st = (await mesh.status(DB)).policy
  t.ok((st.drops?.byPort.find(d => d.proto === 'tcp' && d.port === 22)?.packets ?? 0) >= 1, 'the drop to port 22 is counted')
  t.ok((st.drops?.total ?? 0) >= 3)
  t.match(await mesh.local(DB, 'status'), new RegExp(`policy +v${version} enforced`))
  t.match(mesh.events('n1', 'policy.apply').pop(), { to: version })
})

t.test('a policy change reaches every node without breaking a live allowed connection; a revocation stops it', async (t) => {
  const hold = mesh.world.spawn(mesh.ns(WEB), [process.execPath, TCP_PEER, 'hold', meshIp.get(DB)!, '5432'],
    { stdio: ['ignore', 'pipe', 'ignore'], name: 'hold' })
  const lines: string[] = []
  createInterface({ input: hold.stdout! }).on('line', l => lines.push(l))
  await waitFor('the held connection to echo', () => lines.filter(l => l.startsWith('echo')).length >= 3, 10_000, 50)
  const widened = { ...P1, acls: [...P1.acls, { action: 'accept', src: ['node-3'], dst: ['tag:db:5432'], proto: 'tcp' }] }
  const { ms } = await setPolicy('p2.json', widened)
  t.comment(`a change enforced on all 4 nodes ${ms} ms after weft policy set`)
  const echoed = lines.length
  await waitFor('more echoes after the change', () => lines.length >= echoed + 5, 10_000, 50)
  t.notOk(lines.some(l => l.startsWith('lost')), 'the allowed connection never stalled')
  t.equal(await tcp(OTHER, 5432), 'connected', 'node-3 may now connect')

  const revoked = { ...widened, acls: widened.acls.slice(1), tests: [] }
  await setPolicy('p3.json', revoked)
  await waitFor('the revoked connection to stall', () => lines.some(l => l.startsWith('lost')), 10_000, 50)
  t.equal(await tcp(WEB, 5432), 'timeout')
})

t.test('a bad policy is refused with where and why, and the one in force stays', async (t) => {
  const before = await mesh.admin('policy', 'get')
  const bad = await policyFile('bad.json', '{\n  "acls": [\n    { "action": "accept", "src": ["tag:nope"], "dst": ["*:22"] },\n  ],\n}\n')
  await t.rejects(mesh.admin('policy', 'set', bad), /bad\.json:3:35: tag:nope is not defined in "tagOwners"/)
  const unknown = await policyFile('unknown.json', { acls: [{ action: 'accept', src: ['node-9'], dst: ['*:22'] }] })
  await t.rejects(mesh.admin('policy', 'set', unknown), /node-9/)
  t.equal(await mesh.admin('policy', 'get'), before)
})

t.test('SWIM still removes a crashed node in its usual time under a policy that accepts nothing', async (t) => {
  const { version } = await setPolicy('deny.json', { acls: [] })
  t.notOk(await mesh.ping(OPS, meshIp.get(DB)!), 'nothing gets through')
  const deaths = (i: number): number => mesh.events(`n${i}`, 'swim.dead').length
  const before = [0, 1, 2].map(deaths)
  const crashedAt = Date.now()
  await mesh.crash(OTHER)
  await waitFor('every node to remove the crashed one', async () =>
    (await Promise.all([0, 1, 2].map(async i => !(await mesh.wgPeers(i)).includes(keyOf.get(OTHER)!)))).every(Boolean), 20_000, 100)
  const ms = Date.now() - crashedAt
  t.comment(`under deny-all (v${version}) the crash was removed everywhere in ${ms} ms`)
  t.ok(ms < 10_000, `removed within 10 s (${ms} ms)`)
  t.same([0, 1, 2].map(deaths).map((d, k) => d - before[k]!), [1, 1, 1], 'the crashed node, and no other, was held dead')
})

t.test('with the controller down the policy holds, and a daemon restarted on a fresh interface enforces it before any peer', async (t) => {
  await setPolicy('p1-again.json', P1, [WEB, DB, OPS])
  await mesh.stopController()
  t.equal(await tcp(WEB, 5432), 'connected')
  t.equal(await tcp(WEB, 22), 'timeout')

  // A power loss: the daemon, its wireguard-go, the interface and the filter all gone; the state directory stays.
  await mesh.crash(DB)
  await mesh.world.exec(mesh.ns(DB), ['ip', 'link', 'del', mesh.ifname(DB)]).catch(() => {})
  await mesh.world.exec(mesh.ns(DB), ['nft', 'delete', 'table', 'inet', filterTable(mesh.ifname(DB))])
  const restartedAt = Date.now()
  await mesh.startDaemon(DB, { join: false })
  await waitFor('node-1 back in node-0\'s WireGuard and answering', async () =>
    (await mesh.wgPeers(WEB)).includes(keyOf.get(DB)!) && await tcp(WEB, 5432) === 'connected', 30_000, 200)
  t.equal(await tcp(WEB, 22), 'timeout', 'still dropped after the restart')
  const at = (e: Record<string, unknown>): number => Number(e.time)
  const applied = mesh.events('n1', 'policy.apply').filter(e => at(e) >= restartedAt)
  const added = mesh.events('n1', 'wg.peer.add').filter(e => at(e) >= restartedAt)
  t.ok(applied.length > 0 && added.length > 0)
  t.ok(at(applied[0]!) <= at(added[0]!), 'the filter was up before the first peer was added')
})
