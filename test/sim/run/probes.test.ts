import t from 'tap'
import { outage, type Probe } from '../../../sim/run/probes.js'

const probe = (replies: Array<[number, number]>): Probe =>
  ({ child: null as unknown as Probe['child'], replies: replies.map(([sentAt, seq]) => ({ sentAt, seq })) })

t.test('outage: from the kill to each client\'s first answered probe, the probes lost between, and clients never answered', async (t) => {
  const kill = 10_000
  const o = outage([
    probe([[9_900, 99], [12_000, 120]]), // 20 probes lost, answered 2 s after
    probe([[9_950, 99], [10_050, 100]]), // never lost one: its next probe went through the standby at once
    probe([[9_900, 99]]) // never answered again
  ], kill)
  t.same(o, [{ restoreMs: 2000, lost: 20 }, { restoreMs: 50, lost: 0 }, null])
})
