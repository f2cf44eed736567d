/**
 * Subnet routes on real daemons and wireguard-go in namespaces: two routers for one LAN (192.0.2.0/24, with
 * one host at 192.0.2.10), a client that accepts routes and one that does not. A route carries traffic only
 * once approved; a crashed primary router is replaced by the other within one SWIM detection, with the
 * controller up and with it down; a router that comes back takes its route back only after its hold-down.
 */
import t from 'tap'
import { Mesh, waitFor } from '../../sim/cluster.js'

const LAN = '192.0.2.0/24'
const LAN_HOST = '192.0.2.10'
const [R0, R1, CLIENT, REFUSER] = [0, 1, 2, 3]
const HOLD_DOWN_MS = 4000
const mesh = await Mesh.create(4)
t.teardown(async () => {
  if (!t.passing()) {
    const routes = [0, 1, 2].flatMap(i => ['routes.advertise.failed', 'routes.primary']
      .flatMap(e => mesh.events(`n${i}`, e)).map(e => `n${i} ${JSON.stringify(e)}`))
    const changes = mesh.events('controller', 'routes.change').map(e => JSON.stringify(e))
    process.stderr.write(`--- mesh state at failure ---\n${await mesh.diagnose()}\n${[...routes, ...changes].join('\n')}\n`)
  }
  await mesh.destroy()
})

const router = (priority: number): string[] =>
  ['--advertise-routes', LAN, '--route-priority', String(priority), '--route-hold-down', `${HOLD_DOWN_MS}ms`]
const start = async (i: number, join = true): Promise<void> => {
  const extra = i === R0 ? router(10) : i === R1 ? router(0) : i === REFUSER ? ['--accept-routes=false'] : []
  await mesh.startDaemon(i, { join, extra })
}

/** Who node `i`'s WireGuard sends LAN traffic to: the public key whose AllowedIPs hold the LAN, or null. */
async function lanPeer (i: number): Promise<string | null> {
  const out = (await mesh.world.exec(mesh.ns(i), ['wg', 'show', mesh.ifname(i), 'allowed-ips'])).stdout
  for (const line of out.split('\n')) {
    const [key, ...ips] = line.trim().split(/\s+/)
    if (ips.includes(LAN)) return key!
  }
  return null
}

async function kernelRoute (i: number): Promise<string> {
  return (await mesh.world.exec(mesh.ns(i), ['ip', '-4', 'route', 'show', LAN])).stdout.trim()
}

const keyOf = new Map<number, string>()

t.before(async () => {
  await mesh.world.addLan(0, `${LAN_HOST}/24`, [{ node: R0, addr: '192.0.2.1/24' }, { node: R1, addr: '192.0.2.2/24' }])
  for (const i of [R0, R1, CLIENT, REFUSER]) await start(i)
  await waitFor('a full mesh', async () => (await Promise.all([0, 1, 2, 3].map(async i => (await mesh.wgPeers(i)).length === 3))).every(Boolean), 60_000)
  for (const i of [R0, R1]) keyOf.set(i, (await mesh.status(i)).node.publicKey)
})

t.test('an advertised route is not used before an admin approves it', async (t) => {
  const awaiting = async (): Promise<number> => (await mesh.admin('routes', 'list')).split('\n').filter(l => l.includes('awaiting approval')).length
  await waitFor('the controller to hold both advertisements', async () => await awaiting() === 2, 20_000)
  t.equal(await kernelRoute(CLIENT), '', 'no kernel route on the client')
  t.equal(await lanPeer(CLIENT), null, 'no peer carries the LAN')
  t.notOk(await mesh.ping(CLIENT, LAN_HOST), 'the LAN host is out of reach')
})

t.test('once approved, the client reaches the LAN through the better router, and a client that refuses routes does not', async (t) => {
  await mesh.admin('routes', 'approve', 'node-0', LAN)
  await mesh.admin('routes', 'approve', 'node-1', LAN)
  await waitFor('the client to reach the LAN host', async () => await mesh.ping(CLIENT, LAN_HOST), 20_000)
  t.equal(await lanPeer(CLIENT), keyOf.get(R0), 'through router 0, the higher priority')
  t.match(await kernelRoute(CLIENT), new RegExp(`^${LAN.replace(/[./]/g, '\\$&')} dev ${mesh.ifname(CLIENT)} proto 87`), 'the kernel routes the LAN into the interface')
  t.notOk(await mesh.ping(REFUSER, LAN_HOST), '--accept-routes=false: no way to the LAN')
  t.equal(await kernelRoute(REFUSER), '')
  t.equal(await lanPeer(REFUSER), null)
  const nat = (await mesh.world.exec(mesh.ns(R0), ['nft', 'list', 'table', 'ip', `weft_${mesh.ifname(R0)}`])).stdout
  t.match(nat, /masquerade/, 'the router source-NATs what it forwards')
  t.equal((await mesh.world.exec(mesh.ns(R0), ['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim(), '1', 'and forwards')
})

t.test('a crashed primary is replaced within one detection; its return moves the route back only after the hold-down', async (t) => {
  await mesh.crash(R0)
  const failover = await waitFor('the client to reach the LAN through router 1', async () => await mesh.ping(CLIENT, LAN_HOST), 20_000, 100)
  t.equal(await lanPeer(CLIENT), keyOf.get(R1), 'router 1 carries the LAN now')
  t.comment(`controller up: LAN reachable again ${failover} ms after the crash`)
  const moves = mesh.events(`n${CLIENT}`, 'routes.primary')
  t.match(moves[moves.length - 1], { route: LAN, reason: 'primary-down' })

  const before = mesh.events(`n${CLIENT}`, 'routes.primary').length
  await start(R0, false)
  const backAt = Date.now()
  await waitFor('router 0 back in the client\'s WireGuard', async () => (await mesh.wgPeers(CLIENT)).includes(keyOf.get(R0)!), 30_000)
  t.equal(await lanPeer(CLIENT), keyOf.get(R1), 'router 0 is back, but router 1 keeps the route for now')
  await waitFor('the route back on router 0', async () => await lanPeer(CLIENT) === keyOf.get(R0), 30_000, 100)
  t.ok(Date.now() - backAt >= HOLD_DOWN_MS, 'not before the hold-down')
  const after = mesh.events(`n${CLIENT}`, 'routes.primary').slice(before)
  t.same(after.map(e => [e.from, e.to, e.reason]), [[(await mesh.status(R1)).node.id, (await mesh.status(R0)).node.id, 'better-router']],
    'one move back, no flapping')
  t.ok(await mesh.ping(CLIENT, LAN_HOST))
})

t.test('with the controller down, a crashed primary is replaced just the same', async (t) => {
  await mesh.stopController()
  await mesh.crash(R0)
  const failover = await waitFor('the client to reach the LAN through router 1', async () => await mesh.ping(CLIENT, LAN_HOST), 20_000, 100)
  t.equal(await lanPeer(CLIENT), keyOf.get(R1))
  t.comment(`controller down: LAN reachable again ${failover} ms after the crash`)
})
