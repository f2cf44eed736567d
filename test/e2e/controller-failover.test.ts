/**
 * Two controllers on one etcd (a member on the controller namespace's loopback), with real daemons given both
 * (`--controller A,B`). Controller 1 waits as a standby while controller 0 serves. kill -9 of controller 0: its
 * etcd lease runs out, controller 1 takes over with everything controller 0 acknowledged, and every daemon
 * opens its update channel there and keeps receiving deltas; the tunnels never stop.
 */
import t from 'tap'
import { Mesh, waitFor } from '../../sim/cluster.js'
import { stats } from '../../sim/report/analyze.js'

const N = 4
const mesh = await Mesh.create(N, { etcdMembers: 1, controllers: 2 })
t.teardown(async () => {
  if (!t.passing()) {
    const ev = [...Array(N).keys()].flatMap(i => ['control.connected', 'control.lost', 'control.failover'].flatMap(e => mesh.events(`n${i}`, e))
      .map(e => `n${i} ${JSON.stringify(e)}`))
    process.stderr.write(`--- mesh state at failure ---\n${await mesh.diagnose()}\n${ev.join('\n')}\n`)
  }
  await mesh.destroy()
})

const nodes = [...Array(N).keys()]
const [A, B] = mesh.controllerUrls

t.before(async () => {
  await mesh.startController(1, { wait: false })
  await waitFor('controller 1 to wait as a standby', () => mesh.events('controller-1', 'store.standby').length > 0, 30_000)
  for (const i of nodes) await mesh.startDaemon(i)
  await waitFor('a full mesh', async () => (await Promise.all(nodes.map(async i => (await mesh.wgPeers(i)).length === N - 1))).every(Boolean), 60_000)
})

t.test('while controller 0 serves, every daemon is on it and the standby serves nothing', async (t) => {
  for (const i of nodes) t.match((await mesh.status(i)).controller, { state: 'connected', url: A, urls: [A, B] })
  t.equal(mesh.events('controller-1', 'controller.listening').length, 0)
})

t.test('kill -9 of the serving controller: the standby takes over and every daemon moves to it, the tunnels untouched', async (t) => {
  const before = JSON.parse(await mesh.admin('nodes', 'list', '--json')) as { nodes: Array<{ id: string, meshIp: string }> }
  const killedAt = Date.now()
  await mesh.stopController('SIGKILL', 0)
  await waitFor('every daemon connected to controller 1', async () =>
    (await Promise.all(nodes.map(async i => (await mesh.tryStatus(i))?.controller))).every(c => c?.state === 'connected' && c.url === B), 60_000, 200)
  const moved = nodes.map(i => {
    const e = mesh.events(`n${i}`, 'control.connected').filter(x => x.controller === B && Number(x.time) >= killedAt)[0]
    return e === undefined ? null : Number(e.time) - killedAt
  })
  t.notOk(moved.includes(null), 'each daemon logged its channel open on controller 1')
  const s = stats(moved.filter((m): m is number => m !== null))
  t.comment(`kill -9 of the serving controller -> each daemon's channel open on the standby: p50 ${s.p50} ms, max ${s.max} ms ` +
    '(the standby waits out a 5 s etcd lease)')
  const after = JSON.parse(await mesh.adminOf(1, 'nodes', 'list', '--json')) as { nodes: Array<{ id: string, meshIp: string, health: string }> }
  t.same(after.nodes.map(n => [n.id, n.meshIp]), before.nodes.map(n => [n.id, n.meshIp]), 'controller 1 serves every node controller 0 had, with its IP')
  t.same(after.nodes.map(n => n.health), nodes.map(() => 'online'), 'every node online at controller 1')
  t.same(mesh.events('controller-1', 'health.change').filter(e => e.to !== 'online'), [],
    'and none was anything else there: the takeover is no outage of the nodes')
  for (const i of nodes) t.equal((await mesh.wgPeers(i)).length, N - 1, `node ${i} kept its tunnels`)
})

t.test('after the takeover, a change made through controller 1 reaches every daemon', async (t) => {
  const version = async (i: number): Promise<number> => (await mesh.status(i)).netmap?.version ?? 0
  const before = await Promise.all(nodes.map(version))
  await mesh.adminOf(1, 'nodes', 'tag', 'node-1', 'tag:moved')
  await waitFor('the delta at every daemon', async () => (await Promise.all(nodes.map(version))).every((v, k) => v > before[k]!), 10_000, 100)
  t.pass('every daemon applied a newer netmap')
})
