/**
 * The controller and daemon end to end, on real wireguard-go in network namespaces: real `weft controller` and `weft daemon`
 * processes, checked from outside (wg show, ping) as well as through `weft status`.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { Mesh, WEFT, waitFor } from '../../sim/cluster.js'
import { inNetns } from '../../lib/daemon/wg/exec.js'

const N = 6
const mesh = await Mesh.create(N)
t.teardown(async () => {
  if (!t.passing()) process.stderr.write(`--- mesh state at failure ---\n${await mesh.diagnose()}\n`)
  await mesh.destroy()
})

const keyOf = new Map<number, string>()
const ipOf = new Map<number, string>()

async function learn (i: number): Promise<void> {
  const s = await mesh.status(i)
  keyOf.set(i, s.node.publicKey)
  ipOf.set(i, s.node.meshIp)
}

async function hasExactly (i: number, nodes: number[]): Promise<boolean> {
  const peers = new Set(await mesh.wgPeers(i))
  return peers.size === nodes.length && nodes.every(j => peers.has(keyOf.get(j)!))
}

async function allPairsPing (nodes: number[]): Promise<string[]> {
  const failures: string[] = []
  await Promise.all(nodes.flatMap(i => nodes.filter(j => j !== i).map(async j => {
    if (!await mesh.ping(i, ipOf.get(j)!)) failures.push(`${i}->${j}`)
  })))
  return failures
}

/** Runs `ping -i interval -c count` from node `i` and resolves with packets sent and received. */
function continuousPing (i: number, ip: string, intervalS: number, count: number): Promise<{ sent: number, received: number }> {
  const argv = inNetns(mesh.ns(i), ['ping', '-q', '-i', String(intervalS), '-c', String(count), '-W', '1', ip])
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (c: Buffer) => { out += c.toString() })
    p.on('error', reject)
    p.on('close', () => {
      const m = /(\d+) packets transmitted, (\d+) received/.exec(out)
      if (m === null) reject(new Error(`no ping summary: ${out}`))
      else resolve({ sent: Number(m[1]), received: Number(m[2]) })
    })
  })
}

const five = [0, 1, 2, 3, 4]

t.test('five daemons join: every node has the other four as peers and every pair pings', async (t) => {
  const t0 = Date.now()
  for (const i of five) await mesh.startDaemon(i)
  await waitFor('five daemons to answer', async () => (await Promise.all(five.map(async i => await mesh.tryStatus(i)))).every(s => s !== null), 30_000)
  for (const i of five) await learn(i)
  t.equal(new Set(five.map(i => ipOf.get(i))).size, 5, 'five distinct mesh IPs')
  await waitFor(
    'a full mesh in wg show',
    async () => (await Promise.all(five.map(async i => await hasExactly(i, five.filter(j => j !== i))))).every(Boolean),
    30_000
  )
  await waitFor('every pair to ping', async () => (await allPairsPing(five)).length === 0, 20_000, 200)
  t.same(await allPairsPing(five), [], 'all 20 ordered pairs ping over mesh IPs')
  t.comment(`N=5: daemon start to all-pairs ping in ${Date.now() - t0} ms`)
  // Tunnels can come up faster than SWIM settles: a member probed before its tunnel existed is suspect until
  // it refutes, a second or so later.
  const aliveIn = async (i: number): Promise<number> => (await mesh.status(i)).peers.filter(p => p.swim === 'alive' && p.inWireGuard).length
  await waitFor('every node to see four alive peers', async () => (await Promise.all(five.map(aliveIn))).every(n => n === 4), 15_000, 200)
  for (const i of five) t.equal(await aliveIn(i), 4, `node ${i} sees four alive peers in status`)
})

t.test('a sixth joins: every node adds it within a second of the controller acknowledgement', async (t) => {
  await mesh.startDaemon(5)
  await waitFor('node 5 to answer', async () => await mesh.tryStatus(5) !== null, 30_000)
  await learn(5)
  await waitFor(
    'everyone to add node 5',
    async () => (await Promise.all(five.map(async i => (await mesh.wgPeers(i)).includes(keyOf.get(5)!)))).every(Boolean),
    10_000
  )
  const nodeId = (await mesh.status(5)).node.id
  const acked = mesh.events('controller', 'node.register').find(e => e.nodeId === nodeId)?.time as number
  t.ok(acked > 0, 'the controller logged the acknowledged registration')
  const lags = five.map(i => {
    const add = mesh.events(`n${i}`, 'wg.peer.add').find(e => e.nodeId === nodeId)
    return (add?.time as number) - acked
  })
  t.comment(`join to wg.peer.add on each node (ms): ${lags.join(', ')}`)
  for (const lag of lags) t.ok(lag >= 0 && lag <= 1000, `added ${lag} ms after the acknowledgement`)
  t.ok(await mesh.ping(0, ipOf.get(5)!), 'node 0 pings node 5')
})

