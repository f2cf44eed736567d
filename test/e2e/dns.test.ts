/**
 * Mesh names on real daemons in namespaces, asked with dig as an operator would. Node 1 manages its
 * namespace's /etc/resolv.conf (--dns-manage-resolv-conf), node 3 forwards nothing (--dns-forward=false). The
 * controller's namespace runs a stand-in for the hosts' own resolver (dns-tool.js upstream), which every
 * node's resolv.conf names (sim/netns/world.ts).
 */
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { Mesh, waitFor } from '../../sim/cluster.js'

const N = 4
const DNS_TOOL = fileURLToPath(new URL('./dns-tool.js', import.meta.url))
const mesh = await Mesh.create(N)
t.teardown(async () => {
  if (!t.passing()) {
    const kinds = ['dns.host.mode', 'dns.host.apply', 'dns.host.revert', 'dns.host.failed', 'dns.listen.failed', 'daemon.stopped']
    const ev = Array.from({ length: N }, (_, i) => i).flatMap(i => kinds.flatMap(e => mesh.events(`n${i}`, e)).map(e => `n${i} ${JSON.stringify(e)}`))
    process.stderr.write(`--- mesh state at failure ---\n${await mesh.diagnose()}\n${ev.join('\n')}\n`)
  }
  await mesh.destroy()
})

const meshIp: string[] = []
const ORIGINAL_RESOLV_CONF = `nameserver ${mesh.world.names.controllerAddr}\n`

/** What `dig` from node `from` gets: the status and the answers' data (`+short` style), asking `server` (default: its own resolver). */
async function dig (from: number, name: string, o: { type?: string, server?: string, tcp?: boolean } = {}): Promise<{ status: string, answers: string[] }> {
  const argv = ['dig', `@${o.server ?? meshIp[from]!}`, name, o.type ?? 'A', '+time=2', '+tries=1', '+noall', '+comments', '+answer',
    ...(o.tcp === true ? ['+tcp'] : [])]
  const r = await mesh.world.exec(mesh.ns(from), argv).catch((e: { stdout?: string }) => ({ stdout: String(e.stdout ?? '') }))
  const status = /status: (\w+)/.exec(r.stdout)?.[1] ?? 'no answer'
  const answers = r.stdout.split('\n').filter(l => l !== '' && !l.startsWith(';')).map(l => l.split(/\s+/).pop()!)
  return { status, answers }
}

/** The address node `from`'s resolver gives for `name`, or the status when there is none. */
async function resolve (from: number, name: string): Promise<string> {
  const r = await dig(from, name)
  return r.status === 'NOERROR' && r.answers.length === 1 ? r.answers[0]! : r.status
}

/** Waits until every node of `nodes` resolves `name` to `want` (an address or a status); returns how long that took. */
async function everywhere (nodes: readonly number[], name: string, want: string, timeoutMs: number): Promise<number> {
  const t0 = Date.now()
  await waitFor(`${name} -> ${want} on nodes ${nodes.join(',')}`, async () =>
    (await Promise.all(nodes.map(async i => await resolve(i, name)))).every(got => got === want), timeoutMs, 20)
  return Date.now() - t0
}

t.before(async () => {
  const upstream = mesh.world.spawn(mesh.world.names.controllerNs, [process.execPath, DNS_TOOL, 'upstream', mesh.world.names.controllerAddr],
    { stdio: ['ignore', 'pipe', 'ignore'], name: 'upstream' })
  await new Promise(resolve => upstream.stdout!.once('data', resolve))
  for (let i = 0; i < N; i++) {
    await mesh.startDaemon(i, { extra: i === 1 ? ['--dns-manage-resolv-conf'] : i === 3 ? ['--dns-forward=false'] : [] })
  }
  await waitFor('a full mesh', async () => (await Promise.all(Array.from({ length: N }, async (_, i) => (await mesh.wgPeers(i)).length === N - 1)))
    .every(Boolean), 60_000)
  for (let i = 0; i < N; i++) meshIp.push((await mesh.status(i)).node.meshIp)
})

