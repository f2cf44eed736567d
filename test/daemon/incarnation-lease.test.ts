import t from 'tap'
import { IncarnationLease, LEASE_STEP } from '../../lib/daemon/incarnation-lease.js'
import { MAX_INCARNATION } from '../../lib/swim/incarnation.js'
import { pino } from 'pino'

function lease (bound: number | null, fail = false): { l: IncarnationLease, saved: number[], logged: string[] } {
  const saved: number[] = []; const logged: string[] = []
  const log = pino({ level: 'error' }, { write: (line: string) => { logged.push(line) } })
  const l = new IncarnationLease({ bound, log, save: b => { if (fail) throw new Error('ENOSPC: no space left on device'); saved.push(b) } })
  return { l, saved, logged }
}

t.test('the saved bound runs ahead of what is signed: one write per step', async t => {
  const { l, saved } = lease(null)
  l.cover(1_700_000_000)
  t.same(saved, [1_700_000_000 + LEASE_STEP], 'the first signature saves a bound above it')
  for (let i = 1; i <= LEASE_STEP; i++) l.cover(1_700_000_000 + i)
  t.same(saved, [1_700_000_000 + LEASE_STEP], 'covered until the bound itself')
  l.cover(1_700_000_000 + LEASE_STEP + 1)
  t.same(saved, [1_700_000_000 + LEASE_STEP, 1_700_000_000 + 2 * LEASE_STEP + 1])
})

t.test('a bound saved by the previous run covers what it covers; never past 2^48', async t => {
  const { l, saved } = lease(500)
  l.cover(500)
  t.same(saved, [])
  l.cover(MAX_INCARNATION - 1)
  t.same(saved, [MAX_INCARNATION])
})

t.test('a failed save is logged once and does not throw: SWIM goes on', async t => {
  const { l, logged } = lease(null, true)
  t.doesNotThrow(() => { l.cover(1); l.cover(2) })
  t.equal(logged.length, 1)
  t.match(JSON.parse(logged[0]!), { event: 'state.save.failed', reason: /ENOSPC/ })
})
