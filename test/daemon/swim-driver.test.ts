import t from 'tap'
import { createSocket } from 'node:dgram'
import { waitFor } from '../../sim/wait.js'
import { freePort } from './udp.js'
import { SwimDriver, type SwimCore } from '../../lib/daemon/swim-driver.js'
import { ManualClock, systemClock } from '../../lib/clock.js'
import { silentLogger } from '../../lib/log.js'
import { localConfig } from '../../lib/swim/config.js'
import { SeededRandom } from '../../lib/swim/random.js'
import { Swim } from '../../lib/swim/swim.js'
import type { SwimEvent } from '../../lib/swim/types.js'
import { claimsFor } from '../swim/cluster.js'

t.test('three real cores over loopback UDP see each other, and detect one that stops', async (t) => {
  const ports = [await freePort(), await freePort(), await freePort()]
  const ids = ['a', 'b', 'c']
  const members = ids.map((id, k) => ({ id, addr: `127.0.0.1:${ports[k]}` }))
  const events: SwimEvent[][] = [[], [], []]
  const nodes = ids.map((id, k) => {
    const core = new Swim({ config: localConfig(), self: members[k]!, claims: claimsFor((members[k]!).id), incarnation: 1, random: new SeededRandom(k + 1) })
    const driver = new SwimDriver({ core, host: '127.0.0.1', port: ports[k]!, clock: systemClock, log: silentLogger(), onEvent: ev => events[k]!.push(ev) })
    return { id, core, driver }
  })
  for (const n of nodes) await n.driver.start()
  t.teardown(() => { for (const n of nodes) n.driver.stop() })
  for (const n of nodes) { n.core.setMembers(Date.now(), members.filter(m => m.id !== n.id)); n.driver.pump() }

  await waitFor('probes to flow', () => nodes.every(n => n.core.stats().packetsIn > 5), 15_000, 10)
  for (const n of nodes) t.same(n.core.members().map(m => m.state), ['alive', 'alive'], `${n.id} sees both alive`)

  nodes[2]!.driver.stop()
  await waitFor('a and b to hold c dead', () => nodes.slice(0, 2).every(n => n.core.member('c')?.state === 'dead'), 15_000, 10)
  for (const k of [0, 1]) t.ok(events[k]!.some(e => e.type === 'dead' && e.id === 'c'), `${ids[k]} emitted dead for c`)
  t.equal(nodes[0]!.core.member('b')?.state, 'alive', 'the live peer stays alive')
})

t.test('a packet that is not SWIM is counted and dropped, the driver keeps running', async (t) => {
  const port = await freePort()
  const core = new Swim({
    config: localConfig(),
    self: { id: 'a', addr: `127.0.0.1:${port}` },
    claims: claimsFor('a'),
    incarnation: 1,
    random: new SeededRandom(9)
  })
  const driver = new SwimDriver({ core, host: '127.0.0.1', port, clock: systemClock, log: silentLogger(), onEvent: () => {} })
  await driver.start()
  t.teardown(() => driver.stop())
  const s = createSocket('udp4')
  t.teardown(() => s.close())
  for (const payload of [Buffer.from('hello'), Buffer.alloc(0), Buffer.alloc(4000, 0xc1)]) s.send(payload, port, '127.0.0.1')
  await waitFor('three packets in', () => core.stats().packetsIn >= 3, 15_000, 10)
  const dropped = Object.values(core.stats().dropped).reduce((a, b) => a + b, 0)
  t.equal(dropped, 3, 'all three dropped and counted')
})

