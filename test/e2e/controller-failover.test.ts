/**
 * Three controllers on a three-member etcd cluster (in the controller namespace), all serving, with real
 * daemons spread over them (`--controller` lists all three, each daemon starting at another). Registrations
 * through all three at once; kill -9 of a controller, and of the etcd leader, in the middle of a burst of
 * registrations: everything acknowledged is there afterwards and no address is given twice, the daemons of
 * the killed controller (the one most are on) move to another and keep receiving deltas, and no daemon's node
 * leaves `online`.
 * Controller 2 reaches only etcd member 2: stopping that member cuts it off, and it stops taking writes and
 * sends its daemons away. WEFT_FAILOVER_RUNS sets how many controller kills (default 2).
 */
import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Mesh, waitFor } from '../../sim/cluster.js'
import { until } from '../control/helpers.js'
import type { BurstResult } from '../../sim/register-burst.js'
import { stats } from '../../sim/report/analyze.js'

const N = 6
const RUNS = Number(process.env.WEFT_FAILOVER_RUNS ?? 2)
const mesh = await Mesh.create(N, { etcdMembers: 3, controllers: 3 })
t.teardown(async () => {
  if (!t.passing()) {
    const ev = [...Array(N).keys()].flatMap(i => ['control.connected', 'control.lost', 'control.failover'].flatMap(e => mesh.events(`n${i}`, e))
      .map(e => `n${i} ${JSON.stringify(e)}`))
    process.stderr.write(`--- mesh state at failure ---\n${await mesh.diagnose()}\n${ev.join('\n')}\n`)
  }
  await mesh.destroy()
})

const nodes = [...Array(N).keys()]
const urls = mesh.controllerUrls

interface Listed { id: string, hostname: string, meshIp: string, health: string }
async function listed (k: number): Promise<Listed[]> {
  return (JSON.parse(await mesh.adminOf(k, 'nodes', 'list', '--json')) as { nodes: Listed[] }).nodes
}

/** The daemons' nodes that any running controller logged leaving `online` since `since`. */
function offlineSince (since: number): unknown[] {
  return [0, 1, 2].flatMap(k => mesh.events(k === 0 ? 'controller' : `controller-${k}`, 'health.change'))
    .filter(e => Number(e.time) >= since && String(e.hostname).startsWith('node-') && e.to !== 'online')
}

/**
 * What a burst's acknowledgements left in the store, as controller `k` lists it: lost ones, and addresses held
 * twice. A registration through another controller reaches `k` through its watch, within a second: what is
 * still missing after 3 s is lost.
 */
async function audit (k: number, acked: BurstResult[]): Promise<{ lost: number, duplicateIps: number, wrongIp: number }> {
  const ids = acked.flatMap(a => a.ok ? [a.nodeId] : [])
  let all = await listed(k)
  await until(async () => { all = await listed(k); const have = new Set(all.map(n => n.id)); return ids.every(id => have.has(id)) }, 3000)
  const byId = new Map(all.map(n => [n.id, n]))
  let lost = 0
  let wrongIp = 0
  for (const a of acked) {
    if (!a.ok) continue
    const n = byId.get(a.nodeId)
    if (n === undefined) lost++
    else if (n.meshIp !== a.meshIp) wrongIp++
  }
  return { lost, wrongIp, duplicateIps: all.length - new Set(all.map(n => n.meshIp)).size }
}

/** The daemons' WireGuard public keys (the burst's nodes are peers too, so peers are checked by key). */
let keys: string[] = []

t.before(async () => {
  await mesh.startController(1)
  await mesh.startController(2, { etcdEndpoints: [mesh.etcdEndpoints[2]!] })
  for (const i of nodes) await mesh.startDaemon(i)
  await waitFor('a full mesh', async () => (await Promise.all(nodes.map(async i => (await mesh.wgPeers(i)).length === N - 1))).every(Boolean), 60_000)
  keys = await Promise.all(nodes.map(async i => (await mesh.status(i)).node.publicKey))
})

t.test('every controller serves, and the daemons spread over them', async (t) => {
  for (const i of nodes) t.match((await mesh.status(i)).controller, { state: 'connected', url: mesh.controllerUrlsFor(i)[0] })
  for (const k of [0, 1, 2]) t.equal((await listed(k)).length, N, `controller ${k} lists every node`)
})

t.test('registrations through all three at once get distinct addresses, and a single-use token admits one node', async (t) => {
  const acked = await mesh.registerBurst([0, 1, 2], 30, { concurrency: 12 })
  t.equal(acked.filter(r => r.ok).length, 30, 'every registration acknowledged')
  t.same(await audit(1, acked), { lost: 0, duplicateIps: 0, wrongIp: 0 })
  const single = (await mesh.admin('token', 'create', '--ttl', '10m')).trim()
  const spent = await mesh.registerBurst([0, 1, 2], 3, { concurrency: 3, token: single })
  t.equal(spent.filter(r => r.ok).length, 1, 'one of three concurrent registrations with it, each through another controller, is admitted')
  t.match(spent.filter(r => !r.ok).map(r => !r.ok && r.error), [/403 WEFT_ERR_TOKEN_REJECTED/, /403 WEFT_ERR_TOKEN_REJECTED/])
})

