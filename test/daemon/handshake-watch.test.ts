import t from 'tap'
import { ManualClock } from '../../lib/clock.js'
import { HandshakeWatch, initiates } from '../../lib/daemon/handshake-watch.js'
import type { DevicePeer } from '../../lib/daemon/wg/device.js'
import { waitFor } from '../../sim/wait.js'

const SELF = 'M'
const LOW = 'A' // smaller than SELF: the other end initiates, we hold our keepalive
const HIGH = 'Z' // larger than SELF: we initiate

function world (): { clock: ManualClock, peers: Map<string, DevicePeer>, calls: string[], watch: HandshakeWatch, failRead: { on: boolean } } {
  const clock = new ManualClock(1_000_000)
  const peers = new Map<string, DevicePeer>()
  const calls: string[] = []
  const failRead = { on: false }
  const watch = new HandshakeWatch({
    clock,
    selfKey: SELF,
    readPeers: async () => { if (failRead.on) throw new Error('socket gone'); return [...peers.values()] },
    reset: async k => { calls.push(`reset ${k}`) },
    armKeepalive: async k => { calls.push(`arm ${k}`) },
    checkAfterMs: 1000,
    maxResets: 2
  })
  t.teardown(() => watch.stop())
  return { clock, peers, calls, watch, failRead }
}

const devicePeer = (publicKey: string, lastHandshakeMs: number): DevicePeer =>
  ({ publicKey, endpoint: null, allowedIps: [], keepaliveSeconds: 25, lastHandshakeMs, rxBytes: 0, txBytes: 148 })

t.test('both ends agree on exactly one initiator', async (t) => {
  t.equal(initiates('A', 'B'), true)
  t.equal(initiates('B', 'A'), false)
})

t.test('the responding end arms its keepalive at 1.5 x checkAfterMs, without reading the device', async (t) => {
  const { clock, calls, watch, peers } = world()
  watch.added([LOW])
  clock.advance(1499)
  await watch.run()
  t.same(calls, [])
  clock.advance(1)
  await watch.run()
  t.same(calls, [`arm ${LOW}`])
  t.equal(peers.size, 0)
  await watch.run()
  t.same(calls, [`arm ${LOW}`], 'once')
})

t.test('the initiating end leaves a handshaken peer alone and re-creates one without a handshake, at most maxResets times', async (t) => {
  const { clock, calls, watch, peers } = world()
  peers.set(HIGH, devicePeer(HIGH, 0))
  peers.set('Y', devicePeer('Y', clock.now() + 30))
  watch.added([HIGH, 'Y'])
  clock.advance(999)
  await watch.run()
  t.same(calls, [], 'not before checkAfterMs')
  clock.advance(1)
  await watch.run()
  t.same(calls, [`reset ${HIGH}`])
  t.equal(watch.resets, 1)
  for (let i = 0; i < 4; i++) { clock.advance(1000); await watch.run() }
  t.same(calls, [`reset ${HIGH}`, `reset ${HIGH}`], 'bounded by maxResets: the other end may simply be down')
})

t.test('a peer that got its handshake before a re-check is left alone', async (t) => {
  const { clock, calls, watch, peers } = world()
  peers.set(HIGH, devicePeer(HIGH, 0))
  watch.added([HIGH])
  clock.advance(1000)
  await watch.run()
  peers.set(HIGH, devicePeer(HIGH, clock.now()))
  clock.advance(1000)
  await watch.run()
  t.same(calls, [`reset ${HIGH}`])
})

t.test('removed peers, peers gone from the device and an unreadable device cause no action', async (t) => {
  const { clock, calls, watch, peers, failRead } = world()
  watch.added([HIGH, 'Y', LOW])
  watch.removed([LOW, 'Y'])
  clock.advance(2000)
  failRead.on = true
  await watch.run()
  failRead.on = false
  peers.set(HIGH, devicePeer(HIGH, 0))
  clock.advance(2000)
  await watch.run()
  t.same(calls, [], 'the unreadable check is dropped, not retried into a reset of a peer that may be fine')
  watch.added(['Y'])
  clock.advance(1000)
  await watch.run()
  t.same(calls, [], 'Y is not on the device')
})

t.test('the timer runs due entries by itself', async (t) => {
  const calls: string[] = []
  const watch = new HandshakeWatch({
    clock: { now: () => Date.now() },
    selfKey: SELF,
    readPeers: async () => [devicePeer(HIGH, 0)],
    reset: async k => { calls.push(`reset ${k}`) },
    armKeepalive: async k => { calls.push(`arm ${k}`) },
    checkAfterMs: 20,
    maxResets: 1
  })
  t.teardown(() => watch.stop())
  watch.added([HIGH, LOW])
  await waitFor('the watch to act on both peers', () => calls.length >= 2, 5000, 5)
  t.same(calls.sort(), [`arm ${LOW}`, `reset ${HIGH}`])
})
