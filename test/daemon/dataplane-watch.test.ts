import { createSocket } from 'node:dgram'
import t from 'tap'
import { DataPlaneWatch, PROBE_PORT } from '../../lib/daemon/dataplane-watch.js'
import { waitFor } from '../../sim/wait.js'

// Probes go to the discard port of 127.0.0.x: the loopback kernel answers ICMP port-unreachable exactly as a
// live member's kernel does through its tunnel, and nothing answers for an address whose port is taken by a
// socket that reads and never replies (a host that swallows everything, like one behind a drop-all firewall).

t.test('an ICMP answer makes the member fresh for as long as it is watched', async (t) => {
  const answered: string[] = []
  const w = new DataPlaneWatch(ip => answered.push(ip))
  w.start('127.0.0.1')
  t.teardown(() => w.stop())
  t.notOk(w.fresh('127.0.0.2'), 'nothing probed yet: no evidence')
  w.provoke('127.0.0.2')
  await waitFor('the loopback kernel answers the probe', () => answered.length > 0, 2000, 5)
  t.same(answered, ['127.0.0.2'])
  t.ok(w.fresh('127.0.0.2'), 'answered: the data plane is alive')
  t.notOk(w.fresh('127.0.0.3'), 'an address never probed has no evidence')

  w.retain(new Set())
  t.notOk(w.fresh('127.0.0.2'), 'watching it again (a new suspicion) starts without evidence')
})

t.test('silence is no evidence', async (t) => {
  // Something bound to the discard port that reads and never answers: no ICMP comes back.
  const sink = createSocket('udp4')
  let swallowed = 0
  sink.on('message', () => { swallowed++ })
  await new Promise<void>(resolve => sink.bind(PROBE_PORT, '127.0.0.4', resolve))
  t.teardown(() => sink.close())
  const w = new DataPlaneWatch()
  w.start('127.0.0.1')
  t.teardown(() => w.stop())
  w.provoke('127.0.0.4')
  await waitFor('the probe arrived', () => swallowed > 0, 2000, 5)
  w.provoke('127.0.0.4')
  await waitFor('the second probe arrived', () => swallowed > 1, 2000, 5)
  t.notOk(w.fresh('127.0.0.4'), 'probes were delivered but never answered')
})

t.test('members no longer watched are closed; stop closes all and ends probing', async (t) => {
  let answers = 0
  const w = new DataPlaneWatch(() => { answers++ })
  w.start('127.0.0.1')
  w.provoke('127.0.0.2')
  w.provoke('127.0.0.3')
  await waitFor('both answered', () => answers >= 2, 2000, 5)
  t.equal(w.watching, 2)
  w.retain(new Set(['127.0.0.3']))
  t.equal(w.watching, 1, 'the member no longer suspect is dropped')
  t.notOk(w.fresh('127.0.0.2'), 'with its evidence')
  t.ok(w.fresh('127.0.0.3'))
  w.stop()
  t.equal(w.watching, 0)
  w.provoke('127.0.0.3')
  t.equal(w.watching, 0, 'a stopped watch opens nothing')
})

t.test('a source address that is not ours is dropped, not thrown, and retried on the next probe', async (t) => {
  const w = new DataPlaneWatch()
  w.start('198.51.100.1') // not on any interface here: bind fails with EADDRNOTAVAIL
  t.teardown(() => w.stop())
  w.provoke('127.0.0.2')
  t.equal(w.watching, 1, 'a socket is opening')
  await waitFor('the failed socket is dropped', () => w.watching === 0, 2000, 5)
  t.notOk(w.fresh('127.0.0.2'))
})
