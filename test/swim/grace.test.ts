import t from 'tap'
import { JoinGrace } from '../../lib/swim/grace.js'

t.test('members of the first call share one grace that ends at their first packet or after graceMs', async t => {
  const g = new JoinGrace(1000)
  for (const id of ['a', 'b', 'c']) g.added(id, 0, true)
  t.ok(g.covers('a', 500))
  g.ended('a')
  t.notOk(g.covers('a', 500), 'answered: grace over')
  t.ok(g.covers('b', 999))
  t.notOk(g.covers('b', 1000), 'past graceMs')
  t.equal(g.size, 0, 'nothing kept once the first grace is over')
})

t.test('a later member gets its own grace from when it appeared', async t => {
  const g = new JoinGrace(1000)
  g.added('a', 0, true)
  g.added('d', 5000, false)
  t.notOk(g.covers('a', 5000))
  t.ok(g.covers('d', 5999))
  t.notOk(g.covers('d', 6000))
  g.added('e', 7000, false)
  g.ended('e')
  t.notOk(g.covers('e', 7001))
  g.added('f', 8000, false)
  g.forget('f')
  t.notOk(g.covers('f', 8001), 'forgotten')
})

t.test('memory: only heard-from initial members and unheard newcomers inside their grace are kept', async t => {
  const g = new JoinGrace(10_000)
  for (let i = 0; i < 5000; i++) g.added(`m${i}`, 0, true)
  t.equal(g.size, 0, '5000 initial members cost nothing')
  for (let i = 0; i < 10; i++) g.ended(`m${i}`)
  t.equal(g.size, 10)
  for (let i = 0; i < 100; i++) g.added(`n${i}`, 1000 + i, false)
  t.equal(g.size, 110)
  g.covers('m0', 20_000)
  t.equal(g.size, 0, 'all pruned after the grace')
})