t.test('a controller cut off from etcd stops taking writes and sends its daemons away; back, it serves again', async (t) => {
  const movers: number[] = []
  for (const i of nodes) if ((await mesh.status(i)).controller.url === urls[2]) movers.push(i)
  t.ok(movers.length > 0, `${movers.length} daemons on controller 2`)
  const cutAt = Date.now()
  await mesh.killEtcdMember(2)
  await waitFor('controller 2 to refuse writes', async () => {
    try { await mesh.adminOf(2, 'token', 'create', '--ttl', '1m'); return false } catch (err) { return /cut off from it|refuses writes|503/.test(String(err)) }
  }, 30_000, 250)
  t.match(mesh.events('controller-2', 'store.isolated')[0], { reason: /no etcd member answered/ }, 'it says why')
  await waitFor('its daemons on another controller', async () =>
    (await Promise.all(movers.map(async i => (await mesh.tryStatus(i))?.controller))).every(c => c?.state === 'connected' && c.url !== urls[2]), 30_000, 200)
  t.comment(`etcd member 2 stopped -> controller 2 refused writes and its ${movers.length} daemons moved within ${Date.now() - cutAt} ms`)
  t.ok((await mesh.adminOf(0, 'token', 'create', '--ttl', '1m')).trim().length > 0, 'the others still take writes')
  mesh.startEtcdMember(2)
  await mesh.etcdHealthy(2)
  await waitFor('controller 2 to take writes again', async () => {
    try { await mesh.adminOf(2, 'token', 'create', '--ttl', '1m'); return true } catch { return false }
  }, 30_000, 250)
  t.ok(mesh.events('controller-2', 'store.rejoined').length > 0, 'and says it is back')
  const later = await mesh.registerBurst([0], 1)
  t.same(await audit(2, later), { lost: 0, duplicateIps: 0, wrongIp: 0 }, 'and follows the others\' writes again')
})

t.test(`kill -9 of a controller in the middle of a burst of registrations, ${RUNS} times`, async (t) => {
  const reconnect: number[] = []
  let lost = 0
  let duplicates = 0
  for (let run = 0; run < RUNS; run++) {
    // The controller most daemons are on now (they stay where a failover took them).
    const on = await Promise.all(nodes.map(async i => urls.indexOf((await mesh.status(i)).controller.url)))
    const victim = [0, 1, 2].reduce((a, b) => on.filter(k => k === b).length > on.filter(k => k === a).length ? b : a)
    const other = (victim + 1) % 3
    const movers = nodes.filter(i => on[i] === victim)
    let killedAt = 0
    let kill: Promise<void> | null = null
    const acked = await mesh.registerBurst([victim, other, (victim + 2) % 3], 45, {
      concurrency: 9,
      onAck: n => { if (n === 10 && kill === null) { killedAt = Date.now(); kill = mesh.stopController('SIGKILL', victim) } }
    })
    await kill
    t.ok(killedAt > 0, `run ${run}: controller ${victim} killed mid-burst`)
    const a = await audit(other, acked)
    t.same(a, { lost: 0, duplicateIps: 0, wrongIp: 0 }, `run ${run}: ${acked.filter(r => r.ok).length} acknowledged, all there, no address twice`)
    lost += a.lost
    duplicates += a.duplicateIps
    await waitFor('the killed controller\'s daemons on another', async () =>
      (await Promise.all(movers.map(async i => (await mesh.tryStatus(i))?.controller)))
        .every(c => c?.state === 'connected' && c.url !== urls[victim]), 30_000, 100)
    for (const i of movers) {
      const e = mesh.events(`n${i}`, 'control.connected').find(x => Number(x.time) >= killedAt && x.controller !== urls[victim])
      if (e !== undefined) reconnect.push(Number(e.time) - killedAt)
    }
    t.same(offlineSince(killedAt), [], `run ${run}: no daemon's node left online at any controller`)
    // A change through a surviving controller reaches every daemon, wherever it is now: a new policy version, enforced.
    const file = join(mesh.dir, `policy-${run}.json`)
    await writeFile(file, `{ "acls": [ { "action": "accept", "src": ["*"], "dst": ["*:*"] } ] } // run ${run}\n`)
    await mesh.adminOf(other, 'policy', 'set', file)
    const want = run + 1
    await waitFor(`policy version ${want} enforced at every daemon`, async () =>
      (await Promise.all(nodes.map(async i => (await mesh.status(i)).policy.version))).every(v => v === want), 10_000, 100)
    for (const i of nodes) {
      const peers = new Set(await mesh.wgPeers(i))
      t.ok(keys.every((k, j) => j === i || peers.has(k)), `run ${run}: node ${i} kept a peer for every other daemon`)
    }
    await mesh.startController(victim, victim === 2 ? { etcdEndpoints: [mesh.etcdEndpoints[2]!] } : {})
  }
  const s = stats(reconnect)
  t.ok(reconnect.length >= 2 * RUNS, `${reconnect.length} daemons moved, at least two a kill`)
  t.comment(`controller kill -9 -> its daemons' channel open on another: p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms (${reconnect.length} moves); ` +
    `over ${RUNS} kills: ${lost} acknowledged registrations lost, ${duplicates} addresses held twice`)
})

t.test('kill -9 of the etcd leader in the middle of a burst of registrations', async (t) => {
  const leader = await mesh.etcdLeader()
  t.not(leader, null)
  let kill: Promise<void> | null = null
  const acked = await mesh.registerBurst([0, 1], 40, {
    concurrency: 8,
    onAck: n => { if (n === 10 && kill === null) kill = mesh.killEtcdMember(leader!) }
  })
  await kill
  t.ok(acked.filter(r => r.ok).length >= 30, `${acked.filter(r => r.ok).length} of 40 acknowledged across the election`)
  t.same(await audit(0, acked), { lost: 0, duplicateIps: 0, wrongIp: 0 }, 'every acknowledged one there, no address twice')
  mesh.startEtcdMember(leader!)
  await mesh.etcdHealthy(leader!)
})
