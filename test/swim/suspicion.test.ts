import t from 'tap'
import { CONTROLLER_CONFIRMER, Suspicion } from '../../lib/swim/suspicion.js'

t.test('a suspicion starts at its max and shrinks with independent confirmations only', async t => {
  const s = new Suspicion(1000, 'a', 2, 3000, 18000)
  t.equal(s.deadlineMs(), 19000)
  t.equal(s.confirm('a'), false, 'the first suspector is not its own confirmation')
  t.equal(s.confirm('b'), true)
  t.equal(s.confirm('b'), false, 'a repeat does not count')
  t.equal(s.confirmations, 1)
  t.equal(s.deadlineMs(), 1000 + 8536)
  t.equal(s.confirm(CONTROLLER_CONFIRMER), true, 'the controller counts once')
  t.equal(s.deadlineMs(), 4000)
  t.equal(s.confirm('c'), false, 'no confirmations past k')
  t.equal(s.remainingMs(2500), 1500)
})

t.test('holdMax keeps the full timeout whatever the confirmations', async t => {
  const s = new Suspicion(0, 'a', 2, 3000, 18000)
  s.confirm('b'); s.confirm('c')
  t.equal(s.deadlineMs(), 3000)
  s.holdMax = true
  t.equal(s.deadlineMs(), 18000)
  t.equal(s.remainingMs(1000), 17000)
  s.holdMax = false
  t.equal(s.deadlineMs(), 3000)
})

t.test('after the last call, confirmations no longer bring the deadline before the call has had its answer', async t => {
  const s = new Suspicion(0, 'a', 2, 3000, 18000)
  s.confirm('b')
  s.lastCallEndsMs = 9536
  t.equal(s.deadlineMs(), 9536)
  s.confirm('c')
  t.equal(s.deadlineMs(), 9536, 'a confirmation would have made it 3000')
  t.equal(s.remainingMs(9000), 536)
})
