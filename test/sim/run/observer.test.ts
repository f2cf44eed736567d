import t, { type Test } from 'tap'
import { createServer, type Server, type Socket } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ManualClock } from '../../../lib/clock.js'
import { keyToHex } from '../../../lib/wire/keys.js'
import { PeerObserver, type ObserverOptions } from '../../../sim/run/observer.js'
import { waitFor } from '../../../sim/wait.js'

/** A base64 WireGuard-sized key, and the UAPI hex form of it. */
function key (): { b64: string, hex: string } {
  const raw = randomBytes(32)
  return { b64: raw.toString('base64'), hex: keyToHex(raw.toString('base64')) }
}

/** A `get=1` reply listing `peers` (base64 keys) on a device with no private key. */
function reply (peers: Array<{ hex: string }>): string {
  return `private_key=${'0'.repeat(64)}\nlisten_port=51820\n` + peers.map(p => `public_key=${p.hex}\nallowed_ip=100.64.0.9/32\n`).join('') + 'errno=0\n\n'
}

/**
 * Fake UAPI sockets, one per device, that hold each request until `answer` decides: the test sees how many
 * reads are in flight and when each is answered.
 */
class FakeDevices {
  readonly dir = mkdtempSync(join(tmpdir(), 'weft-observer-'))
  readonly held: Array<{ device: number, sock: Socket }> = []
  inFlight = 0
  maxInFlight = 0
  private readonly servers: Server[] = []
  private closed = false

  constructor (readonly count: number) {}

  path (i: number): string { return join(this.dir, `d${i}.sock`) }

  async listen (): Promise<void> {
    for (let i = 0; i < this.count; i++) {
      const server = createServer(sock => {
        sock.once('data', () => {
          this.inFlight++
          this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
          this.held.push({ device: i, sock })
        })
        sock.on('error', () => {})
      })
      await new Promise<void>(resolve => server.listen(this.path(i), resolve))
      this.servers.push(server)
    }
  }

  /** Answers every held request of `device` with `text`. */
  answer (device: number, text: string): void {
    for (let k = this.held.length - 1; k >= 0; k--) {
      const h = this.held[k]!
      if (h.device !== device) continue
      this.held.splice(k, 1)
      this.inFlight--
      h.sock.end(text)
    }
  }

  /** Stops answering: every socket goes away. Safe to call twice (a test may close before its teardown). */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const h of this.held) h.sock.destroy()
    await Promise.all(this.servers.map(async s => await new Promise(resolve => s.close(resolve))))
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** `count` fake devices, closed when the test ends, and an observer of them on a manual clock. */
async function observing (t: Test, count: number, opts: Partial<ObserverOptions> = {}): Promise<{
  devices: FakeDevices
  clock: ManualClock
  observer: PeerObserver
}> {
  const devices = new FakeDevices(count)
  await devices.listen()
  t.teardown(async () => await devices.close())
  const clock = new ManualClock()
  const observer = new PeerObserver({ ifname: i => `d${i}`, nodes: count, tickMs: 1000, t0: clock.now(), clock, socketPath: i => devices.path(i), ...opts })
  return { devices, clock, observer }
}

t.test('a pass keeps `readers` reads in flight, and one slow device does not hold up the others', async t => {
  const { devices, clock, observer } = await observing(t, 6, { readers: 3 })
  const peer = key()
  const pass = observer.pass()
  await waitFor('3 reads in flight', () => devices.inFlight === 3, 5000, 5)
  // Device 0 stays silent; the other two readers' devices answer and free their readers for devices 3-5.
  for (const d of devices.held.map(h => h.device).filter(d => d !== 0)) devices.answer(d, reply([peer]))
  await waitFor('devices 3 and 4 read', () => devices.held.length === 3 && devices.held.every(h => h.device === 0 || h.device >= 3), 5000, 5)
  for (const d of [3, 4]) devices.answer(d, reply([peer]))
  await waitFor('device 5 read', () => devices.held.some(h => h.device === 5), 5000, 5)
  devices.answer(5, reply([peer]))
  await waitFor('5 answers recorded', () => observer.current.size === 5, 5000, 5)
  t.equal(observer.passes, 0, 'the pass is not over while device 0 has not answered')
  clock.advance(7000)
  devices.answer(0, reply([peer]))
  await pass
  t.equal(devices.maxInFlight, 3, 'never more than `readers` at once')
  t.equal(observer.passes, 1)
  t.equal(observer.readErrors, 0)
  t.equal(observer.readMs.length, 6, 'every answered read is timed')
  t.equal(Math.max(...observer.readMs), 7000, 'the slow one from its request to its reply')
  t.equal(observer.firstAfter(0, peer.b64, 0, true), 7000, 'a slow answer is recorded at the time it came')
  t.equal(observer.firstAfter(1, peer.b64, 0, true), 0)
})

t.test('a read that runs out of time is counted and keeps the device\'s last view', async t => {
  const { devices, clock, observer } = await observing(t, 2, { readTimeoutMs: 200 })
  const a = key()
  const b = key()
  let pass = observer.pass()
  await waitFor('2 reads in flight', () => devices.inFlight === 2, 5000, 5)
  t.equal(devices.maxInFlight, 2, 'by default every device is read at once')
  devices.answer(0, reply([a, b]))
  devices.answer(1, reply([a]))
  await pass
  clock.advance(1000)
  pass = observer.pass()
  await waitFor('2 reads in flight', () => devices.inFlight === 2, 5000, 5)
  devices.answer(1, reply([]))
  await waitFor('device 1\'s answer recorded', () => observer.current.get(1)?.size === 0, 5000, 5)
  clock.advance(200) // device 0 never answers this time: its read gives up after 200 ms on the observer's clock
  await pass
  t.equal(observer.readTimeouts, 1)
  t.equal(observer.readErrors, 1)
  t.same([...observer.current.get(0)!].sort(), [a.b64, b.b64].sort(), 'no answer says nothing about the peers')
  t.equal(observer.presentAt(0, a.b64, 1000), true)
  t.equal(observer.presentAt(1, a.b64, 1000), false, 'device 1 answered without the peer: a removal')
  t.equal(observer.changes.filter(c => !c.present).length, 1)
})

t.test('a missing socket twice in a row marks the device gone, not its peers removed', async t => {
  const { devices, clock, observer } = await observing(t, 1)
  const a = key()
  const pass = observer.pass()
  await waitFor('the read in flight', () => devices.inFlight === 1, 5000, 5)
  devices.answer(0, reply([a]))
  await pass
  await devices.close()
  await observer.pass()
  t.equal(observer.current.has(0), true, 'one failed read is not enough')
  clock.advance(500)
  await observer.pass()
  t.equal(observer.current.has(0), false)
  t.same(observer.changes.at(-1), { tMs: 500, observer: 0, key: a.b64, present: false, deviceGone: true })
  t.equal(observer.firstAfter(0, a.b64, 0, false), null, 'a device going away is not its removing the peer')
  t.equal(observer.readTimeouts, 0)
})
