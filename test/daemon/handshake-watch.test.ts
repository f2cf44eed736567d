import t from 'tap'
import { ManualClock, systemClock } from '../../lib/clock.js'
import { checkHandshake, HandshakeWatch, needsHandshake } from '../../lib/daemon/handshake-watch.js'
import { initiates } from '../../lib/daemon/desired.js'
import type { DevicePeer } from '../../lib/daemon/wg/device.js'
import { waitFor } from '../../sim/wait.js'

const SELF = 'M'
const LOW = 'A' // smaller than SELF: the other end initiates; we added it held
const HIGH = 'Z' // larger than SELF: we initiate

interface World {
  clock: ManualClock
  peers: Map<string, DevicePeer>
  calls: string[]
  watch: HandshakeWatch
  failRead: { on: boolean }
  /** Advances the clock by `ms` and runs whatever the watch has due. */
  step: (ms: number) => Promise<void>
}

function world (): World {
  const clock = new ManualClock(1_000_000)
  const peers = new Map<string, DevicePeer>()
  const calls: string[] = []
  const failRead = { on: false }
  const watch = new HandshakeWatch({
    clock,
    selfKey: SELF,
    readPeers: async () => { if (failRead.on) throw new Error('socket gone'); return [...peers.values()] },
    reset: async (k, why) => { calls.push(`reset ${k} ${why}`) },
    arm: async ks => { calls.push(...ks.map(k => `arm ${k}`)) },
    checkAfterMs: 1000,
    maxResets: 2
  })
  t.teardown(() => watch.stop())
  const step = async (ms: number): Promise<void> => { clock.advance(ms); await watch.run() }
  return { clock, peers, calls, watch, failRead, step }
}

const devicePeer = (publicKey: string, lastHandshakeAt: number, rxBytes: number): DevicePeer =>
  ({ publicKey, endpoint: '198.18.1.1:51820', allowedIps: [], keepaliveSeconds: 25, lastHandshakeAt, rxBytes, txBytes: 148 })

t.test('both ends agree on exactly one initiator', async (t) => {
  t.equal(initiates('A', 'B'), true)
  t.equal(initiates('B', 'A'), false)
})

t.test('needsHandshake: none, a dark receive side (one initiation plus one response and nothing since), or fine', async (t) => {
  t.equal(needsHandshake({ lastHandshakeAt: 0, rxBytes: 0 }), 'none')
  t.equal(needsHandshake({ lastHandshakeAt: 0, rxBytes: 148 }), 'none', 'crossed initiations: both answers refused')
  t.equal(needsHandshake({ lastHandshakeAt: 5, rxBytes: 240 }), 'dark')
  t.equal(needsHandshake({ lastHandshakeAt: 5, rxBytes: 180 }), null, 'responder: initiation plus the confirming keepalive')
  t.equal(needsHandshake({ lastHandshakeAt: 5, rxBytes: 272 }), null, 'both handshakes and a keepalive')
})

t.test('the initiating end re-creates a peer whose initiations crossed after checkAfterMs, at most maxResets times', async (t) => {
  const { clock, calls, watch, peers, step } = world()
  peers.set(HIGH, devicePeer(HIGH, 0, 148))
  peers.set('Y', devicePeer('Y', clock.now() + 30, 500))
  watch.added([HIGH, 'Y'])
  await step(999)
  t.same(calls, [], 'not before checkAfterMs')
  await step(1)
  t.same(calls, [`reset ${HIGH} no-handshake`], 'the handshaken peer is left alone')
  t.equal(watch.resets, 1)
  for (let i = 0; i < 4; i++) await step(1000)
  t.same(calls, [`reset ${HIGH} no-handshake`, `reset ${HIGH} no-handshake`], 'bounded: the other end may simply be down')
})

t.test('an initiated peer that heard nothing yet is checked again, not re-created, until the other end speaks', async (t) => {
  const { calls, watch, peers, step } = world()
  peers.set(HIGH, devicePeer(HIGH, 0, 0))
  watch.added([HIGH])
  for (let i = 0; i < 3; i++) await step(1000)
  t.same(calls, [], 'silence: WireGuard keeps retrying its own initiation')
  peers.set(HIGH, devicePeer(HIGH, 0, 148))
  await step(1000)
  t.same(calls, [`reset ${HIGH} no-handshake`], 'the other end initiated too and no session came of it: crossed')
  peers.set(HIGH, devicePeer(HIGH, 0, 0))
  for (let i = 0; i < 10; i++) await step(1000)
  t.same(calls.length, 1, 'silent checks are bounded as well')
})

