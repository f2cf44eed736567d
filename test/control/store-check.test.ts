import t from 'tap'
import { checkStart, judgeReopen, type DbFacts, type ReopenFacts } from '../../lib/control/store-check.js'
import type { StoreGuard } from '../../lib/control/store-guard.js'

const guard = (seq: number, nodes: number, storeId = 's1'): StoreGuard => ({
  format: 1,
  storeId,
  seq,
  nodes,
  ipHighWater: nodes,
  cidr: '100.64.0.0/10',
  writtenAt: 1
})
const db = (seq: number, nodes: number, storeId = 's1'): DbFacts => ({ storeId, seq, nodes, empty: false })
const EMPTY: DbFacts = { storeId: undefined, seq: 0, nodes: 0, empty: true }
const DROP = ['(ignoring error) db/000003.log: dropping 11807 bytes; Corruption: checksum mismatch']

t.test('checkStart', async (t) => {
  const cases: Array<[string, Parameters<typeof checkStart>[0], string]> = [
    ['a new data directory', { guard: null, db: EMPTY, controllerKeyExists: false, drops: [] }, 'first-start'],
    ['the guard agrees', { guard: guard(5, 3), db: db(5, 3), controllerKeyExists: true, drops: [] }, 'intact'],
    ['the database one batch ahead (a crash before the guard was written)', {
      guard: guard(5, 3),
      db: db(6, 4),
      controllerKeyExists: true,
      drops: []
    }, 'intact'],
    ['a first start that crashed after writing the guard', { guard: guard(0, 0), db: EMPTY, controllerKeyExists: true, drops: [] }, 'intact'],
    ['LevelDB dropped a torn tail, nothing acknowledged missing', { guard: guard(5, 3), db: db(5, 3), controllerKeyExists: true, drops: DROP }, 'intact'],
    ['data but no guard', { guard: null, db: db(5, 3), controllerKeyExists: true, drops: [] }, 'unguarded'],
    ['fewer writes than acknowledged', { guard: guard(5, 3), db: db(4, 3), controllerKeyExists: true, drops: [] }, 'behind'],
    ['same writes, fewer nodes', { guard: guard(5, 3), db: db(5, 2), controllerKeyExists: true, drops: [] }, 'behind'],
    ['the database deleted', { guard: guard(5, 3), db: EMPTY, controllerKeyExists: true, drops: [] }, 'behind'],
    ['another data directory\'s database', { guard: guard(5, 3), db: db(9, 9, 's2'), controllerKeyExists: true, drops: [] }, 'behind'],
    ['database and guard deleted, controller.key kept', { guard: null, db: EMPTY, controllerKeyExists: true, drops: [] }, 'behind'],
    ['LevelDB dropped data and there is no guard', { guard: null, db: db(5, 3), controllerKeyExists: true, drops: DROP }, 'behind']
  ]
  for (const [name, facts, kind] of cases) t.equal(checkStart(facts).kind, kind, name)
  t.match(checkStart({ guard: guard(6, 4), db: db(4, 2), controllerKeyExists: true, drops: [] }),
    { kind: 'behind', why: /ends at write 4 but write 6 was acknowledged/, loss: { writes: 2, nodes: 2, nodesBefore: 4, nodesNow: 2 } })
})

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
