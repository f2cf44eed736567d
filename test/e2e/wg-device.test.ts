import t from 'tap'
import { systemClock } from '../../lib/clock.js'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { existsSync } from 'node:fs'
import { silentLogger } from '../../lib/log.js'
import { generateKeyPair, type KeyPair } from '../../lib/wire/keys.js'
import type { Netmap, NodeRecord } from '../../lib/wire/netmap.js'
import { desired, type DesiredPeer } from '../../lib/daemon/desired.js'
import { ensureInterface } from '../../lib/daemon/iface.js'
import { Reconciler } from '../../lib/daemon/reconciler.js'
import type { PeerOp, WireGuardDevice } from '../../lib/daemon/wg/device.js'
import { openDevice } from '../../lib/daemon/wg/open.js'
import { KernelDevice } from '../../lib/daemon/wg/kernel.js'
import { UapiDevice } from '../../lib/daemon/wg/uapi-device.js'
import { uapiSocketPath } from '../../lib/daemon/wg/uapi-socket.js'
import { pidAlive, socketOwners } from '../../lib/daemon/wg/wireguard-go.js'
import { NetnsWorld } from '../../sim/netns/world.js'
import { listNetns } from '../../sim/netns/cleanup.js'
import { waitFor } from '../../sim/wait.js'

const log = silentLogger()
const execFileP = promisify(execFile)
const N = 3
const PORT = 51820
const CIDR = '100.64.0.0/10'
const meshIp = (i: number): string => `100.64.0.${i + 1}`

/** Delegates to a real device and counts the calls, to show when the reconciler does not call it at all. */
class Counting implements WireGuardDevice {
  gets = 0
  applies = 0
  constructor (readonly inner: WireGuardDevice) {}
  get ifname (): string { return this.inner.ifname }
  get driver (): 'kernel' | 'userspace' { return this.inner.driver }
  get adopted (): boolean { return this.inner.adopted }
  async get (): ReturnType<WireGuardDevice['get']> { this.gets++; return await this.inner.get() }
  async apply (ops: readonly PeerOp[]): Promise<void> { this.applies++; await this.inner.apply(ops) }
  async applyBatch (ops: readonly PeerOp[]): Promise<void> { this.applies++; await this.inner.applyBatch(ops) }
  async configure (cfg: Parameters<WireGuardDevice['configure']>[0]): Promise<void> { await this.inner.configure(cfg) }
  async setFwmark (mark: number): Promise<void> { await this.inner.setFwmark(mark) }
  async destroy (): Promise<void> { await this.inner.destroy() }
}

async function pingStats (world: NetnsWorld, from: number, to: number, args: string[]): Promise<{ sent: number, received: number }> {
  // ping exits non-zero when replies are missing; its summary on stdout is what counts.
  const res = await execFileP('ip', ['netns', 'exec', world.names.nodeNs(from), 'ping', '-q', ...args, meshIp(to)], { timeout: 60_000, encoding: 'utf8' })
    .catch((err: { stdout?: string, message: string }) => ({ stdout: err.stdout ?? err.message }))
  const m = /(\d+) packets transmitted, (\d+) received/.exec(res.stdout)
  if (m === null) throw new Error(`no ping summary in: ${res.stdout}`)
  return { sent: Number(m[1]), received: Number(m[2]) }
}

const world = await NetnsWorld.create({ nodes: N, log })
const prefix = world.names.prefix
t.teardown(async () => { await world.destroy() })

const keys: KeyPair[] = Array.from({ length: N }, () => generateKeyPair())
const record = (i: number): NodeRecord => ({
  id: `node${i}`,
  hostname: `h${i}`,
  publicKey: keys[i]!.publicKey,
  meshIp: meshIp(i),
  endpoints: [`${world.names.nodeAddr(i)}:${PORT}`],
  observedEndpoint: null,
  swimPort: 7946,
  health: 'online',
  createdAt: 1,
  updatedAt: 1
})
const netmap: Netmap = { epoch: 'e', version: 1, cidr: CIDR, nodes: Array.from({ length: N }, (_, i) => record(i)) }
const devices: Counting[] = []
const reconcilers: Reconciler[] = []

