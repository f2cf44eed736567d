import t from 'tap'
import { encodeHead, encodePacket, encodeUpdate, type Message, type Update } from '../../lib/swim/codec.js'
import { aliveSig, Cluster } from './cluster.js'

const craft = (from: string, msg: Message, updates: Update[]): Uint8Array => encodePacket(encodeHead(from, msg), updates.map(encodeUpdate))

/** A member's hostile claim about node 0: gossip from node 1's address, seen by node 0 itself and by node 2. */
function hostile (c: Cluster, u: Update): void {
  for (const to of [0, 2]) c.inject(to, c.addrs[1]!, craft(c.ids[1]!, { type: 'gossip' }, [u]))
}

for (const incarnation of [2 ** 32 + 10, 2 ** 40, 2 ** 48]) {
  for (const state of ['suspect', 'dead'] as const) {
    t.test(`a ${state} claim at ${incarnation}, above anything the member announced, changes nothing anywhere`, async t => {
      const c = new Cluster(4)
      c.runUntil(1000)
      const before = c.core(0).incarnation
      hostile(c, { state, id: c.ids[0]!, incarnation, from: c.ids[1]! })
      t.equal(c.core(0).incarnation, before, 'the member does not refute above its own incarnation')
      t.equal(c.view(2, 0), 'alive', 'a bystander does not adopt it')
      t.equal(c.core(2).member(c.ids[0]!)!.incarnation, before, 'nor its incarnation')
      t.equal(c.core(0).stats().claimsUnproven, 1, 'counted at the member')
      t.equal(c.core(2).stats().claimsUnproven, 1, 'counted at the bystander')
      c.runUntil(c.t + 10_000)
      t.equal(c.eventsAbout('suspect', 0).length + c.eventsAbout('dead', 0).length, 0, 'nobody ever suspected it')
      t.equal(c.core(0).incarnation, before)
    })
  }
}

t.test('an alive or left claim about a member without its signature is dropped', async t => {
  const c = new Cluster(4)
  c.runUntil(1000)
  hostile(c, { state: 'alive', id: c.ids[0]!, incarnation: 2 ** 40, from: c.ids[0]! })
  t.equal(c.core(0).incarnation, 0, 'the member does not jump past a claim it never signed')
  t.equal(c.core(2).member(c.ids[0]!)!.incarnation, 0, 'a bystander does not adopt it')
  hostile(c, { state: 'left', id: c.ids[0]!, incarnation: 0, from: c.ids[0]! })
  t.equal(c.view(2, 0), 'alive', 'a forged leave does not remove it')
  t.equal(c.core(2).stats().claimsUnsigned, 2)
  hostile(c, { state: 'alive', id: c.ids[0]!, incarnation: 5, from: c.ids[0]!, sig: new Uint8Array(64).fill(7) })
  t.equal(c.core(2).member(c.ids[0]!)!.incarnation, 0, 'a bad signature is no better')
  t.equal(c.core(2).stats().claimsBadSignature, 1)
})

t.test('a claim at the member\'s own incarnation is still refuted, and the signed refutation reaches members through relays', async t => {
  const c = new Cluster(5)
  c.runUntil(1000)
  // Only node 2 hears from node 0 directly; the others learn its refutation from gossip relayed by others.
  c.cut = (a, b) => a === 0 && b !== 2
  hostile(c, { state: 'suspect', id: c.ids[0]!, incarnation: 0, from: c.ids[1]! })
  t.equal(c.core(0).incarnation, 1, 'refuted at +1')
  c.runUntilTrue(() => [1, 2, 3, 4].every(i => c.core(i).member(c.ids[0]!)!.incarnation === 1 && c.view(i, 0) !== 'dead'), 5000)
  t.pass('every member holds the refutation, though only node 2 heard it from node 0')
  // Now a suspicion at incarnation 1 is a claim node 0 announced: it is applied, and refuted again.
  hostile(c, { state: 'suspect', id: c.ids[0]!, incarnation: 1, from: c.ids[1]! })
  t.equal(c.core(0).incarnation, 2)
})

t.test('many suspicions at the member\'s own incarnation raise it one at a time, never by a leap', async t => {
  const c = new Cluster(3)
  c.runUntil(1000)
  for (let k = 0; k < 100; k++) hostile(c, { state: 'suspect', id: c.ids[0]!, incarnation: c.core(0).incarnation, from: c.ids[1]! })
  t.equal(c.core(0).incarnation, 100)
})

t.test('an underlay announcement counts only with the member\'s signature', async t => {
  const c = new Cluster(3)
  c.runUntil(1000)
  const { incarnation, sig } = c.core(1).signedAlive()
  t.equal(incarnation, c.core(1).incarnation)
  t.equal(c.core(0).noteAlive(c.t, c.ids[1]!, incarnation + 5, sig), false, 'a signature of another incarnation')
  t.equal(c.core(0).noteAlive(c.t, c.ids[1]!, 2 ** 40, aliveSig(c.ids[2]!, 2 ** 40)), false, 'another member\'s signature')
  t.equal(c.core(0).stats().claimsBadSignature, 2)
  t.equal(c.core(0).member(c.ids[1]!)!.incarnation, 0)
})

