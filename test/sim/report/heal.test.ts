import t from 'tap'
import { wholeFrom } from '../../../sim/report/build.js'

const s = (tMs: number, ok: number, total = 24): { tMs: number, ok: number, total: number } => ({ tMs, ok, total })

t.test('wholeFrom: from the heal until the samples stayed whole', async t => {
  t.equal(wholeFrom([s(900, 10), s(1000, 12), s(2000, 24), s(3000, 20), s(4000, 24), s(5000, 24)], 1000), 3000,
    'a whole sample followed by a broken one does not count; the last unbroken run starts at 4000')
  t.equal(wholeFrom([s(1000, 24), s(2000, 24)], 1000), 0, 'whole at the heal')
  t.equal(wholeFrom([s(1000, 24), s(2000, 23)], 1000), null, 'broken at the end')
  t.equal(wholeFrom([s(500, 24)], 1000), null, 'no sample after the heal')
  t.equal(wholeFrom([s(1500, 0, 0), s(2500, 24)], 1000), 1500, 'empty samples are skipped')
})