t.test('kill -9 a daemon and start it again: same identity, interface adopted, tunnel never drops', async (t) => {
  const before = await mesh.status(1)
  const ping = continuousPing(0, ipOf.get(1)!, 0.05, 160)
  await waitFor('the ping to get going', () => true, 100)
  await mesh.stopDaemon(1, 'SIGKILL')
  await mesh.startDaemon(1, { join: false })
  await waitFor('node 1 to answer again', async () => await mesh.tryStatus(1) !== null, 30_000)
  const after = await mesh.status(1)
  t.equal(after.node.publicKey, before.node.publicKey, 'same key')
  t.equal(after.node.meshIp, before.node.meshIp, 'same mesh IP')
  t.equal(after.node.id, before.node.id, 'same node id')
  t.ok(after.node.adopted, 'interface adopted, not recreated')
  const r = await ping
  t.comment(`continuous ping 0->1 across the restart: ${r.received}/${r.sent}`)
  t.equal(r.received, r.sent, 'no ping lost while the daemon was killed and restarted')
  for (const i of [0, 2, 3, 4, 5]) t.ok((await mesh.wgPeers(i)).includes(keyOf.get(1)!), `node ${i} kept node 1 as a peer`)
})

t.test('controller stopped: the mesh keeps working, a restarted daemon comes back from saved state, resync on return', async (t) => {
  const all = [0, 1, 2, 3, 4, 5]
  await mesh.stopController('SIGKILL')
  await waitFor(
    'daemons to notice',
    async () => (await Promise.all(all.map(async i => (await mesh.status(i)).controller.state))).every(s => s === 'lost'),
    30_000
  )
  t.same(await allPairsPing(all), [], 'all pairs ping with the controller down')
  await mesh.stopDaemon(2, 'SIGTERM')
  await mesh.startDaemon(2, { join: false })
  await waitFor('node 2 back from saved state', async () => {
    const s = await mesh.tryStatus(2)
    return s !== null && s.netmap !== null && s.peers.filter(p => p.inWireGuard).length === 5
  }, 30_000)
  t.equal((await mesh.status(2)).controller.state, 'lost', 'still without a controller')
  t.same(await allPairsPing(all), [], 'all pairs ping after the restart, controller still down')
  await mesh.startController()
  await waitFor(
    'every daemon to reconnect',
    async () => (await Promise.all(all.map(async i => (await mesh.status(i)).controller.state))).every(s => s === 'connected'),
    60_000,
    200
  )
  const epochs = new Set((await Promise.all(all.map(async i => await mesh.status(i)))).map(s => s.netmap?.epoch))
  t.equal(epochs.size, 1, 'every daemon holds the new controller epoch')
  t.same(await allPairsPing(all), [], 'all pairs ping after the resync')
})

t.test('weft nodes remove: every other node drops it and its credential stops working', async (t) => {
  const victim = (await mesh.status(5)).node.id
  await mesh.admin('nodes', 'remove', victim)
  await waitFor(
    'everyone to drop node 5',
    async () => (await Promise.all(five.map(async i => !(await mesh.wgPeers(i)).includes(keyOf.get(5)!)))).every(Boolean),
    10_000
  )
  await waitFor('node 5 to learn it was revoked', async () => (await mesh.status(5)).controller.state === 'revoked', 15_000)
  t.pass('removed everywhere')
  const list = JSON.parse(await mesh.admin('nodes', 'list', '--json')) as { nodes: Array<{ id: string }> }
  t.notOk(list.nodes.some(n => n.id === victim), 'gone from weft nodes list')
})

t.test('weft leave: the interface goes, the controller says left, every other node drops it', async (t) => {
  const leaver = 4
  const id = (await mesh.status(leaver)).node.id
  const child = mesh.daemons.get(leaver)!
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  const out = await mesh.world.exec(mesh.ns(leaver), [process.execPath, WEFT, 'leave', '--state', mesh.stateDir(leaver)])
  t.equal(out.stdout, `left the mesh (node ${id})\n`, 'and the controller was told (its 204 is a success)')
  t.equal(await exited, 3, 'the daemon exits with 3, which its systemd unit does not restart (a restart would join again)')
  mesh.daemons.delete(leaver)
  await t.rejects(mesh.world.exec(mesh.ns(leaver), ['ip', 'link', 'show', mesh.ifname(leaver)]), 'the WireGuard interface is gone')
  const rest = [0, 1, 2, 3]
  await waitFor(
    'everyone to drop the leaver',
    async () => (await Promise.all(rest.map(async i => !(await mesh.wgPeers(i)).includes(keyOf.get(leaver)!)))).every(Boolean),
    15_000
  )
  const list = JSON.parse(await mesh.admin('nodes', 'list', '--json')) as { nodes: Array<{ id: string, health: string }> }
  t.equal(list.nodes.find(n => n.id === id)?.health, 'left', 'weft nodes list says left')
})
