import t from 'tap'
import { needsHandshake } from '../../../lib/daemon/handshake-watch.js'
import { SeededRandom } from '../../../lib/swim/random.js'
import { EventHeap, type Timed } from '../../../sim/virtual/heap.js'
import { REKEY_TIMEOUT_MS, WireGuardModel, type WgMessage } from '../../../sim/virtual/wireguard.js'

/** Two or more devices on an underlay with a fixed one-way latency, driven by an event heap. */
function world (nodes: number, opts: { darkCrossing?: number, latencyMs?: number } = {}): {
  wg: WireGuardModel
  delivered: Array<{ t: number, to: number, from: number, text: string }>
  runUntil: (t: number) => void
  /** Drops every underlay message while true. */
  cut: { on: boolean }
} {
  interface Ev extends Timed { run: () => void }
  const heap = new EventHeap<Ev>()
  const latency = opts.latencyMs ?? 5
  const delivered: Array<{ t: number, to: number, from: number, text: string }> = []
  const cut = { on: false }
  let now = 0
  const wg: WireGuardModel = new WireGuardModel(nodes, {
    send: (at, from, to, msg: WgMessage) => {
      if (!cut.on) heap.push({ t: at + latency, seq: 0, run: () => wg.receive(now, to, from, msg) })
    },
    schedule: (at, node, peer, gen) => heap.push({ t: at, seq: 0, run: () => wg.timer(now, node, peer, gen) }),
    deliver: (at, to, from, payload) => delivered.push({ t: at, to, from, text: Buffer.from(payload).toString() })
  }, new SeededRandom(1), opts.darkCrossing === undefined ? {} : { darkCrossing: opts.darkCrossing })
  const runUntil = (until: number): void => {
    for (;;) {
      const ev = heap.pop()
      if (ev === undefined) break
      if (ev.t > until) { heap.push(ev); break }
      now = ev.t
      ev.run()
    }
    now = until
  }
  return { wg, delivered, runUntil, cut }
}

const bytes = (s: string): Uint8Array => Buffer.from(s)

t.test('the initiating end adds, the other holds: one handshake, then data both ways', async t => {
  const { wg, delivered, runUntil } = world(2)
  wg.add(0, 1, 0, true)
  wg.add(0, 0, 1, false)
  runUntil(20)
  t.ok(wg.established(0, 1), 'initiation, response and the confirming keepalive took two round trips')
  t.equal(wg.counters.handshakes, 1)
  t.equal(wg.counters.crossings, 0)
  wg.sendData(20, 1, 0, bytes('from 1'))
  wg.sendData(20, 0, 1, bytes('from 0'))
  runUntil(40)
  t.same(delivered.map(d => d.text).sort(), ['from 0', 'from 1'])
  t.ok(wg.peerState(1, 0)!.lastHandshakeAt > 0, 'the responder counts the handshake once the session is confirmed')
})

t.test('an initiation to a device without us is dropped and retried after REKEY_TIMEOUT', async t => {
  const { wg, runUntil } = world(2)
  wg.add(0, 0, 1, false)
  runUntil(100)
  t.equal(wg.counters.droppedUnknown, 1, 'node 1 does not have node 0 yet')
  t.notOk(wg.established(0, 1))
  wg.add(100, 1, 0, true)
  runUntil(REKEY_TIMEOUT_MS - 1)
  t.notOk(wg.established(0, 1), 'nothing happens before the retry')
  runUntil(REKEY_TIMEOUT_MS + 400)
  t.ok(wg.established(0, 1), 'the retry, within its jitter, completes the handshake')
})

t.test('packets to a peer without a session are staged and go out once the handshake completes', async t => {
  const { wg, delivered, runUntil } = world(2)
  wg.add(0, 0, 1, true)
  wg.add(0, 1, 0, true)
  t.ok(wg.sendData(0, 0, 1, bytes('a')))
  t.ok(wg.sendData(0, 0, 1, bytes('b')))
  runUntil(30)
  t.same(delivered.filter(d => d.to === 1).map(d => d.text), ['a', 'b'], 'a held peer with data to send starts the handshake itself')
})

t.test('a packet to a node that is not a peer is dropped and counted', async t => {
  const { wg } = world(3)
  t.notOk(wg.sendData(0, 0, 2, bytes('x')))
  t.equal(wg.counters.droppedNoPeer, 1)
})

t.test('both ends initiating at once cross: neither answer completes, and the retries do', async t => {
  const { wg, runUntil } = world(2, { darkCrossing: 0 })
  wg.add(0, 0, 1, false)
  wg.add(0, 1, 0, false)
  runUntil(1000)
  t.equal(wg.counters.crossings, 2, 'each end consumed the other\'s initiation over its own')
  t.equal(wg.counters.handshakes, 0)
  t.notOk(wg.established(0, 1))
  t.equal(needsHandshake(wg.peerState(0, 1)!), 'none', 'no handshake, though something was received: HandshakeWatch resets it')
  t.ok(wg.peerState(0, 1)!.rxBytes > 0)
  runUntil(2 * REKEY_TIMEOUT_MS + 1000)
  t.ok(wg.established(0, 1), 'jittered retries get one handshake through')
})

t.test('a dark crossing keys one end on a session the other never learnt', async t => {
  const { wg, delivered, runUntil } = world(2, { darkCrossing: 1 })
  wg.add(0, 0, 1, false)
  wg.add(0, 1, 0, false)
  runUntil(1000)
  t.equal(wg.counters.darkCrossings, 2)
  const dark = [0, 1].filter(i => needsHandshake(wg.peerState(i, 1 - i)!) === 'dark')
  t.ok(dark.length > 0, 'HandshakeWatch sees a dark receive side')
  wg.sendData(1000, dark[0]!, 1 - dark[0]!, bytes('lost'))
  runUntil(1100)
  t.equal(delivered.filter(d => d.text === 'lost').length, 0, 'its packets are dropped at the other end')
  t.notOk(wg.established(0, 1))
})

t.test('a removed peer: the other end\'s packets are dropped until both have each other again', async t => {
  const { wg, delivered, runUntil } = world(2)
  wg.add(0, 1, 0, true)
  wg.add(0, 0, 1, false)
  runUntil(50)
  t.ok(wg.established(0, 1))
  wg.remove(0, 1)
  t.notOk(wg.established(0, 1))
  wg.sendData(50, 1, 0, bytes('into the void'))
  runUntil(100)
  t.equal(delivered.length, 0)
  t.equal(wg.counters.droppedUnknown, 1)
  wg.add(100, 0, 1, false)
  runUntil(150)
  t.ok(wg.established(0, 1), 'a re-added initiator keys a new session with the end that kept its peer')
})

t.test('a cut stops handshakes; the retries after it get through', async t => {
  const { wg, runUntil, cut } = world(2)
  cut.on = true
  wg.add(0, 1, 0, true)
  wg.add(0, 0, 1, false)
  runUntil(3 * REKEY_TIMEOUT_MS)
  t.notOk(wg.established(0, 1))
  cut.on = false
  runUntil(5 * REKEY_TIMEOUT_MS)
  t.ok(wg.established(0, 1), 'a peer whose keepalive is on keeps retrying')
})
