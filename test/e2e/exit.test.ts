/**
 * Exit nodes on real daemons and wireguard-go in namespaces. Two exit nodes reach the "internet"
 * (203.0.113.0/24, one host at 203.0.113.10); two clients have a default route of their own out of their
 * underlay interface, where an nftables counter sees every packet to the internet that would leak past the
 * tunnel. One client picks `auto` at run time with `weft set`; the other pins exit node 0 by flag, without LAN
 * access. While exit routing is on, the controller link and WireGuard's underlay keep working; a dead pinned
 * exit node drops the traffic; `auto` fails over; `weft set --exit-node none` gives the host its own default back.
 * The clients also have an IPv6 default route out of the underlay (to 2001:db8:ff::/48, counted the same way):
 * the mesh carries no IPv6, so with an exit node in use IPv6 beyond the LAN must be refused, not leaked.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { Mesh, waitFor } from '../../sim/cluster.js'

const NET = '203.0.113.0/24'
const NET_HOST = '203.0.113.10'
const NET6 = '2001:db8:ff::/48'
const NET6_HOST = '2001:db8:ff::10'
const [X0, X1, AUTO, PINNED] = [0, 1, 2, 3]
const mesh = await Mesh.create(4)
t.teardown(async () => {
  if (!t.passing()) {
    const ev = [0, 1, 2, 3].flatMap(i => ['routes.primary', 'routes.exit.rules', 'routes.kernel.error', 'routes.prefs']
      .flatMap(e => mesh.events(`n${i}`, e)).map(e => `n${i} ${JSON.stringify(e)}`))
    process.stderr.write(`--- mesh state at failure ---\n${await mesh.diagnose()}\n${ev.join('\n')}\n`)
  }
  await mesh.destroy()
})

const start = async (i: number, join = true): Promise<void> => {
  const extra = i === X0
    ? ['--advertise-exit-node', '--route-priority', '10', '--route-hold-down', '3s']
    : i === X1 ? ['--advertise-exit-node'] : i === PINNED ? ['--exit-node', 'node-0', '--exit-node-allow-lan=false'] : []
  await mesh.startDaemon(i, { join, extra })
}

/** Packets to the internet (IPv4, or IPv6 with `v6`) that left node `i` by its underlay interface rather than the tunnel. */
async function leaked (i: number, v6 = false): Promise<number> {
  const out = (await mesh.world.exec(mesh.ns(i), ['nft', 'list', 'counter', v6 ? 'ip6' : 'ip', 'leak', 'out'])).stdout
  return Number(/packets (\d+)/.exec(out)?.[1] ?? NaN)
}

async function ping6 (i: number): Promise<boolean> {
  try {
    await mesh.world.exec(mesh.ns(i), ['ping', '-6', '-c1', '-W1', '-q', NET6_HOST])
    return true
  } catch { return false }
}

/** The public key of the peer whose AllowedIPs hold 0.0.0.0/0 on node `i`, or null. */
async function exitPeer (i: number): Promise<string | null> {
  const out = (await mesh.world.exec(mesh.ns(i), ['wg', 'show', mesh.ifname(i), 'allowed-ips'])).stdout
  for (const line of out.split('\n')) {
    const [key, ...ips] = line.trim().split(/\s+/)
    if (ips.includes('0.0.0.0/0')) return key!
  }
  return null
}

const rules = async (i: number): Promise<string> => (await mesh.world.exec(mesh.ns(i), ['ip', 'rule', 'show'])).stdout
const keyOf = new Map<number, string>()

t.before(async () => {
  await mesh.world.addLan(1, `${NET_HOST}/24`, [{ node: X0, addr: '203.0.113.1/24' }, { node: X1, addr: '203.0.113.2/24' }])
  for (const i of [AUTO, PINNED]) {
    const eth = mesh.world.names.nodeEth(i)
    await mesh.world.exec(mesh.ns(i), ['ip', 'route', 'add', 'default', 'dev', eth])
    await mesh.world.exec(mesh.ns(i), ['ip', 'addr', 'add', `2001:db8:1::${i + 1}/64`, 'dev', eth, 'nodad'])
    await mesh.world.exec(mesh.ns(i), ['ip', '-6', 'route', 'add', 'default', 'dev', eth])
    const nft = ['ip', 'ip6'].flatMap(f => [`table ${f} leak {`, ' counter out {}', ' chain post {', '  type filter hook postrouting priority 0;',
      `  oifname "${eth}" ${f} daddr ${f === 'ip' ? NET : NET6} counter name out`, ' }', '}'])
    await mesh.world.exec(mesh.ns(i), ['nft', '-f', '-'], { input: nft.join('\n') + '\n' })
  }
  for (const i of [X0, X1, AUTO, PINNED]) await start(i)
  await waitFor('a full mesh', async () => (await Promise.all([0, 1, 2, 3].map(async i => (await mesh.wgPeers(i)).length === 3))).every(Boolean), 60_000)
  for (const i of [X0, X1]) keyOf.set(i, (await mesh.status(i)).node.publicKey)
})

