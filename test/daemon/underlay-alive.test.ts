import t from 'tap'
import { noteUnderlayAlive } from '../../lib/daemon/underlay-alive.js'
import { Cluster, aliveSig } from '../swim/cluster.js'

t.test('noteUnderlayAlive: true only when it revives a member we buried at that very incarnation', async t => {
  const c = new Cluster(2)
  c.runUntil(500)
  c.cut = () => true
  c.runUntilTrue(() => c.view(0, 1) === 'dead', 30_000)
  const id = c.ids[1]!
  t.ok(noteUnderlayAlive(c.core(0), c.t, id, 0, aliveSig(id, 0)), 'buried at 0, alive at 0: it does not know, tell it')
  t.equal(c.view(0, 1), 'alive')
  t.notOk(noteUnderlayAlive(c.core(0), c.t, id, 0, aliveSig(id, 0)), 'already alive: nothing to tell')
  t.notOk(noteUnderlayAlive(c.core(0), c.t, id, 3, aliveSig(id, 3)), 'a newer incarnation is adopted: it has refuted already')
  t.equal(c.core(0).member(id)!.incarnation, 3)
  t.notOk(noteUnderlayAlive(c.core(0), c.t, id, 9, aliveSig(c.ids[0]!, 9)), 'another member\'s signature changes nothing')
  t.equal(c.core(0).member(id)!.incarnation, 3)
})
