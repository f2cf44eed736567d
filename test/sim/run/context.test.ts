import t from 'tap'
import { lanConfig, meshConfig } from '../../../lib/swim/config.js'
import { settleBoundMs } from '../../../sim/run/context.js'

t.test('a scenario waits twice the longest suspicion plus 30 s, and never less than 60 s', async t => {
  const cases: Array<[string, () => ReturnType<typeof meshConfig>, number, number]> = [
    ['mesh', meshConfig, 8, 60_000],
    ['mesh', meshConfig, 1000, 60_000],
    ['mesh', meshConfig, 2000, 2 * 6 * Math.round(4 * Math.log10(2000) * 200) + 30_000],
    ['lan', lanConfig, 8, 2 * 6 * 4000 + 30_000],
    ['lan', lanConfig, 200, 2 * 6 * Math.round(4 * Math.log10(200) * 1000) + 30_000]
  ]
  for (const [name, cfg, n, want] of cases) t.equal(settleBoundMs(cfg(), n), want, `${name} at N=${n}`)
  t.equal(settleBoundMs(lanConfig(), 200), 140_448, 'lan at N=200: the longest suspicion is 55.2 s')
})
