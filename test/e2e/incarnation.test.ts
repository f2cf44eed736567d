/**
 * Hostile incarnation claims in a real mesh (four daemons on real wireguard-go in namespaces). A member may
 * claim anything about another, but only the member itself raises its own incarnation: suspicions and deaths
 * far above it, and an unsigned alive claim, change nothing anywhere, and the target still leaves and comes
 * back through a cut with its controller down.
 */
import t from 'tap'
import { Mesh, waitFor } from '../../sim/cluster.js'
import { encodeHead, encodePacket, encodeUpdate, type Update } from '../../lib/swim/codec.js'

const N = 4
const all = Array.from({ length: N }, (_, i) => i)
const TARGET = 0
const HOSTILE = 3
const mesh = await Mesh.create(N)
t.teardown(async () => {
  if (!t.passing()) process.stderr.write(`--- mesh state at failure ---\n${await mesh.diagnose()}\n`)
  await mesh.destroy()
})

const keyOf = new Map<number, string>()
const idOf = new Map<number, string>()
/** Each node's SWIM address, meshIp and port. */
const swimAddr = new Map<number, readonly [string, number]>()
const others = (x: number, from: number[] = all): number[] => from.filter(i => i !== x)
const live = others(HOSTILE)

async function peersHave (nodes: number[], target: number, want: boolean): Promise<boolean> {
  const r = await Promise.all(nodes.map(async i => (await mesh.wgPeers(i)).includes(keyOf.get(target)!) === want))
  return r.every(Boolean)
}

/** How node `i` holds the target: SWIM state and incarnation. */
async function viewOfTarget (i: number): Promise<{ swim: string | null, incarnation: number | null }> {
  const p = (await mesh.status(i)).peers.find(x => x.id === idOf.get(TARGET))
  return { swim: p?.swim ?? null, incarnation: p?.swimIncarnation ?? null }
}

/**
 * Sends `packets` from the hostile node's own SWIM address (its daemon is dead, its tunnels live on) to the
 * SWIM ports of `to`: WireGuard delivers them as the hostile member's.
 */
async function sendAsHostile (packets: Uint8Array[], to: number[]): Promise<void> {
  const [host, port] = swimAddr.get(HOSTILE)!
  const dests = to.map(i => swimAddr.get(i)!)
  const script = `
    const s = require('node:dgram').createSocket('udp4')
    const [host, port, dests, packets] = JSON.parse(process.argv[1])
    s.bind(port, host, async () => {
      for (let round = 0; round < 3; round++) {
        for (const [ip, p] of dests) for (const hex of packets) await new Promise(r => s.send(Buffer.from(hex, 'hex'), p, ip, r))
      }
      s.close()
    })`
  const arg = JSON.stringify([host, port, dests, packets.map(p => Buffer.from(p).toString('hex'))])
  await mesh.world.exec(mesh.ns(HOSTILE), [process.execPath, '-e', script, arg], { timeoutMs: 20_000 })
}

t.before(async () => {
  for (const i of all) await mesh.startDaemon(i)
  await waitFor('four daemons', async () => (await Promise.all(all.map(async i => await mesh.tryStatus(i)))).every(s => s !== null), 60_000)
  for (const i of all) {
    const s = await mesh.status(i)
    keyOf.set(i, s.node.publicKey); idOf.set(i, s.node.id); swimAddr.set(i, [s.node.meshIp, s.node.swimPort])
  }
  await waitFor('a full mesh', async () => (await Promise.all(all.map(async i => (await mesh.wgPeers(i)).length === N - 1))).every(Boolean), 60_000)
  // Alive at a real incarnation: heard from. A member never heard from is alive at incarnation 0 from the netmap,
  // and is never accused (lib/swim/grace.ts), so a cut of it would never be detected there.
  await waitFor(
    'SWIM to have heard from everyone',
    async () => (await Promise.all(all.map(async i => (await mesh.status(i)).peers.every(p => p.swim === 'alive' && (p.swimIncarnation ?? 0) > 0))))
      .every(Boolean),
    30_000
  )
})

t.test('claims far above the target\'s incarnation, and an unsigned alive claim, have no effect anywhere', async (t) => {
  const before = (await mesh.status(TARGET)).swim!.incarnation
  t.ok(before < 2 ** 32, `the target starts at the wall-clock second (${before})`)
  const target = idOf.get(TARGET)!
  const hostile = idOf.get(HOSTILE)!
  const claims: Update[] = [
    { state: 'suspect', id: target, incarnation: 2 ** 32 + 10, from: hostile },
    { state: 'dead', id: target, incarnation: 2 ** 48, from: hostile },
    { state: 'suspect', id: target, incarnation: 2 ** 53, from: hostile },
    { state: 'alive', id: target, incarnation: 2 ** 40, from: target }
  ]
  // The hostile member keeps its tunnels: only its daemon stops, and its packets come from its own address.
  await mesh.stopDaemon(HOSTILE, 'SIGKILL')
  await sendAsHostile(claims.map(u => encodePacket(encodeHead(hostile, { type: 'gossip' }), [encodeUpdate(u)])), live)
  const dropped = async (i: number): Promise<number> => {
    const c = (await mesh.status(i)).swim!.counters
    return (c.claimsUnproven ?? 0) + (c.claimsUnsigned ?? 0) + (c['dropped.malformed'] ?? 0)
  }
  await waitFor('every live node to have seen and dropped the claims', async () => (await Promise.all(live.map(dropped))).every(n => n >= 3), 15_000, 200)
  const after = (await mesh.status(TARGET)).swim!.incarnation
  t.ok(after < 2 ** 32, `the target did not refute above its own incarnation (${before} -> ${after})`)
  for (const i of others(TARGET, live)) {
    const v = await viewOfTarget(i)
    t.ok(v.incarnation !== null && v.incarnation < 2 ** 32, `node ${i} holds the target at its own incarnation (${v.incarnation})`)
    t.not(v.swim, 'dead', `node ${i} does not hold it dead`)
  }
  t.ok(await peersHave(others(TARGET, live), TARGET, true), 'the target stays in every live node\'s WireGuard config')
})

t.test('with the controller down, the target is removed by a cut and comes back when it heals', async (t) => {
  await mesh.stopController('SIGKILL')
  await mesh.world.setLoss(TARGET, 100)
  const removedMs = await waitFor('the target removed everywhere', async () => await peersHave(others(TARGET, live), TARGET, false), 30_000, 100)
  t.comment(`cut to removal: ${removedMs} ms`)
  await mesh.world.setLoss(TARGET, 0)
  const backMs = await waitFor('the target re-added everywhere', async () => await peersHave(others(TARGET, live), TARGET, true), 30_000, 100)
  t.comment(`heal to re-added: ${backMs} ms`)
  await waitFor(
    'every live node to hold it alive',
    async () => (await Promise.all(others(TARGET, live).map(viewOfTarget))).every(v => v.swim === 'alive'),
    30_000,
    200
  )
  const inc = (await mesh.status(TARGET)).swim!.incarnation
  t.ok(inc < 2 ** 32, `still at a real incarnation (${inc})`)
})
