import t from 'tap'
import { LocalHealth } from '../../lib/swim/health.js'

t.test('local health rises on failures and refutations, falls on acks, and scales timeouts', async t => {
  const h = new LocalHealth(8)
  t.equal(h.score, 0)
  t.equal(h.scale(100), 100)
  h.probeFailed(3, 0)
  t.equal(h.score, 3, 'three silent relays')
  t.equal(h.scale(100), 400)
  h.probeFailed(3, 3)
  t.equal(h.score, 3, 'relays that nack clear us')
  h.refuted()
  t.equal(h.score, 4)
  for (let i = 0; i < 10; i++) h.probeFailed(0, 0)
  t.equal(h.score, 7, 'capped at max - 1')
  t.equal(h.scale(100), 800)
  for (let i = 0; i < 10; i++) h.probeSucceeded()
  t.equal(h.score, 0, 'floored at 0')
})