t.test('without an exit node the internet is reached by the host\'s own route; wanting one that is not approved drops it', async (t) => {
  t.notOk(await mesh.ping(AUTO, NET_HOST), 'no one answers on the underlay')
  t.ok(await leaked(AUTO) > 0, 'the counter sees packets that take the host\'s own default route')
  t.notOk(await ping6(AUTO))
  t.ok(await leaked(AUTO, true) > 0, 'and IPv6 ones')
  const set = await mesh.local(AUTO, 'set', '--exit-node', 'auto')
  t.match(set, /changed: exitNode\n[^]*exit-node {12}auto\n/)
  await waitFor('the exit rules on the auto client', async () => (await rules(AUTO)).includes('not from all fwmark'), 10_000)
  const before = await leaked(AUTO)
  t.notOk(await mesh.ping(AUTO, NET_HOST), 'nothing carries it yet')
  t.notOk(await mesh.ping(PINNED, NET_HOST))
  const before6 = await leaked(AUTO, true)
  t.notOk(await ping6(AUTO))
  t.equal(await leaked(AUTO), before, 'and nothing leaks')
  t.equal(await leaked(AUTO, true), before6, 'nor by IPv6')
  t.equal(await leaked(PINNED), 0)
  t.match((await mesh.status(AUTO)).routes.exit, { mode: 'auto', via: null, reason: /no live exit node/ })
  t.match(await mesh.local(PINNED, 'status'), /exit via {4}none: node-0 is not an approved exit node/)
  const saved = JSON.parse(await readFile(join(mesh.stateDir(AUTO), 'prefs.json'), 'utf8')) as { exitNode: string }
  t.equal(saved.exitNode, 'auto', 'weft set saved the preference in the state directory')
})

t.test('approved, the exit node carries the internet traffic, and the controller link and WireGuard\'s underlay keep working', async (t) => {
  await mesh.admin('routes', 'approve', 'node-0', 'exit')
  await mesh.admin('routes', 'approve', 'node-1', 'exit')
  for (const i of [AUTO, PINNED]) await waitFor(`node ${i} to reach the internet host`, async () => await mesh.ping(i, NET_HOST), 20_000)
  t.equal(await exitPeer(AUTO), keyOf.get(X0), 'auto: the higher priority exit node')
  t.equal(await exitPeer(PINNED), keyOf.get(X0))
  t.equal(await leaked(PINNED), 0, 'the pinned client never leaked')
  t.notOk(await ping6(PINNED), 'IPv6 beyond the LAN is refused: the mesh carries none')
  t.equal(await leaked(PINNED, true), 0, 'and never leaked')
  t.match(await mesh.local(AUTO, 'status'), /exit via {4}node-0 \(auto; LAN reachable\)/)
  t.match(await rules(PINNED), /5382:\s+not from all fwmark 0x[0-9a-f]+ lookup \d+/)
  t.match((await mesh.world.exec(mesh.ns(PINNED), ['ip', '-6', 'rule', 'show'])).stdout, /5382:\s+not from all fwmark 0x[0-9a-f]+ lookup \d+/, 'IPv6 too')
  t.notMatch(await rules(PINNED), /suppress_prefixlength/, 'no LAN access on the pinned client')
  // A new approval reaches the clients as a delta: the controller link stays on the underlay.
  const v = (await mesh.status(PINNED)).netmap!.version
  await mesh.admin('routes', 'reject', 'node-1', 'exit')
  await waitFor('the pinned client to get the next netmap from the controller', async () => (await mesh.status(PINNED)).netmap!.version > v, 10_000)
  t.equal((await mesh.status(PINNED)).controller.state, 'connected')
  await mesh.admin('routes', 'approve', 'node-1', 'exit')
  // WireGuard's own packets carry the fwmark: sessions between the clients still handshake over the underlay.
  const peerIp = (await mesh.status(PINNED)).node.meshIp
  t.ok(await mesh.ping(AUTO, peerIp), 'client to client across the mesh')
})

t.test('exit node 0 dies: auto fails over to exit node 1, the pinned client drops its traffic and says why', async (t) => {
  const before = await leaked(PINNED)
  await mesh.crash(X0)
  await waitFor('the auto client to reach the internet through exit node 1', async () => await mesh.ping(AUTO, NET_HOST), 20_000, 100)
  t.equal(await exitPeer(AUTO), keyOf.get(X1))
  await waitFor('the pinned client to see exit node 0 down', async () => (await mesh.status(PINNED)).routes.exit.reason?.includes('is down') === true, 20_000)
  t.equal(await exitPeer(PINNED), null, 'no peer carries the default route')
  t.notOk(await mesh.ping(PINNED, NET_HOST), 'fails closed')
  t.equal(await leaked(PINNED), before, 'nothing leaked to the underlay')
  t.match(await mesh.local(PINNED, 'status'), /exit via {4}none: exit node node-0 is down \(SWIM\)/)
  await start(X0, false)
  await waitFor('the pinned client to reach the internet again', async () => await mesh.ping(PINNED, NET_HOST), 30_000)
  t.equal(await leaked(PINNED), before)
})

t.test('weft set --exit-node none gives the host its own default route back, rules and fwmark gone', async (t) => {
  await mesh.local(AUTO, 'set', '--exit-node', 'none')
  const rules6 = async (): Promise<string> => (await mesh.world.exec(mesh.ns(AUTO), ['ip', '-6', 'rule', 'show'])).stdout
  await waitFor('the rules to go, IPv4 and IPv6', async () => !/538\d:/.test(await rules(AUTO)) && !/538\d:/.test(await rules6()), 10_000)
  const before = await leaked(AUTO)
  t.notOk(await mesh.ping(AUTO, NET_HOST))
  t.ok(await leaked(AUTO) > before, 'the host\'s own route again')
  t.equal(await exitPeer(AUTO), null)
  t.match((await mesh.world.exec(mesh.ns(AUTO), ['wg', 'show', mesh.ifname(AUTO), 'fwmark'])).stdout.trim(), /^(off|0)?$/)
  await t.rejects(mesh.local(AUTO, 'set', '--exit-node', 'auto', '--advertise-exit-node'), /exclude each other/, 'a bad set is refused, nothing changes')
  t.equal((await mesh.status(AUTO)).routes.exit.mode, 'none')
})
