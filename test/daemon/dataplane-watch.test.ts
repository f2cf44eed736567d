import { createServer } from 'node:net'
import t from 'tap'
import { systemClock } from '../../lib/clock.js'
import { DataPlaneWatch, PROBE_PORT } from '../../lib/daemon/dataplane-watch.js'
import { waitFor } from '../../sim/wait.js'

// Probes go to the TCP discard port of 127.0.0.x: the loopback kernel refuses the connection (a RST) exactly as
// a live member's kernel does through its tunnel. Silence (a host that drops everything) needs a namespace
// with nftables: test/e2e/swim.test.ts removes such a node within seconds, which an answer would prevent.

t.test('a refused connection makes the member fresh for as long as it is watched', async (t) => {
  const answered: string[] = []
  const w = new DataPlaneWatch(systemClock, ip => answered.push(ip))
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

t.test('a connection that is accepted answers too, and each new suspicion is answered afresh', async (t) => {
  // A member that serves the discard port accepts: alive all the same.
  const server = createServer(c => c.destroy())
  await new Promise<void>(resolve => server.listen(PROBE_PORT, '127.0.0.4', resolve))
  t.teardown(() => server.close())
  const answered: string[] = []
  const w = new DataPlaneWatch(systemClock, ip => answered.push(ip))
  w.start('127.0.0.1')
  t.teardown(() => w.stop())
  w.provoke('127.0.0.4')
  await waitFor('the listener accepts', () => answered.includes('127.0.0.4'), 2000, 5)
  t.ok(w.fresh('127.0.0.4'))
  // Twenty suspicions of one member in a row each get their answer at once. (ICMP port-unreachable, which
  // this replaced, is limited to about one a second per destination on every interface but loopback.)
  for (let k = 0; k < 20; k++) {
    w.retain(new Set())
    w.provoke('127.0.0.2')
    await waitFor(`answer ${k + 1}`, () => w.fresh('127.0.0.2'), 2000, 5)
  }
  t.pass('20 answers')
})

t.test('members no longer watched are closed; stop closes all and ends probing', async (t) => {
  let answers = 0
  const w = new DataPlaneWatch(systemClock, () => { answers++ })
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
  const w = new DataPlaneWatch(systemClock)
  w.start('198.51.100.1') // not on any interface here: bind fails with EADDRNOTAVAIL
  t.teardown(() => w.stop())
  w.provoke('127.0.0.2')
  t.equal(w.watching, 1, 'a socket is opening')
  await waitFor('the failed socket is dropped', () => w.watching === 0, 2000, 5)
  t.notOk(w.fresh('127.0.0.2'))
})
