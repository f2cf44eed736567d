/**
 * The resolved mode against a real systemd-resolved (resolved-ns.ts: unpacked from Debian's package, run in a
 * network and mount namespace of its own with a private D-Bus). HostDns (host-dns-script.ts) detects it, gives
 * a veth standing in for the Weft interface the mesh IP as DNS server for `~weft.internal`, and reverts it;
 * resolvectl and glibc inside the namespace show the effect. Run under `flock /tmp/weft-netns.lock`.
 */
import t from 'tap'
import { existsSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { silentLogger } from '../../lib/log.js'
import { RESOLV_CONF, type HostDnsStatus } from '../../lib/daemon/host-dns.js'
import type { HostProbe } from '../../lib/daemon/host-dns-plan.js'
import { ipCmd, run } from '../../lib/daemon/wg/exec.js'
import { NetnsWorld } from '../../sim/netns/world.js'
import { waitFor } from '../../sim/wait.js'
import { fileIdentity } from '../netns-etc.js'
import { runTmpDir } from '../run-tmp.js'
import { fetchResolved, startResolved } from './resolved-ns.js'

const log = silentLogger()
const script = fileURLToPath(new URL('./host-dns-script.js', import.meta.url))
const hostResolvConf = await readFile(RESOLV_CONF, 'utf8')
const hostHadResolved = existsSync('/run/systemd/resolve')

const pkg = await fetchResolved()
const world = await NetnsWorld.create({ nodes: 1, log })
const ns = world.names.nodeNs(0)
const dir = await runTmpDir('host-dns-resolved', world.names.prefix)
t.teardown(async () => {
  await world.destroy()
  await rm(dir, { recursive: true, force: true })
})
// resolv.conf as resolved's stub makes it: glibc inside asks resolved, and resolved imports no servers from it.
const nsFile = world.writeEtc(ns, 'resolv.conf', `# test ${world.names.prefix}\nnameserver 127.0.0.53\noptions edns0 trust-ad\n`)
const identity = fileIdentity(nsFile)
const resolved = await startResolved({ world, ns, dir, pkg })
t.comment(`systemd-resolved from ${pkg.root}${pkg.libPath === '' ? '' : ` with LD_LIBRARY_PATH=${pkg.libPath}`}`)

// A veth stands in for the Weft interface (this kernel has no dummy module); resolved only needs a link with carrier.
const ifname = world.names.nodeWg(0)
await run(ipCmd(ns, '-batch', '-'), {
  input: `link add ${ifname} type veth peer name ${ifname}x\nlink set ${ifname} up\nlink set ${ifname}x up\naddr add 100.64.0.3/32 dev ${ifname}\n`
})
const server = world.spawn(ns, [process.execPath, script, 'serve'], { stdio: ['ignore', 'pipe', 'inherit'], name: 'dns' })
let queries = ''
server.stdout?.on('data', (b: Buffer) => { queries += b.toString() })
await waitFor('the test DNS server', () => queries.includes('ready\n'), 10_000)
const stateDir = join(dir, 'state')

async function inside (...args: string[]): Promise<string> {
  return (await resolved.exec([process.execPath, script, ...args, '--expect', identity, '--state', stateDir, '--ifname', ifname])).stdout
}
/** The lines of `resolvectl status IF` that are settings (not `Current DNS Server`, which appears after a query). */
const settings = (status: string): string[] => status.split('\n').map(l => l.trim()).filter(l => /^(DNS Servers|DNS Domain|Protocols):/.test(l))
const resolvectl = async (...args: string[]): Promise<string> => (await resolved.exec(['resolvectl', ...args])).stdout

// resolved learns links from netlink on its own schedule; a link it does not know yet refuses settings.
await waitFor(`resolved to know ${ifname}`, async () => await resolvectl('status', ifname).then(() => true, () => false), 10_000)

t.test('detection: the varlink socket answers; without it, the D-Bus name says the same', async (t) => {
  const probe = JSON.parse(await inside('probe')) as HostProbe
  t.ok(probe.resolvedRunning)
  t.equal(probe.resolvectl, join(pkg.root, 'usr/bin/resolvectl'))
  const viaBus = JSON.parse(await inside('probe', '--socket', '/run/systemd/resolve/not-there')) as HostProbe
  t.ok(viaBus.resolvedRunning, 'NameHasOwner org.freedesktop.resolve1 on the (private) system bus')
})

t.test('apply: the interface gets the mesh IP for ~weft.internal only; mesh names resolve, others never reach Weft', async (t) => {
  const st = JSON.parse(await inside('apply')) as HostDnsStatus
  t.equal(st.mode, 'resolved', st.reason)
  t.equal(st.lastError, null)
  t.match(st.applied, { server: '100.64.0.3', domain: 'weft.internal', interface: ifname, file: null })
  const link = await resolvectl('status', ifname)
  t.match(link, /DNS Servers: 100\.64\.0\.3/)
  t.match(link, /DNS Domain: ~weft\.internal/)
  t.match(link, /-DefaultRoute/, 'not the default route for other names')

  const q = await resolvectl('query', '--cache=no', 'node1.weft.internal')
  t.match(q, /node1\.weft\.internal: 100\.64\.0\.9\s/)
  t.match(q, new RegExp(`-- link: ${ifname}`))
  t.match((await resolved.exec(['getent', 'ahostsv4', 'node1.weft.internal'])).stdout, /^100\.64\.0\.9\s/, 'glibc, through the stub, too')
  await t.rejects(resolvectl('query', '--cache=no', 'example.org'), 'another name has nowhere to go here')
  t.notMatch(queries, /example\.org/, 'and never reached the mesh resolver')

  const again = JSON.parse(await inside('apply')) as HostDnsStatus
  t.equal(again.lastError, null, 'a restart applies again without error')
  t.same(settings(await resolvectl('status', ifname)), settings(link), 'and the link\'s settings are the same')
})

t.test('revert: the link has no DNS settings left and mesh names stop resolving through it', async (t) => {
  const st = JSON.parse(await inside('revert')) as HostDnsStatus
  t.equal(st.applied, null)
  t.equal(st.lastError, null)
  const link = await resolvectl('status', ifname)
  t.notMatch(link, /DNS Servers/)
  t.notMatch(link, /DNS Domain/)
  const before = queries.length
  await t.rejects(resolvectl('query', '--cache=no', 'node1.weft.internal'))
  t.equal(queries.length, before, 'no query reached the mesh resolver')
})

t.test('the host is untouched: its /etc/resolv.conf, and no resolved state in its /run', async (t) => {
  t.equal(await readFile(RESOLV_CONF, 'utf8'), hostResolvConf)
  t.equal(existsSync('/run/systemd/resolve'), hostHadResolved)
})