t.test('interfaces come up with /32 mesh IP, MTU 1420 and the mesh route; a second setup changes nothing', async (t) => {
  for (let i = 0; i < N; i++) {
    const dev = new Counting(await world.openWireguard(i, { privateKey: keys[i]!.privateKey, listenPort: PORT }))
    t.equal(dev.adopted, false)
    t.equal(dev.driver, 'userspace')
    const setup = { ifname: world.names.nodeWg(i), meshIp: meshIp(i), cidr: CIDR, netns: world.names.nodeNs(i), log }
    const first = await ensureInterface(setup)
    // wireguard-go already makes its tun 1420 bytes, so only address, route and up are certain to change.
    t.ok(first.address && first.route && first.up, 'first setup adds address and route and brings the link up')
    t.same(await ensureInterface(setup), { mtu: false, up: false, address: false, removedAddresses: [], route: false }, 'idempotent')
    devices.push(dev)
    reconcilers.push(new Reconciler({ device: dev, log }))
  }
  const ns = world.names.nodeNs(0)
  const ifname = world.names.nodeWg(0)
  const addr = JSON.parse((await world.exec(ns, ['ip', '-j', 'addr', 'show', 'dev', ifname])).stdout)[0]
  t.equal(addr.mtu, 1420)
  t.same(
    addr.addr_info.filter((a: { family: string }) => a.family === 'inet').map((a: { local: string, prefixlen: number }) => `${a.local}/${a.prefixlen}`),
    ['100.64.0.1/32']
  )
  const routes = JSON.parse((await world.exec(ns, ['ip', '-j', 'route', 'show', 'dev', ifname])).stdout)
  t.same(routes.map((r: { dst: string }) => r.dst), [CIDR], 'exactly one route, the mesh CIDR')
  const other = { ifname: world.names.nodeWg(1), meshIp: meshIp(1), cidr: CIDR, netns: world.names.nodeNs(1), log }
  t.equal((await ensureInterface({ ...other, mtu: 1380 })).mtu, true, 'a different MTU is set')
  t.equal(JSON.parse((await world.exec(world.names.nodeNs(1), ['ip', '-j', 'link', 'show', 'dev', other.ifname])).stdout)[0].mtu, 1380)
  t.same(await ensureInterface(other), {
    mtu: true,
    up: false,
    address: false,
    removedAddresses: [],
    route: false
  }, 'back to the default, nothing else touched')
  const state = await devices[0]!.get()
  t.equal(state.publicKey, keys[0]!.publicKey)
  t.equal(state.listenPort, PORT)
})

t.test('peers applied from the netmap; ping over mesh IPs both ways', async (t) => {
  for (let i = 0; i < N; i++) {
    const res = await reconcilers[i]!.reconcile(desired(netmap, new Set(), `node${i}`))
    t.ok(res.ok)
    t.equal(res.applied.length, N - 1)
  }
  // These reconcilers run without the daemon's HandshakeWatch, so both ends of a pair initiate at once and
  // wireguard-go may refuse both answers until its own 5 s retry (docs/wireguard.md, "Who starts the
  // handshake"). Each tunnel gets two retries' worth of time to key; then every ping must come back.
  for (const [a, b] of [[0, 1], [0, 2], [1, 2]] as const) {
    await waitFor(`a handshake node${a} <-> node${b}`, async () => (await pingStats(world, a, b, ['-c', '1', '-W', '1'])).received === 1, 12_000, 100)
  }
  for (const [a, b] of [[0, 1], [1, 0], [0, 2], [2, 0], [1, 2], [2, 1]] as const) {
    const s = await pingStats(world, a, b, ['-c', '3', '-i', '0.05', '-W', '2'])
    t.same(s, { sent: 3, received: 3 }, `node${a} -> node${b}`)
  }
  const peers = (await devices[0]!.get()).peers
  t.same(peers.map(p => [p.publicKey, p.allowedIps, p.endpoint, p.keepaliveSeconds]).sort(), [1, 2].map(i => [
    keys[i]!.publicKey,
    [`${meshIp(i)}/32`],
    `${world.names.nodeAddr(i)}:${PORT}`,
    25
  ]).sort())
  t.ok(peers.every(p => p.lastHandshakeAt > 0), 'handshakes completed')
})

t.test('the same desired twice: no UAPI call at all', async (t) => {
  const dev = devices[0]!
  const before = { gets: dev.gets, applies: dev.applies }
  const res = await reconcilers[0]!.reconcile(desired(netmap, new Set(), 'node0'))
  t.same(res.applied, [])
  t.same({ gets: dev.gets, applies: dev.applies }, before)
})