t.test('every node answers for every node\'s name, over UDP and TCP, and for its address (PTR), also for other nodes over the mesh', async (t) => {
  const ms = await Promise.all(Array.from({ length: N }, async (_, i) => await everywhere([i], 'node-3.weft.internal', meshIp[3]!, 10_000)))
  t.comment(`node-3.weft.internal answered by every node's resolver within ${Math.max(...ms)} ms of the full mesh`)
  for (let from = 0; from < N; from++) {
    for (let k = 0; k < N; k++) t.equal(await resolve(from, `node-${k}.weft.internal`), meshIp[k], `node ${from} resolves node-${k}`)
  }
  t.same((await dig(0, 'NODE-2.Weft.Internal', { tcp: true })).answers, [meshIp[2]], 'over TCP, any letter case')
  t.same((await dig(0, meshIp[3]!.split('.').reverse().join('.') + '.in-addr.arpa', { type: 'PTR' })).answers, ['node-3.weft.internal.'])
  t.same((await dig(0, 'node-1.weft.internal', { server: meshIp[2] })).answers, [meshIp[1]], 'node 2\'s resolver answers node 0 over the mesh')
})

t.test('unknown names in the domain do not exist; known ones have no AAAA; other names are forwarded, or refused by flag', async (t) => {
  t.equal((await dig(0, 'nope.weft.internal')).status, 'NXDOMAIN')
  const aaaa = await dig(0, 'node-1.weft.internal', { type: 'AAAA' })
  t.same(aaaa, { status: 'NOERROR', answers: [] }, 'a known name without an IPv6 address: no data, no error')
  t.equal(await resolve(0, 'www.example.test'), '203.0.113.7', 'forwarded to the host\'s resolver')
  t.equal((await dig(0, 'nx.example.test')).status, 'NXDOMAIN', 'its NXDOMAIN relayed')
  t.equal((await dig(3, 'www.example.test')).status, 'REFUSED', '--dns-forward=false')
  t.equal(await resolve(3, 'node-0.weft.internal'), meshIp[0], 'while mesh names still resolve there')
})

t.test('the host: node 1 points its resolv.conf at the mesh resolver, so the C library resolves mesh names; the others say how to ask', async (t) => {
  const conf = (await mesh.world.exec(mesh.ns(1), ['cat', '/etc/resolv.conf'])).stdout
  t.match(conf, new RegExp(`^# Managed by Weft[^\\n]*\\nnameserver ${meshIp[1]!.replace(/\./g, '\\.')}\\nnameserver ${mesh.world.names.controllerAddr}\\n` +
    'search weft\\.internal\\n$'))
  const getent = await mesh.world.exec(mesh.ns(1), ['getent', 'hosts', 'node-2'])
  t.match(getent.stdout, new RegExp(`^${meshIp[2]!.replace(/\./g, '\\.')}\\s+node-2\\.weft\\.internal`), 'a short name, through the search list')
  const s1 = (await mesh.status(1)).dns
  t.match(s1, { listen: `${meshIp[1]}:53`, domain: 'weft.internal', names: N, forward: true, upstreams: [mesh.world.names.controllerAddr] })
  t.match(s1.host, { mode: 'resolv-conf', lastError: null })
  const s0 = await mesh.local(0, 'status')
  t.match(s0, new RegExp(`\\ndns {9}${meshIp[0]!.replace(/\./g, '\\.')}:53 answers \\*\\.weft\\.internal \\(${N} names\\)`))
  t.match(s0, /\ndns host {4}none: [^\n]*; ask it: dig @\S+ <name>\.weft\.internal/)
})

