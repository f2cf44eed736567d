import t from 'tap'
import { Backoff } from '../../lib/daemon/backoff.js'

t.test('ceilings double from the base up to the cap; reset starts over', async (t) => {
  const b = new Backoff(100, 1000, () => 0.999999)
  t.same([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [99, 199, 399, 799, 999, 999])
  t.equal(b.attempts, 6)
  b.reset()
  t.equal(b.next(), 99)
})

t.test('full jitter: the delay is anywhere from zero to the ceiling', async (t) => {
  const b = new Backoff(100, 1000, () => 0)
  t.equal(b.next(), 0)
  let x = 0.5
  const c = new Backoff(100, 1000, () => x)
  t.equal(c.next(), 50)
  x = 0.25
  t.equal(c.next(), 50)
})