t.test('a member\'s leave, relayed by another member, is believed on its signature', async t => {
  const c = new Cluster(3)
  c.runUntil(1000)
  // Node 2 hears nothing from node 0: it can learn of the leave only from node 1, which cannot sign for node 0.
  c.cut = (a, b) => a === 0 && b === 2
  c.core(0).leave(c.t)
  c.drain(0)
  c.runUntilTrue(() => c.view(1, 0) === 'left', 2000)
  c.runUntilTrue(() => c.view(2, 0) === 'left', 5000)
  t.equal(c.core(2).stats().claimsUnsigned, 0)
  t.equal(c.eventsAbout('dead', 0).length, 0, 'a leave, not a death')
})

/**
 * Node 0 holds node 2 at incarnation 0 while everyone else holds it at 1: node 2 refuted a suspicion while
 * nothing reached node 0 (as a node that joins after a member refuted holds it until anti-entropy catches up).
 */
function behind (n = 5): Cluster {
  const c = new Cluster(n)
  c.runUntil(1000)
  // Node 0 hears everything but news of node 2's incarnation.
  c.cut = (_from, to, packet) => to === 0 && packet.updates.some(u => u.id === c.ids[2] && u.incarnation > 0)
  c.inject(2, c.addrs[1]!, craft(c.ids[1]!, { type: 'gossip' }, [{ state: 'suspect', id: c.ids[2]!, incarnation: 0, from: c.ids[1]! }]))
  const others = Array.from({ length: n - 3 }, (_, k) => k + 3).concat([1])
  c.runUntilTrue(() => others.every(i => c.core(i).member(c.ids[2]!)!.incarnation === 1 && c.view(i, 2) === 'alive'), 5000)
  // Once the gossip is spent, only anti-entropy would tell node 0.
  c.runUntilTrue(() => c.cores.every(s => s === undefined || s.pendingBroadcasts === 0), 10_000)
  c.cut = (_from, to, packet) => to === 0 && packet.msg.type === 'sync' && packet.updates.some(u => u.id === c.ids[2] && u.incarnation > 0)
  return c
}

t.test('a suspicion at an incarnation the member never proved to us: a live member proves it in its answer to our check', async t => {
  const c = behind()
  t.equal(c.core(0).member(c.ids[2]!)!.incarnation, 0, 'node 0 is behind')
  c.inject(0, c.addrs[1]!, craft(c.ids[1]!, { type: 'gossip' }, [{ state: 'suspect', id: c.ids[2]!, incarnation: 1, from: c.ids[1]! }]))
  t.equal(c.view(0, 2), 'alive', 'the claim is not applied')
  t.equal(c.core(0).stats().unprovenChecks, 1, 'but checked')
  c.runUntilTrue(() => (c.core(0).member(c.ids[2]!)!.incarnation) >= 1 && c.view(0, 2) === 'alive', 2000, 1)
  t.ok(c.core(0).member(c.ids[2]!)!.incarnation >= 1, 'node 0 now holds the incarnation node 2 signed')
  t.equal(c.events.filter(x => x.node === 0 && x.e.type === 'suspect' && x.e.id === c.ids[2]).length, 0, 'node 0 never suspected it')
})

t.test('a suspicion at an incarnation the member never proved to us: a crashed member is suspected on our own silence', async t => {
  // 20 members: node 0's own probe round reaches node 2 about once every 4 s, so the check is what finds it.
  const c = behind(20)
  const mark = c.sent.length
  c.runUntilTrue(() => c.sent.slice(mark).some(s => s.from === 2 && s.to === 0 && s.packet.msg.type === 'ack'), 10_000, 1)
  c.crash(2)
  const confirmations = c.core(0).stats().confirmations
  const t0 = c.t
  c.inject(0, c.addrs[1]!, craft(c.ids[1]!, { type: 'gossip' }, [{ state: 'suspect', id: c.ids[2]!, incarnation: 1, from: c.ids[1]! }]))
  c.runUntilTrue(() => c.view(0, 2) !== 'alive', 5000, 1)
  const first = c.events.find(x => x.node === 0 && x.e.type === 'suspect' && x.e.id === c.ids[2])!
  t.match(first.e.reason, /never proved to us; no answer to our ping/, 'the check, not a probe round, found it')
  const cfg = c.core(0).config
  t.ok(c.t - t0 <= cfg.probeIntervalMs * cfg.awarenessMaxMultiplier, `within one probe interval, stretched by local health (${c.t - t0} ms)`)
  t.equal(c.core(0).member(c.ids[2]!)!.incarnation, 0, 'at the incarnation node 0 holds')
  t.equal(c.core(0).stats().confirmations, confirmations + 1, 'the claimant confirms it')
  c.runUntilTrue(() => c.view(0, 2) === 'dead', 10_000, 1)
  t.pass('and it ends in death')
})