t.test('100,000 hostile datagrams do not crash a resolver, and it goes on answering', async (t) => {
  const before = (await mesh.status(0)).dns.counters
  // From node 0's own namespace, as the host's programs ask it: over the tunnel, wireguard-go drops some of a flood, and
  // the count of what the resolver read would say nothing.
  const r = await mesh.world.exec(mesh.ns(0), [process.execPath, DNS_TOOL, 'blast', meshIp[0]!, '100000', '7', 'node-1.weft.internal'], { timeoutMs: 240_000 })
  const blast = JSON.parse(r.stdout) as { sent: number, answered: number, batches: number, ms: number }
  t.comment(`100,000 datagrams at node 0's resolver in ${blast.ms} ms`)
  t.equal(blast.answered, blast.batches, 'every well-formed query between the batches was answered')
  const after = (await mesh.status(0)).dns.counters
  t.equal(after.udpQueries - before.udpQueries, blast.sent + blast.batches, 'the resolver read every datagram')
  const dropped = after.malformed - before.malformed
  t.ok(dropped > 0, 'the undecodable ones were counted and dropped')
  t.comment(`malformed ${dropped}, FORMERR ${after.formErrors - before.formErrors}, NOTIMP ${after.notImplemented - before.notImplemented}, ` +
    `REFUSED ${after.refused - before.refused}, internal errors ${after.internalErrors}`)
  t.equal(after.internalErrors, 0)
  t.equal(await resolve(0, 'node-3.weft.internal'), meshIp[3], 'and it answers as before')
})

t.test('a rename or a removal reaches every resolver with the netmap delta', async (t) => {
  await mesh.admin('nodes', 'rename', 'node-3', 'db')
  const renamed = await everywhere([0, 1, 2, 3], 'db.weft.internal', meshIp[3]!, 5000)
  t.comment(`rename: db.weft.internal answered by all ${N} resolvers ${renamed} ms after weft nodes rename returned`)
  for (let i = 0; i < N; i++) t.equal((await dig(i, 'node-3.weft.internal')).status, 'NXDOMAIN', `node ${i} forgot the old name`)
  t.same((await dig(1, meshIp[3]!.split('.').reverse().join('.') + '.in-addr.arpa', { type: 'PTR' })).answers, ['db.weft.internal.'])
  await mesh.admin('nodes', 'remove', 'node-2')
  const removed = await everywhere([0, 1, 3], 'node-2.weft.internal', 'NXDOMAIN', 5000)
  t.comment(`removal: node-2.weft.internal NXDOMAIN on the other ${N - 1} resolvers ${removed} ms after weft nodes remove returned`)
})

t.test('with the controller down: a node held dead keeps its name, and a restarted daemon answers from its saved netmap', async (t) => {
  await mesh.stopController()
  await mesh.crash(3)
  await waitFor('node 0 to hold db dead', async () => (await mesh.status(0)).peers.find(p => p.meshIp === meshIp[3])?.swim === 'dead', 30_000)
  t.equal(await resolve(0, 'db.weft.internal'), meshIp[3], 'names are identity, not health')
  t.match(await mesh.local(0, 'status'), /\nnode-3\s+db\.weft\.internal\s+.*\sdead\s/, 'weft status shows it down')
  await mesh.stopDaemon(0)
  await mesh.startDaemon(0, { join: false })
  await waitFor('node 0 to answer again', async () => (await mesh.tryStatus(0))?.dns.listen != null, 30_000)
  t.equal(await resolve(0, 'node-1.weft.internal'), meshIp[1], 'from the saved netmap')
  t.equal(await resolve(0, 'db.weft.internal'), meshIp[3])
  t.equal((await dig(0, 'node-2.weft.internal')).status, 'NXDOMAIN', 'the removal is in the saved netmap too')
})

t.test('weft leave puts the host\'s resolv.conf back as it was', async (t) => {
  await mesh.leave(1)
  const conf = await readFile(`/etc/netns/${mesh.ns(1)}/resolv.conf`, 'utf8')
  t.equal(conf, ORIGINAL_RESOLV_CONF)
})
