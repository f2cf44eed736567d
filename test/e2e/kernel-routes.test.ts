/**
 * KernelRoutes and the router's NAT on a real kernel, in a namespace of their own: Weft's routes are found and
 * tidied after a restart, a route someone else added is never touched, and the NAT table is replaced whole.
 */
import t from 'tap'
import { silentLogger } from '../../lib/log.js'
import { enableForwarding, natTable } from '../../lib/daemon/forwarding.js'
import { KernelRoutes } from '../../lib/daemon/kernel-routes.js'
import { inNetns, ipCmd, run } from '../../lib/daemon/wg/exec.js'
import { NetnsWorld } from '../../sim/netns/world.js'

const log = silentLogger()
const world = await NetnsWorld.create({ nodes: 1, log })
t.teardown(async () => { await world.destroy() })
const ns = world.names.nodeNs(0)
// A veth stands in for the Weft interface: routes need a device that is up, not a WireGuard one.
const dev = world.names.nodeLan(0)
await run(ipCmd(ns, '-batch', '-'), { input: `link add ${dev} type veth peer name ${dev}x\nlink set ${dev} up\nlink set ${dev}x up\n` })

async function routes (): Promise<string[]> {
  return (await run(ipCmd(ns, '-4', 'route', 'show', 'dev', dev))).stdout.split('\n').filter(l => l !== '').map(l => l.trim())
}

t.test('routes follow the wanted list; a restarted daemon removes its stale ones and leaves an operator\'s alone', async (t) => {
  await run(ipCmd(ns, 'route', 'add', '198.51.100.0/24', 'dev', dev))
  const k = new KernelRoutes({ ifname: dev, netns: ns, log })
  await k.sync(['192.0.2.0/24', '203.0.113.0/25'])
  t.same((await routes()).sort(), ['192.0.2.0/24 proto 87 scope link', '198.51.100.0/24 scope link', '203.0.113.0/25 proto 87 scope link'])
  await k.sync(['192.0.2.0/24'])
  t.same((await routes()).sort(), ['192.0.2.0/24 proto 87 scope link', '198.51.100.0/24 scope link'])

  const again = new KernelRoutes({ ifname: dev, netns: ns, log })
  await again.sync(['203.0.113.0/25'])
  t.same((await routes()).sort(), ['198.51.100.0/24 scope link', '203.0.113.0/25 proto 87 scope link'],
    'the new daemon found 192.0.2.0/24 as its own and removed it; the route without proto 87 stays')
  t.same(again.routes, ['203.0.113.0/25'])
})

t.test('on an interface created by this start nothing is read: the kernel holds no Weft route there', async (t) => {
  const k = new KernelRoutes({ ifname: dev, netns: ns, log, fresh: true })
  t.same(k.routes, [], 'known empty before any sync')
  await k.sync([])
  t.same((await routes()).sort(), ['198.51.100.0/24 scope link', '203.0.113.0/25 proto 87 scope link'],
    'an empty wanted list changes nothing: there was nothing to read, so nothing is deleted')
  await k.sync(['192.0.2.0/24'])
  t.ok((await routes()).includes('192.0.2.0/24 proto 87 scope link'))
})

t.test('the NAT table is replaced whole at every start, and removed with --snat-routes=false', async (t) => {
  const nat = async (): Promise<string> => (await run(inNetns(ns, ['nft', 'list', 'ruleset']))).stdout
  await enableForwarding({ ifname: dev, snat: true, netns: ns, log })
  await enableForwarding({ ifname: dev, snat: true, netns: ns, log })
  const rules = await nat()
  t.equal(rules.split('masquerade').length - 1, 1, 'one masquerade rule after two starts')
  t.match(rules, new RegExp(`table ip ${natTable(dev)} [^]*iifname "${dev}" oifname != "${dev}" masquerade`))
  t.equal((await run(inNetns(ns, ['sysctl', '-n', 'net.ipv4.ip_forward']))).stdout.trim(), '1')
  await enableForwarding({ ifname: dev, snat: false, netns: ns, log })
  t.notMatch(await nat(), /masquerade/)
})
