import t from 'tap'
import { BroadcastQueue } from '../../lib/swim/broadcast.js'
import { encodeUpdate, type Update } from '../../lib/swim/codec.js'

const up = (id: string, incarnation = 0, state: Update['state'] = 'alive'): Update => ({ state, id, incarnation, from: id })
const size = (id: string): number => encodeUpdate(up(id)).length

t.test('each update rides exactly `limit` packets, fewest-sent first', async t => {
  const q = new BroadcastQueue()
  q.enqueue(up('a'))
  t.equal(q.take(1000, 10, 3).length, 1)
  q.enqueue(up('b'))
  // b has 0 sends, a has 1: b comes first.
  const second = q.take(size('b'), 10, 3)
  t.same(second, [encodeUpdate(up('b'))], 'fewest-sent first when only one fits')
  t.equal(q.take(1000, 10, 3).length, 2, 'both at 2 sends')
  t.equal(q.take(1000, 10, 3).length, 2, 'both take their third and last send')
  t.equal(q.size, 0)
  t.equal(q.take(1000, 10, 3).length, 0)
})

t.test('a newer claim about the same member replaces the older and starts fresh', async t => {
  const q = new BroadcastQueue()
  q.enqueue(up('a', 1))
  q.take(1000, 10, 5)
  q.enqueue(up('a', 2, 'suspect'))
  t.equal(q.size, 1)
  t.same(q.get('a'), up('a', 2, 'suspect'))
  for (let i = 0; i < 5; i++) t.equal(q.take(1000, 10, 5).length, 1)
  t.equal(q.size, 0, 'five sends for the replacement')
})

t.test('take respects the byte budget, the count cap and the excluded id', async t => {
  const q = new BroadcastQueue()
  for (let i = 0; i < 50; i++) q.enqueue(up(`member-${String(i).padStart(3, '0')}`))
  const one = size('member-000')
  const got = q.take(one * 10 + one - 1, 100, 4)
  t.equal(got.length, 10, 'as many as fit in the budget')
  t.equal(q.take(100_000, 7, 4).length, 7, 'count cap')
  q.remove('member-049')
  t.equal(q.size, 49)
  const all = q.take(100_000, 100, 4, 'member-000')
  t.equal(all.length, 48, 'everything but the excluded one')
})

t.test('a shrinking limit retires over-sent updates', async t => {
  const q = new BroadcastQueue()
  q.enqueue(up('a'))
  for (let i = 0; i < 4; i++) q.take(1000, 10, 10)
  t.equal(q.take(1000, 10, 3).length, 0, 'already sent 4 > 3 times')
  t.equal(q.size, 0)
})
