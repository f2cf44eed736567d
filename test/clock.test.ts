import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ManualClock, systemClock } from '../lib/clock.js'

t.test('a manual clock fires timers in deadline order, with now() at each deadline', async (t) => {
  const clock = new ManualClock(1000)
  const seen: Array<[string, number]> = []
  clock.setTimeout(() => seen.push(['b', clock.now()]), 20)
  clock.setTimeout(() => seen.push(['a', clock.now()]), 10)
  clock.setTimeout(() => seen.push(['c', clock.now()]), 20)
  clock.advance(15)
  t.same(seen, [['a', 1010]])
  t.equal(clock.now(), 1015)
  clock.advance(100)
  t.same(seen, [['a', 1010], ['b', 1020], ['c', 1020]], 'ties fire in the order they were set')
  t.equal(clock.timers, 0)
})

t.test('a cancelled timer never fires; cancel after firing is harmless', async (t) => {
  const clock = new ManualClock(0)
  let fired = 0
  const a = clock.setTimeout(() => fired++, 5)
  const b = clock.setTimeout(() => fired++, 5)
  a.cancel()
  clock.advance(10)
  b.cancel()
  t.equal(fired, 1)
  t.equal(clock.nextAt(), undefined)
})

t.test('an interval repeats until cancelled, also from inside its callback', async (t) => {
  const clock = new ManualClock(0)
  const at: number[] = []
  const iv = clock.setInterval(() => { at.push(clock.now()); if (at.length === 3) iv.cancel() }, 10)
  clock.advance(100)
  t.same(at, [10, 20, 30])
})

t.test('a timer set by a callback fires in the same advance when it is due', async (t) => {
  const clock = new ManualClock(0)
  const at: number[] = []
  clock.setTimeout(() => { at.push(clock.now()); clock.setTimeout(() => at.push(clock.now()), 5) }, 5)
  clock.advance(10)
  t.same(at, [5, 10])
})

t.test('sleep resolves when the manual clock passes it, or at once on abort', async (t) => {
  const clock = new ManualClock(0)
  const order: string[] = []
  const slept = clock.sleep(50).then(() => order.push(`slept at ${clock.now()}`))
  await clock.advanceAsync(49)
  t.same(order, [])
  await clock.advanceAsync(1)
  await slept
  t.same(order, ['slept at 50'])
  const ac = new AbortController()
  const aborted = clock.sleep(1_000_000, ac.signal)
  ac.abort()
  await aborted
  t.equal(clock.timers, 0, 'the aborted sleep left no timer')
})

t.test('advanceAsync lets awaited work set the next timer before time moves on', async (t) => {
  const clock = new ManualClock(0)
  const at: number[] = []
  const loop = async (): Promise<void> => { for (let i = 0; i < 3; i++) { await clock.sleep(10); at.push(clock.now()) } }
  const done = loop()
  await clock.advanceAsync(30)
  await done
  t.same(at, [10, 20, 30])
})

t.test('the system clock runs real timers and cancels them', async (t) => {
  let fired = false
  const timer = systemClock.setTimeout(() => { fired = true }, 1)
  timer.cancel()
  await systemClock.sleep(5)
  t.notOk(fired)
  const before = systemClock.now()
  await systemClock.sleep(2)
  t.ok(systemClock.now() >= before)
})

t.test('monotonic time moves with the manual clock and not back when the wall time is set back', async (t) => {
  const clock = new ManualClock(10_000)
  const m0 = clock.monotonic()
  clock.advance(250)
  t.equal(clock.monotonic() - m0, 250)
  clock.set(5_000)
  t.equal(clock.now(), 5_000)
  t.equal(clock.monotonic() - m0, 250, 'setting the wall time back leaves it')
  clock.setTimeout(() => t.equal(clock.monotonic() - m0, 350, 'at a timer it reads the timer deadline'), 100)
  clock.advance(100)
  const before = systemClock.monotonic()
  await systemClock.sleep(2)
  t.ok(systemClock.monotonic() > before)
})

t.test('lib/ waits and reads time only through the clock: no setTimeout, setInterval, Date.now or performance.now outside lib/clock.ts', async (t) => {
  const direct = /(?<![.\w])(?:setTimeout|setInterval|clearTimeout|clearInterval)\s*\(|\b(?:Date|performance)\.now\s*\(/
  const bad: string[] = []
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name)
      if (e.isDirectory()) walk(path)
      else if (e.name.endsWith('.ts') && path !== join('lib', 'clock.ts')) {
        readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
          if (direct.test(line.replace(/\/\/.*$|^\s*\*.*$/, ''))) bad.push(`${path}:${i + 1}: ${line.trim()}`)
        })
      }
    }
  }
  walk('lib')
  t.same(bad, [])
})