t.test('after a stall, a packet already in the socket is handled before an overdue timeout', async (t) => {
  const port = await freePort()
  const calls: string[] = []
  let deadline: number | undefined = Date.now() + 30
  const core = {
    handlePacket: () => { calls.push('packet') },
    handleTimeout: () => { calls.push('timeout'); deadline = undefined },
    pollTransmit: () => undefined,
    pollTimeout: () => deadline,
    pollEvent: () => undefined
  }
  const driver = new SwimDriver({ core, host: '127.0.0.1', port, clock: systemClock, log: silentLogger(), onEvent: () => {} })
  await driver.start()
  t.teardown(() => driver.stop())
  const s = createSocket('udp4')
  t.teardown(() => s.close())
  await new Promise<void>(resolve => s.send(Buffer.from('ack'), port, '127.0.0.1', () => resolve()))
  // The stall: the event loop is blocked past the deadline with the datagram already queued on the socket.
  const until = Date.now() + 80
  while (Date.now() < until) { /* a busy host */ }
  await waitFor('both inputs handled', () => calls.length >= 2, 5000, 5)
  t.same(calls, ['packet', 'timeout'])
})

t.test('once stopped, the driver handles no timeout: not one that fired just before stop, nor after a late pump', async (t) => {
  /** A core with a deadline every 30 ms that counts the timeouts it handles. */
  const ticking = (): SwimCore & { timeouts: number } => {
    let deadline = Date.now() + 30
    return {
      timeouts: 0,
      handlePacket: () => {},
      handleTimeout () { this.timeouts++; deadline = Date.now() + 30 },
      pollTransmit: () => undefined,
      pollTimeout: () => deadline,
      pollEvent: () => undefined
    }
  }
  const make = async (core: ReturnType<typeof ticking>): Promise<SwimDriver> => {
    const d = new SwimDriver({ core, host: '127.0.0.1', port: await freePort(), clock: systemClock, log: silentLogger(), onEvent: () => {} })
    await d.start()
    t.teardown(() => d.stop())
    return d
  }
  const witnessCore = ticking()
  await make(witnessCore)
  const core = ticking()
  const driver = await make(core)
  let atStop = -1
  // Due after the driver's deadline: in the same timers phase the driver's timer runs first and defers its
  // timeout to setImmediate, then this one stops the driver before that runs.
  setTimeout(() => { driver.stop(); atStop = core.timeouts }, 50)
  const until = Date.now() + 80
  while (Date.now() < until) { /* a busy host: both timers come due together */ }
  await waitFor('the driver to be stopped', () => atStop >= 0, 5000, 5)
  driver.pump() // a late caller (an announcement, a netmap) after stop
  const seen = witnessCore.timeouts
  await waitFor('five more timeouts of a driver still running', () => witnessCore.timeouts >= seen + 5, 5000, 5)
  t.equal(core.timeouts, atStop, 'no timeout handled after stop')
})

t.test('the driver keeps one clock timer at the core\'s earliest deadline and hands the core the clock\'s time', async (t) => {
  const clock = new ManualClock(10_000)
  const handled: number[] = []
  let deadline: number | undefined = 10_500
  const core: SwimCore = {
    handlePacket: () => {},
    handleTimeout: now => { handled.push(now); deadline = now < 11_000 ? 11_000 : undefined },
    pollTransmit: () => undefined,
    pollTimeout: () => deadline,
    pollEvent: () => undefined
  }
  const driver = new SwimDriver({ core, host: '127.0.0.1', port: await freePort(), clock, log: silentLogger(), onEvent: () => {} })
  await driver.start()
  t.teardown(() => driver.stop())
  t.equal(clock.timers, 1)
  t.equal(clock.nextAt(), 10_500)
  driver.pump()
  t.equal(clock.timers, 1, 'an unchanged deadline is not armed twice')
  await clock.advanceAsync(499)
  t.same(handled, [])
  await clock.advanceAsync(1)
  t.same(handled, [10_500], 'handled at the deadline, on the clock\'s time')
  t.equal(clock.nextAt(), 11_000, 're-armed at the core\'s next deadline')
  await clock.advanceAsync(1000)
  t.same(handled, [10_500, 11_000])
  t.equal(clock.timers, 0, 'no deadline, no timer')
})
