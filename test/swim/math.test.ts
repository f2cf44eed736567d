import t from 'tap'
import {
  expectedConfirmations, failedProbeHealthDelta, nextHealthScore, retransmitLimit, scaleByHealth, suspicionMaxMs,
  suspicionMinMs, suspicionTimeoutMs
} from '../../lib/swim/math.js'

t.test('suspicionMinMs = mult * max(1, log10(n)) * interval', async t => {
  const table: Array<[mult: number, n: number, intervalMs: number, want: number]> = [
    [4, 0, 1000, 4000], // floored at one unit
    [4, 1, 1000, 4000],
    [4, 5, 1000, 4000], // log10(5) < 1: floored
    [4, 10, 1000, 4000],
    [4, 100, 1000, 8000],
    [4, 1000, 250, 3000],
    [4, 5000, 250, 3699], // 4 * 3.69897 * 250
    [3, 1000, 200, 1800]
  ]
  for (const [mult, n, iv, want] of table) t.equal(suspicionMinMs(mult, n, iv), want, `mult ${mult} n ${n} interval ${iv}`)
})

t.test('suspicionMaxMs scales the minimum', async t => {
  t.equal(suspicionMaxMs(6, 3000), 18000)
  t.equal(suspicionMaxMs(1, 3000), 3000)
})

t.test('expectedConfirmations is mult - 2, or 0 in tiny meshes', async t => {
  const table: Array<[mult: number, n: number, want: number]> = [[4, 1000, 2], [4, 4, 2], [4, 3, 0], [3, 3, 1], [2, 100, 0], [6, 10, 4]]
  for (const [mult, n, want] of table) t.equal(expectedConfirmations(mult, n), want, `mult ${mult} n ${n}`)
})

t.test('suspicion timeout falls logarithmically from max to min with confirmations', async t => {
  const min = 3000
  const max = 18000
  const table: Array<[c: number, k: number, want: number]> = [
    [0, 2, 18000],
    [1, 2, Math.floor(18000 - 15000 * Math.log(2) / Math.log(3))], // 8536
    [2, 2, 3000],
    [5, 2, 3000], // more than k: stays at min
    [0, 0, 3000], // k = 0: min at once
    [0, 4, 18000],
    [1, 4, Math.floor(18000 - 15000 * Math.log(2) / Math.log(5))],
    [4, 4, 3000]
  ]
  for (const [c, k, want] of table) t.equal(suspicionTimeoutMs(c, k, min, max), want, `c ${c} k ${k}`)
  t.equal(suspicionTimeoutMs(1, 2, min, max), 8536)
})

t.test('retransmitLimit = mult * ceil(log10(n + 1))', async t => {
  const table: Array<[mult: number, n: number, want: number]> = [
    [4, 0, 0],
    [4, 1, 4],
    [4, 9, 4],
    [4, 10, 8],
    [4, 99, 8],
    [4, 100, 12],
    [4, 1000, 16],
    [4, 5000, 16],
    [3, 200, 9]
  ]
  for (const [mult, n, want] of table) t.equal(retransmitLimit(mult, n), want, `mult ${mult} n ${n}`)
})

t.test('local health score clamps and scales timeouts', async t => {
  const table: Array<[score: number, delta: number, max: number, want: number]> = [
    [0, -1, 8, 0],
    [0, 1, 8, 1],
    [6, 3, 8, 7],
    [7, 1, 8, 7],
    [3, -2, 8, 1],
    [0, 5, 1, 0]
  ]
  for (const [s, d, max, want] of table) t.equal(nextHealthScore(s, d, max), want, `${s}+${d} max ${max}`)
  t.equal(scaleByHealth(250, 0), 250)
  t.equal(scaleByHealth(250, 3), 1000)
  t.equal(failedProbeHealthDelta(0, 0), 1, 'no relays: +1')
  t.equal(failedProbeHealthDelta(3, 0), 3, 'no relay answered: we are the problem')
  t.equal(failedProbeHealthDelta(3, 3), 0, 'every relay nacked: the target is the problem')
  t.equal(failedProbeHealthDelta(3, 1), 2)
})
