import t, { type Test } from 'tap'
import { waitFor } from '../../sim/wait.js'
import { freePort } from './udp.js'
import { Announcer, type AnnouncerOptions, type UnderlayPeer } from '../../lib/daemon/announcer.js'
import { ManualClock } from '../../lib/clock.js'
import { silentLogger } from '../../lib/log.js'
import { generateKeyPair } from '../../lib/wire/keys.js'
import { announceKey, encodeAnnounce } from '../../lib/daemon/announce-codec.js'
import { sharedSecret } from '../../lib/wire/keys.js'

/** A signature stand-in: the announcer carries it, the daemon's SWIM core checks it. */
const SIG = Buffer.alloc(64, 1)

/**
 * Two announcers `a` (incarnation 3) and `b` (incarnation 5) on loopback ports, started, not yet open, and
 * stopped at the end of the test; `onA` / `onB` set what each tells its daemon.
 */
async function pair (t: Test, onA: Partial<AnnouncerOptions>, onB: Partial<AnnouncerOptions>): Promise<{ A: Announcer, B: Announcer, clock: ManualClock }> {
  const clock = new ManualClock()
  const ka = generateKeyPair(); const kb = generateKeyPair()
  const [pa, pb] = [await freePort(), await freePort()]
  const dir: Record<string, UnderlayPeer> = {
    a: { publicKey: ka.publicKey, host: '127.0.0.1', port: pa },
    b: { publicKey: kb.publicKey, host: '127.0.0.1', port: pb }
  }
  const common = { lookup: (id: string) => dir[id] ?? null, onAlive: () => {}, onDeadNotice: () => {}, clock, log: silentLogger() }
  const A = new Announcer({ ...common, selfId: 'a', privateKey: ka.privateKey, port: pa, alive: () => ({ incarnation: 3, sig: SIG }), ...onA })
  const B = new Announcer({ ...common, selfId: 'b', privateKey: kb.privateKey, port: pb, alive: () => ({ incarnation: 5, sig: SIG }), ...onB })
  await A.start(); await B.start()
  t.teardown(() => { A.stop(); B.stop() })
  return { A, B, clock }
}

t.test('ping is answered with an ack; both sides learn the other is alive', async (t) => {
  const aliveAtA: Array<[string, number]> = []; const aliveAtB: Array<[string, number]> = []
  const { A, B } = await pair(t, { onAlive: (id, inc) => aliveAtA.push([id, inc]) }, { onAlive: (id, inc) => aliveAtB.push([id, inc]) })
  A.open(); B.open()
  A.ping('b')
  await waitFor('the ack to come back', () => aliveAtA.length === 1, 5000, 5)
  t.same(aliveAtB, [['a', 3]])
  t.same(aliveAtA, [['b', 5]])
  A.ping('nobody')
  t.equal(A.counters.sent, 1, 'unknown members are not pinged')
})

t.test('a dead notice carries the receiver\'s incarnation, is not answered, and is not taken as a sign of life', async (t) => {
  const aliveAtB: Array<[string, number]> = []; const deadAtB: Array<[string, number]> = []
  const { A, B } = await pair(t, {}, { onAlive: (id, inc) => aliveAtB.push([id, inc]), onDeadNotice: (id, inc) => deadAtB.push([id, inc]) })
  A.open(); B.open()
  A.pingDead('b', 4) // the notice, then a ping
  await waitFor('the ping to be answered', () => A.counters.accepted === 1, 5000, 5)
  t.same(deadAtB, [['a', 4]], 'b learns a holds it dead at incarnation 4')
  t.same(aliveAtB, [['a', 3]], 'only the ping says a is alive (at a\'s own incarnation)')
  t.equal(B.counters.sent, 1, 'b answered the ping only')
  A.notifyDead('nobody', 1)
  t.equal(A.counters.sent, 2, 'unknown members are not told')
})

t.test('replays, strangers, forgeries and garbage are counted and dropped', async (t) => {
  const clock = new ManualClock()
  const ka = generateKeyPair(); const kb = generateKeyPair(); const kc = generateKeyPair()
  const dir: Record<string, UnderlayPeer> = {
    a: { publicKey: ka.publicKey, host: '127.0.0.1', port: 9 },
    b: { publicKey: kb.publicKey, host: '127.0.0.1', port: 9 }
  }
  const alive: string[] = []
  const B = new Announcer({
    selfId: 'b',
    privateKey: kb.privateKey,
    port: 0,
    lookup: id => dir[id] ?? null,
    alive: () => ({ incarnation: 0, sig: SIG }),
    onAlive: id => alive.push(id),
    onDeadNotice: () => {},
    clock,
    log: silentLogger()
  })
  B.open()
  const key = announceKey(sharedSecret(ka.privateKey, kb.publicKey))
  const good = encodeAnnounce({ type: 'ack', from: 'a', to: 'b', incarnation: 1, timestampMs: clock.now(), sig: SIG }, key)
  B.receive(good, '127.0.0.1', 9)
  B.receive(good, '127.0.0.1', 9)
  t.same(alive, ['a'], 'a replay of an accepted message is refused')
  t.equal(B.counters.droppedStale, 1)
  B.receive(encodeAnnounce({ type: 'ack', from: 'a', to: 'b', incarnation: 1, timestampMs: clock.now() - 120_000, sig: SIG }, key), '127.0.0.1', 9)
  t.equal(B.counters.droppedStale, 2, 'outside the skew window')
  B.receive(encodeAnnounce({
    type: 'ack',
    from: 'c',
    to: 'b',
    incarnation: 1,
    timestampMs: clock.now() + 1,
    sig: SIG
  }, announceKey(sharedSecret(kc.privateKey, kb.publicKey))), '127.0.0.1', 9)
  t.equal(B.counters.droppedUnknownSender, 1, 'not in the netmap')
  B.receive(encodeAnnounce({
    type: 'ack',
    from: 'a',
    to: 'b',
    incarnation: 1,
    timestampMs: clock.now() + 2,
    sig: SIG
  }, announceKey(sharedSecret(kc.privateKey, kb.publicKey))), '127.0.0.1', 9)
  t.equal(B.counters.droppedBadMac, 1, 'claims to be a but keyed by c')
  B.receive(encodeAnnounce({ type: 'ack', from: 'a', to: 'x', incarnation: 1, timestampMs: clock.now() + 3, sig: SIG }, key), '127.0.0.1', 9)
  B.receive(Buffer.from('hello'), '127.0.0.1', 9)
  t.equal(B.counters.droppedLayout, 2, 'addressed to someone else, or not an announcement')
  t.same(alive, ['a'])
})

t.test('before open() nothing is answered or believed: the node has no tunnels to be probed through yet', async (t) => {
  const aliveAtA: string[] = []; const aliveAtB: string[] = []
  const { A, B, clock } = await pair(t, { onAlive: id => aliveAtA.push(id) }, { onAlive: id => aliveAtB.push(id) })
  A.open()
  A.ping('b')
  await waitFor('b to receive the ping', () => B.counters.received === 1, 5000, 5)
  t.equal(B.counters.droppedNotOpen, 1)
  t.same(aliveAtB, [], 'b tells nobody that a is alive')
  t.equal(B.counters.sent, 0, 'b does not ack')
  B.open()
  clock.advance(1)
  A.ping('b')
  await waitFor('the ack once b is open', () => aliveAtA.length === 1, 5000, 5)
  t.same(aliveAtB, ['a'])
})