t.test('SWIM-dead peer removed and returned; tunnel works again', async (t) => {
  const r = await reconcilers[0]!.reconcile(desired(netmap, new Set(['node2']), 'node0'))
  t.same(r.applied.map(c => [c.op.kind, c.nodeId, c.reason]), [['remove', 'node2', 'swim-dead']])
  t.equal((await devices[0]!.get()).peers.length, 1)
  const back = await reconcilers[0]!.reconcile(desired(netmap, new Set(), 'node0'))
  t.same(back.applied.map(c => [c.op.kind, c.nodeId]), [['add', 'node2']])
  t.same(await pingStats(world, 0, 2, ['-c', '3', '-i', '0.05', '-W', '2']), { sent: 3, received: 3 })
})

t.test('restart adoption: a new driver instance adopts the running interface; ping never stops', async (t) => {
  const ifname = world.names.nodeWg(0)
  const sock = uapiSocketPath(ifname)
  const pidBefore = (await socketOwners(new Set([sock]))).get(sock)
  const linkBefore = JSON.parse((await world.exec(world.names.nodeNs(0), ['ip', '-j', 'link', 'show', 'dev', ifname])).stdout)[0].ifindex
  t.equal(pidBefore?.length, 1)
  const ping = pingStats(world, 1, 0, ['-c', '200', '-i', '0.01', '-W', '2'])
  const adopted = await openDevice({ driver: 'auto', ifname, privateKey: keys[0]!.privateKey, listenPort: PORT, netns: world.names.nodeNs(0), log })
  t.equal(adopted.adopted, true)
  t.equal(adopted.driver, 'userspace')
  t.same(await ensureInterface({ ifname, meshIp: meshIp(0), cidr: CIDR, netns: world.names.nodeNs(0), log }), {
    mtu: false,
    up: false,
    address: false,
    removedAddresses: [],
    route: false
  })
  const counting = new Counting(adopted)
  const fresh = new Reconciler({ device: counting, log })
  const res = await fresh.reconcile(desired(netmap, new Set(), 'node0'))
  t.ok(res.ok)
  t.equal(res.readDevice, true)
  t.same(res.applied, [], 'adopted peers already right: nothing applied')
  t.equal(counting.applies, 0)
  t.same((await socketOwners(new Set([sock]))).get(sock), pidBefore, 'same wireguard-go process')
  const linkAfter = JSON.parse((await world.exec(world.names.nodeNs(0), ['ip', '-j', 'link', 'show', 'dev', ifname])).stdout)[0].ifindex
  t.equal(linkAfter, linkBefore, 'same interface (ifindex)')
  const s = await ping
  t.same(s, { sent: 200, received: 200 }, 'no ping lost across adoption')
  devices[0] = counting
  reconcilers[0] = fresh
})

t.test('continuous ping every 10 ms loses nothing while 100 other peers are added, updated and removed on both ends', async (t) => {
  // The fake peers' endpoints are closed ports on hosts that exist (the two nodes' underlay addresses), as a
  // real peer's endpoint is. Endpoints on the underlay subnet that nobody answers ARP for stall wireguard-go's
  // whole send path, this live tunnel included, for the 3 s the kernel takes to give up resolving them
  // (docs/wireguard.md, "Unresolvable endpoints"): that is a property of the underlay, not of churn.
  const fakes = Array.from({ length: 100 }, (_, k) => ({ key: generateKeyPair().publicKey, ip: `100.64.1.${k + 1}`, host: world.names.nodeAddr(k % 2) }))
  const fakePeers = (port: number): DesiredPeer[] => fakes.map((f, k) => ({
    nodeId: `fake${k}`,
    hostname: `fake-${k}`,
    meshIp: f.ip,
    publicKey: f.key,
    endpoint: `${f.host}:${port + k}`,
    allowedIps: [`${f.ip}/32`],
    keepaliveSeconds: 25
  }))
  const base = [0, 1].map(i => desired(netmap, new Set(), `node${i}`).peers)
  const ping = pingStats(world, 0, 1, ['-c', '1000', '-i', '0.01', '-W', '2'])
  let done = false
  void ping.finally(() => { done = true })
  let cycles = 0
  let incomplete = 0
  const counts = { add: 0, update: 0, remove: 0 }
  // eslint-disable-next-line no-unmodified-loop-condition -- the ping's finally sets done
  while (!done || cycles === 0) {
    for (const step of [fakePeers(40000), fakePeers(40200), []]) {
      const results = await Promise.all([0, 1].map(async i => await reconcilers[i]!.reconcile([...base[i]!, ...step])))
      for (const r of results) {
        if (!r.ok) incomplete++
        for (const c of r.applied) counts[c.op.kind]++
      }
    }
    cycles++
  }
  t.equal(incomplete, 0, `every one of ${cycles * 6} churn steps applied completely`)
  const s = await ping
  t.comment(`continuous ping: sent ${s.sent}, received ${s.received}, lost ${s.sent - s.received}; churn cycles ${cycles}, ops ${JSON.stringify(counts)}`)
  t.equal(s.sent, 1000)
  t.equal(s.received, s.sent, 'zero loss')
  t.equal(counts.add, 200 * cycles)
  t.equal(counts.update, 200 * cycles)
  t.equal(counts.remove, 200 * cycles)
  t.equal((await devices[0]!.get()).peers.length, N - 1, 'only the real peers remain')
})

