import t from 'tap'
import { durationMs, formatDuration, intInRange, oneOf, path, port, withDefaults } from '../lib/config-check.js'
import { SwimConfigError } from '../lib/errors.js'

t.test('formatDuration writes a span as a flag takes it', async (t) => {
  const cases: Array<[number, string]> = [
    [0, '0s'], [1, '1ms'], [1500, '1500ms'], [1000, '1s'], [60_000, '60s'], [120_000, '120s'], [180_000, '3m'],
    [3_600_000, '1h'], [5_400_000, '90m'], [7 * 86_400_000, '7d'], [121_000, '121s']
  ]
  for (const [ms, want] of cases) t.equal(formatDuration(ms), want, `${ms} ms`)
})

t.test('each check returns the value when it fits and names the value and the range when not', async (t) => {
  t.equal(intInRange('--n', 5, 1, 5), 5)
  t.throws(() => intInRange('--n', 6, 1, 5, 'seconds'), { code: 'WEFT_ERR_CONFIG', message: '--n must be a whole number from 1 to 5 seconds (got 6)' })
  t.throws(() => intInRange('--n', '3', 1, 5), { message: '--n must be a whole number from 1 to 5 (got "3")' })
  t.equal(durationMs('--d', 100, 100, 1000), 100)
  t.throws(() => durationMs('--d', 1001, 100, 1000), { message: '--d must be a duration from 100ms to 1s (got 1001 ms)' })
  t.equal(port('--p', 65535), 65535)
  t.throws(() => port('--p', 0), { message: '--p must be a port from 1 to 65535 (got 0)' })
  t.equal(path('--state', '/x'), '/x')
  t.throws(() => path('--state', 'a\0b'), { message: /--state must be a non-empty path/ })
  t.equal(oneOf('--wg', 'kernel', ['auto', 'kernel']), 'kernel')
  t.throws(() => oneOf('--wg', 'toString', ['auto', 'kernel']), { message: '--wg must be one of auto, kernel (got "toString")' })
  t.throws(() => intInRange('x', 0, 1, 2, '', m => new SwimConfigError(m)), { code: 'WEFT_ERR_SWIM_CONFIG' }, 'a module may throw its own coded error')
})

t.test('withDefaults lets an undefined field take its default', async (t) => {
  t.same(withDefaults<{ a: number, b: number }>({ a: 1, b: 2 }, { a: undefined, b: 3 }), { a: 1, b: 3 })
})