t.test('the responding end arms its held peers at 1.5 x checkAfterMs, never re-creating one without a handshake', async (t) => {
  const { clock, calls, watch, peers, step } = world()
  peers.set(LOW, devicePeer(LOW, 0, 0))
  peers.set('B', devicePeer('B', clock.now() + 10, 180))
  watch.added([LOW, 'B'])
  await step(1499)
  t.same(calls, [])
  await step(1)
  t.same(calls, [`arm ${LOW}`, 'arm B'], 'one arm call for every due peer; the keepalive starts our handshake where none is')
  await watch.run()
  t.same(calls, [`arm ${LOW}`, 'arm B'], 'once')
})

t.test('either end re-creates a peer whose receive side is dark', async (t) => {
  const { clock, calls, watch, peers, step } = world()
  peers.set(LOW, devicePeer(LOW, clock.now() + 5, 240))
  peers.set(HIGH, devicePeer(HIGH, clock.now() + 5, 240))
  watch.added([LOW, HIGH])
  await step(1500)
  t.same(calls.sort(), [`reset ${LOW} dark-receive`, `reset ${HIGH} dark-receive`])
  peers.set(LOW, devicePeer(LOW, clock.now(), 300))
  peers.set(HIGH, devicePeer(HIGH, clock.now(), 300))
  await step(1500)
  t.same(calls.slice(2), [`arm ${LOW}`], 'after a good re-check the responder arms (a no-op when the reset added it whole)')
})

t.test('removed peers, peers gone from the device and an unreadable device cause no action', async (t) => {
  const { calls, watch, peers, failRead, step } = world()
  watch.added([HIGH, 'Y', LOW])
  watch.removed([LOW, 'Y'])
  failRead.on = true
  await step(2000)
  failRead.on = false
  peers.set(HIGH, devicePeer(HIGH, 0, 0))
  await step(2000)
  t.same(calls, [], 'the unreadable check is dropped, not retried into a reset of a peer that may be fine')
  watch.added(['Y'])
  await step(1000)
  t.same(calls, [], 'Y is not on the device')
})

t.test('the timer runs due entries by itself', async (t) => {
  const calls: string[] = []
  const watch = new HandshakeWatch({
    clock: systemClock,
    selfKey: SELF,
    readPeers: async () => [devicePeer(HIGH, 0, 148), devicePeer(LOW, 0, 0)],
    reset: async k => { calls.push(`reset ${k}`) },
    arm: async ks => { calls.push(...ks.map(k => `arm ${k}`)) },
    checkAfterMs: 20,
    maxResets: 1
  })
  t.teardown(() => watch.stop())
  watch.added([HIGH, LOW])
  await waitFor('the watch to act on both peers', () => calls.length >= 2, 5000, 5)
  t.same(calls.sort(), [`arm ${LOW}`, `reset ${HIGH}`])
})

t.test('checkHandshake: the decision of one check, by what the device reports and which end initiates', async t => {
  const fresh = { resets: 0, checks: 0 }
  const spent = { resets: 3, checks: 5 }
  const rows: Array<[string, { lastHandshakeAt: number, rxBytes: number }, boolean, { resets: number, checks: number }, string]> = [
    ['a handshake and traffic: nothing to do', { lastHandshakeAt: 5, rxBytes: 1000 }, true, fresh, 'done'],
    ['the responder after a handshake: arm its keepalive', { lastHandshakeAt: 5, rxBytes: 1000 }, false, fresh, 'arm'],
    ['no handshake, something received: the initiations crossed', { lastHandshakeAt: 0, rxBytes: 148 }, true, fresh, 'reset'],
    ['no handshake, silence: check again', { lastHandshakeAt: 0, rxBytes: 0 }, true, fresh, 'recheck'],
    ['silence after every check: leave it to WireGuard', { lastHandshakeAt: 0, rxBytes: 0 }, true, spent, 'done'],
    ['a dark receive side, at either end', { lastHandshakeAt: 5, rxBytes: 148 + 92 }, false, fresh, 'reset'],
    ['dark after every reset: the responder arms', { lastHandshakeAt: 5, rxBytes: 148 + 92 }, false, spent, 'arm']
  ]
  for (const [what, peer, initiator, history, kind] of rows) t.equal(checkHandshake(peer, initiator, history, 3).kind, kind, what)
  t.same(checkHandshake({ lastHandshakeAt: 5, rxBytes: 240 }, true, fresh, 3), { kind: 'reset', reason: 'dark-receive' })
  t.same(checkHandshake({ lastHandshakeAt: 0, rxBytes: 148 }, true, fresh, 3), { kind: 'reset', reason: 'no-handshake' })
})
