import t from 'tap'
import { machineBusyPct, machineCpu } from '../../../sim/run/resources.js'

t.test('machine busy % is measured over the CPU time between the two readings, not a wall clock', async t => {
  const cases: Array<[number, number, number, number, number, number]> = [
    // busy, all before; busy, all after; cores; want
    [1000, 2000, 1900, 4000, 2, 90],
    [1000, 2000, 3000, 4000, 2, 200],
    [1000, 2000, 1000, 4000, 2, 0],
    [1000, 2000, 1500, 3000, 1, 50],
    [1000, 2000, 1000, 2000, 2, 0]
  ]
  for (const [b0, a0, b1, a1, cores, want] of cases) {
    t.equal(machineBusyPct({ busyMs: b0, allMs: a0 }, { busyMs: b1, allMs: a1 }, cores), want, `${b1 - b0} busy of ${a1 - a0} ms on ${cores} cores`)
  }
})

t.test('a reading of /proc/stat has busy time within all time, and both only grow', async t => {
  const a = machineCpu()
  const b = machineCpu()
  t.ok(a.busyMs > 0 && a.busyMs <= a.allMs)
  t.ok(b.busyMs >= a.busyMs && b.allMs >= a.allMs)
})
