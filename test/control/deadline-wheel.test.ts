import t from 'tap'
import { DeadlineWheel } from '../../lib/control/deadline-wheel.js'

t.test('deadlines round up to their bucket and never come due early', async (t) => {
  const w = new DeadlineWheel(250)
  w.set('a', 1001)
  w.set('b', 1250)
  w.set('c', 1600)
  t.equal(w.next(), 1250, 'a and b share the 1250 bucket')
  t.same(w.due(1249), [])
  t.same(w.due(1250).sort(), ['a', 'b'])
  t.equal(w.size, 1)
  t.equal(w.next(), 1750)
})

t.test('setting an id again moves it; deleting it disarms it', async (t) => {
  const w = new DeadlineWheel(100)
  w.set('a', 150)
  w.set('a', 950)
  t.equal(w.next(), 1000)
  t.same(w.due(500), [])
  w.delete('a')
  t.equal(w.size, 0)
  t.equal(w.next(), null)
  t.same(w.due(10_000), [])
})
