import t from 'tap'
import { judgeReopen, type ReopenFacts } from '../../lib/control/store-check.js'

t.test('judgeReopen', async (t) => {
  const acked = new Map([['node:a', 'A'], ['node:b', 'B'], ['token:t', 'T']])
  const base: ReopenFacts = { ackedSeq: 7, failedSeq: 8, dbSeq: 7, expected: acked, found: acked, inDoubt: new Set(['node:c']) }
  const without = (key: string): Map<string, string> => new Map([...acked].filter(([k]) => k !== key))
  const cases: Array<[string, Partial<ReopenFacts>, string]> = [
    ['exactly what was acknowledged', {}, 'resume'],
    ['a failed non-synced write that did land', { failedSeq: null, found: without('token:t'), inDoubt: new Set(['token:t']) }, 'resume'],
    ['the failed batch landed after all', { dbSeq: 8, found: new Map([...acked, ['node:c', 'C']]) }, 'restart'],
    ['ahead of what was acknowledged', { failedSeq: null, dbSeq: 9 }, 'restart'],
    ['a record nobody wrote', { found: new Map([...acked, ['node:z', 'Z']]) }, 'restart'],
    ['an acknowledged record missing', { found: without('node:b') }, 'lost'],
    ['an acknowledged record changed', { found: new Map([...acked, ['node:a', 'X']]) }, 'lost'],
    ['behind the last acknowledged batch', { dbSeq: 6 }, 'lost']
  ]
  for (const [name, patch, kind] of cases) t.equal(judgeReopen({ ...base, ...patch }).kind, kind, name)
})