t.test('bad input is refused whole: the rest applies, nothing of the bad peer reaches the device', async (t) => {
  const good = desired(netmap, new Set(), 'node1').peers
  const extra = (k: number, endpoint: string): DesiredPeer => ({
    nodeId: `x${k}`,
    hostname: `x-${k}`,
    meshIp: `100.64.2.${k}`,
    publicKey: generateKeyPair().publicKey,
    endpoint,
    allowedIps: [`100.64.2.${k}/32`],
    keepaliveSeconds: 25
  })
  // A hostname endpoint never comes out of desired(); wireguard-go would create the peer and then fail on it.
  const bad = extra(1, 'not-an-ip.example:51820')
  const fine = extra(2, '198.18.201.2:51820')
  const res = await reconcilers[1]!.reconcile([...good, bad, fine])
  t.equal(res.ok, false)
  t.same(res.failed.map(f => f.change.nodeId), ['x1'])
  t.equal((res.failed[0]!.error.cause as { code?: string }).code, 'WEFT_ERR_INVALID_INPUT')
  t.same(res.applied.map(c => c.nodeId), ['x2'], 'the independent change still went in')
  const onDevice = (await devices[1]!.get()).peers.map(p => p.publicKey)
  t.ok(onDevice.includes(fine.publicKey))
  t.notOk(onDevice.includes(bad.publicKey), 'no half-made peer on the device')
  const fixed = { ...bad, endpoint: '198.18.201.1:51820' }
  const again = await reconcilers[1]!.reconcile([...good, fixed, fine])
  t.ok(again.ok)
  t.same(again.applied.map(c => [c.op.kind, c.nodeId]), [['add', 'x1']])
  t.equal((await reconcilers[1]!.reconcile([...good, fixed, fine])).applied.length, 0)
  t.equal((await reconcilers[1]!.reconcile(good)).applied.length, 2)
})

t.test('wireguard-go dies mid-diff: the result says what went in; after a restart the next reconcile converges', async (t) => {
  const i = 1
  const ifname = world.names.nodeWg(i)
  const sock = uapiSocketPath(ifname)
  const [pid] = (await socketOwners(new Set([sock]))).get(sock) ?? []
  t.ok(pid)
  const fakes: DesiredPeer[] = Array.from({ length: 40 }, (_, k) => ({
    nodeId: `f${k}`,
    hostname: `f-${k}`,
    meshIp: `100.64.4.${k + 1}`,
    publicKey: generateKeyPair().publicKey,
    endpoint: `198.18.204.${k + 1}:51820`,
    allowedIps: [`100.64.4.${k + 1}/32`],
    keepaliveSeconds: 0
  }))
  const want = [...desired(netmap, new Set(), `node${i}`).peers, ...fakes]
  // Real device, real crash: the 10th peer change is the last one wireguard-go sees.
  const dev = devices[i]!
  const inner = dev.inner
  let seen = 0
  const crashing = new Counting({
    ...inner,
    ifname: inner.ifname,
    driver: inner.driver,
    adopted: inner.adopted,
    get: async () => await inner.get(),
    configure: async (c) => await inner.configure(c),
    destroy: async () => await inner.destroy(),
    apply: async (ops) => {
      await inner.apply(ops)
      if (++seen === 10) process.kill(pid!, 'SIGKILL')
    }
  })
  // One change per device call (no batches), so the crash falls between two known changes.
  const r = new Reconciler({ device: crashing, log, batchSize: 1 })
  const res = await r.reconcile(want)
  t.equal(res.ok, false)
  t.equal(res.applied.length, 10, 'ten changes went in before the crash')
  t.equal(res.failed.length, 3, 'three consecutive failures stop it')
  t.equal(res.notApplied.length, want.length - 2 - 10 - 3, 'the rest was not tried')
  // What a daemon does after its device vanished: open it again (a fresh wireguard-go) and set the interface up.
  const reopened = await world.openWireguard(i, { privateKey: keys[i]!.privateKey, listenPort: PORT })
  t.equal(reopened.adopted, false, 'the dead process left only a stale socket, so a new one was started')
  await ensureInterface({ ifname, meshIp: meshIp(i), cidr: CIDR, netns: world.names.nodeNs(i), log })
  const again = await r.reconcile(want)
  t.ok(again.ok)
  t.equal(again.readDevice, true)
  t.equal(again.applied.length, want.length, 'fresh device: every peer added')
  const peers = (await reopened.get()).peers
  t.equal(peers.length, want.length)
  t.same(await pingStats(world, 0, 1, ['-c', '3', '-i', '0.05', '-W', '2']), { sent: 3, received: 3 }, 'tunnel back')
  const trimmed = await r.reconcile(desired(netmap, new Set(), `node${i}`))
  t.equal(trimmed.applied.length, 40)
  reconcilers[i] = r
})

