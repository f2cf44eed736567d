import t from 'tap'
import { SeededRandom, sample, shuffle } from '../../lib/swim/random.js'

t.test('same seed, same sequence; different seeds differ', async t => {
  const a = new SeededRandom(42)
  const b = new SeededRandom(42)
  const c = new SeededRandom(43)
  const xa = Array.from({ length: 100 }, () => a.u32())
  t.same(Array.from({ length: 100 }, () => b.u32()), xa)
  t.not(Array.from({ length: 100 }, () => c.u32()).join(), xa.join())
})

t.test('draws are in range and roughly uniform', async t => {
  const r = new SeededRandom(1)
  const counts = new Array(10).fill(0)
  let outside = 0
  for (let i = 0; i < 100_000; i++) {
    const x = r.next()
    if (!(x >= 0 && x < 1)) outside++
    counts[r.int(10)]++
  }
  t.equal(outside, 0)
  for (const c of counts) t.ok(c > 9500 && c < 10500, `bucket ${c} near 10000`)
})

t.test('shuffle permutes; sample picks distinct accepted items', async t => {
  const r = new SeededRandom(7)
  const xs = Array.from({ length: 50 }, (_, i) => i)
  const s = shuffle([...xs], r)
  t.not(s.join(), xs.join())
  t.same([...s].sort((a, b) => a - b), xs)
  const picked = sample(xs, 5, r, x => x % 2 === 0)
  t.equal(picked.length, 5)
  t.equal(new Set(picked).size, 5)
  t.ok(picked.every(x => x % 2 === 0))
  t.same(sample(xs, 5, r, x => x === 33), [33], 'finds a lone acceptable item')
  t.same(sample(xs, 3, r, () => false), [])
  t.same(sample([], 3, r, () => true), [])
})

t.test('fork gives an independent, reproducible stream', async t => {
  const f1 = new SeededRandom(9).fork()
  const f2 = new SeededRandom(9).fork()
  t.equal(f1.u32(), f2.u32())
})
