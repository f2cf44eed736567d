/**
 * Join tokens on every start, end to end on real wireguard-go in network namespaces: every daemon here is
 * started with `--join-token`, as a service unit starts it. A daemon with saved state comes up from it at
 * once, the controller down or not.
 */
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Mesh, waitFor } from '../../sim/cluster.js'
import type { NodeIdentity } from '../../lib/daemon/state.js'

const mesh = await Mesh.create(5)
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

async function fullMesh (nodes: number[]): Promise<boolean> {
  return (await Promise.all(nodes.map(async i => await hasExactly(i, nodes.filter(j => j !== i))))).every(Boolean)
}

async function allPairsPing (nodes: number[]): Promise<string[]> {
  const failures: string[] = []
  await Promise.all(nodes.flatMap(i => nodes.filter(j => j !== i).map(async j => {
    if (!await mesh.ping(i, ipOf.get(j)!)) failures.push(`${i}->${j}`)
  })))
  return failures
}

/** Whether every node of `nodes` holds `target` alive in SWIM and as a WireGuard peer. */
async function heldAlive (nodes: number[], target: number): Promise<boolean> {
  const views = await Promise.all(nodes.map(async i => (await mesh.tryStatus(i))?.peers.find(p => p.meshIp === ipOf.get(target))))
  return views.every(p => p?.swim === 'alive' && p.inWireGuard)
}

async function controllerStates (nodes: number[]): Promise<string[]> {
  return await Promise.all(nodes.map(async i => (await mesh.tryStatus(i))?.controller.state ?? 'down'))
}

async function identity (i: number): Promise<NodeIdentity> {
  return JSON.parse(await readFile(join(mesh.stateDir(i), 'node.json'), 'utf8')) as NodeIdentity
}

async function listed (): Promise<Array<{ id: string, publicKey: string, meshIp: string, health: string }>> {
  return (JSON.parse(await mesh.admin('nodes', 'list', '--json')) as { nodes: Array<{ id: string, publicKey: string, meshIp: string, health: string }> }).nodes
}

const first = [0, 1, 2]

t.test('restarted with its join token while the controller is down, a daemon comes up from saved state at once', async (t) => {
  for (const i of first) await mesh.startDaemon(i)
  await waitFor('three daemons to answer', async () => (await Promise.all(first.map(async i => await mesh.tryStatus(i)))).every(s => s !== null), 30_000)
  for (const i of first) await learn(i)
  await waitFor('a full mesh in wg show', async () => await fullMesh(first), 30_000)
  await waitFor('every node to hold the others alive', async () => (await Promise.all(first.map(async j => await heldAlive(first.filter(i => i !== j), j)))).every(Boolean), 20_000, 200)

  await mesh.stopController()
  await waitFor('daemons to notice', async () => (await controllerStates(first)).every(s => s === 'lost'), 30_000)
  const before = await mesh.status(1)
  const savedBefore = await identity(1)
  await mesh.stopDaemon(1, 'SIGKILL')
  await mesh.startDaemon(1)
  const took = await waitFor('node 1 to run the mesh from saved state', async () => {
    const s = await mesh.tryStatus(1)
    return s !== null && s.netmap !== null && s.peers.filter(p => p.inWireGuard).length === 2
  }, 20_000)
  t.comment(`kill -9 to running from saved state with the controller down: ${took} ms after the start`)
  const after = await mesh.status(1)
  t.same([after.node.id, after.node.meshIp, after.node.publicKey], [before.node.id, before.node.meshIp, before.node.publicKey], 'same id, mesh IP and key')
  t.equal(after.controller.state, 'lost', 'the controller is still down')
  t.same(await identity(1), savedBefore, 'the saved identity is untouched: no registration was attempted')
  t.same(mesh.events('n1', 'control.lost').filter(e => /cannot register yet/.test(String(e.msg))), [], 'no "cannot register yet" loop')
  await waitFor('its peers to hold it alive', async () => await heldAlive([0, 2], 1), 20_000, 200)
  await waitFor('every pair to ping', async () => (await allPairsPing(first)).length === 0, 20_000, 200)

  const registrations = mesh.events('controller', 'node.register').length
  await mesh.startController()
  await waitFor('every daemon to reconnect', async () => (await controllerStates(first)).every(s => s === 'connected'), 60_000, 200)
  await waitFor('the controller to see all three online', async () => {
    const nodes = await listed()
    return nodes.length === 3 && nodes.every(n => n.health === 'online')
  }, 30_000, 500)
  t.same((await listed()).map(n => n.publicKey).sort(), first.map(i => keyOf.get(i)).sort(), 'the same three nodes')
  t.equal(mesh.events('controller', 'node.register').length, registrations, 'nobody registered again')
  t.same(await identity(1), savedBefore, 'the credential still works: nothing rotated it')
  t.equal(new Set((await Promise.all(first.map(async i => await mesh.status(i)))).map(s => s.netmap?.epoch)).size, 1, 'one epoch everywhere')
  t.ok(await fullMesh(first), 'still a full mesh')
  t.same(await allPairsPing(first), [], 'every pair pings')
})