t.test('kernel driver (`wg` tool) reads and changes the same interface identically', async (t) => {
  const ifname = world.names.nodeWg(2)
  const ns = world.names.nodeNs(2)
  const viaWg = new KernelDevice({ ifname, netns: ns, adopted: true, log })
  const viaUapi = new UapiDevice({ ifname, netns: ns, adopted: true, clock: systemClock, log })
  const strip = (s: Awaited<ReturnType<WireGuardDevice['get']>>): unknown =>
    ({ ...s, peers: s.peers.map(p => [p.publicKey, p.endpoint, p.allowedIps, p.keepaliveSeconds]).sort() })
  t.same(strip(await viaWg.get()), strip(await viaUapi.get()))
  const k = generateKeyPair().publicKey
  await viaWg.apply([{ kind: 'add', peer: { publicKey: k, endpoint: '198.18.202.1:51820', allowedIps: ['100.64.3.1/32'], keepaliveSeconds: 0 } }])
  await viaWg.apply([{
    kind: 'update',
    peer: { publicKey: k, endpoint: '198.18.202.2:51820', allowedIps: ['100.64.3.1/32'], keepaliveSeconds: 15 },
    fields: ['endpoint', 'keepaliveSeconds']
  }])
  const p = (await viaUapi.get()).peers.find(x => x.publicKey === k)
  t.same(p && [p.endpoint, p.allowedIps, p.keepaliveSeconds], ['198.18.202.2:51820', ['100.64.3.1/32'], 15])
  await viaWg.apply([{ kind: 'remove', publicKey: k }])
  t.notOk((await viaUapi.get()).peers.some(x => x.publicKey === k))
  await t.rejects(viaWg.apply([{
    kind: 'add',
    peer: { publicKey: k, endpoint: 'nope:1', allowedIps: [], keepaliveSeconds: 0 }
  }]), { code: 'WEFT_ERR_DEVICE', applied: 0 })
})

t.test('impossible driver choices are config errors that say what to fix', async (t) => {
  const common = { privateKey: generateKeyPair().privateKey, listenPort: 51899, netns: world.names.nodeNs(2), log }
  await t.rejects(openDevice({
    ...common,
    driver: 'kernel',
    ifname: `${prefix}k0`
  }), { code: 'WEFT_ERR_CONFIG', message: /this kernel has no WireGuard module/ },
  'no kernel module on this machine')
  await t.rejects(openDevice({ ...common, driver: 'auto', ifname: world.names.nodeEth(2) }), { code: 'WEFT_ERR_CONFIG', message: /exists \(veth\)/ },
    'a name taken by another kind of link')
  await t.rejects(openDevice({ ...common, driver: 'auto', ifname: 'this-name-is-too-long' }), { code: 'WEFT_ERR_CONFIG' })
})

t.test('destroy removes the link and ends its wireguard-go', async (t) => {
  const ifname = world.names.nodeWg(2)
  const sock = uapiSocketPath(ifname)
  const pids = (await socketOwners(new Set([sock]))).get(sock) ?? []
  t.equal(pids.length, 1)
  await devices[2]!.destroy()
  t.notOk(existsSync(sock), 'socket gone')
  t.notOk(pidAlive(pids[0]!), 'wireguard-go exited')
  await t.rejects(world.exec(world.names.nodeNs(2), ['ip', 'link', 'show', 'dev', ifname]))
})

t.test('cleanup leaves no namespace, socket or process of this run', async (t) => {
  const sock = uapiSocketPath(world.names.nodeWg(0))
  const pids = (await socketOwners(new Set([sock]))).get(sock) ?? []
  await world.destroy()
  t.same(listNetns().filter(n => n.startsWith(prefix)), [])
  t.notOk(existsSync(sock))
  t.ok(pids.length === 1 && pids.every(p => !pidAlive(p)), 'wireguard-go processes gone')
})
