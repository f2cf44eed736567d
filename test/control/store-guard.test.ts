import t from 'tap'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { GUARD_FILE, parseGuard, readGuard, writeGuard, type StoreGuard } from '../../lib/control/store-guard.js'
import { tempDir } from './helpers.js'

const g: StoreGuard = { format: 1, storeId: 'abc', seq: 12, nodes: 3, ipHighWater: 4, cidr: '100.64.0.0/10', writtenAt: 1700000000000 }

t.test('a written guard reads back, mode 0600, with no temp file left', async (t) => {
  const dir = await tempDir(t)
  t.equal(await readGuard(dir), null, 'absent: null')
  await writeGuard(dir, g)
  t.same(await readGuard(dir), g)
  t.equal((await stat(join(dir, GUARD_FILE))).mode & 0o777, 0o600)
  await writeGuard(dir, { ...g, seq: 13 })
  t.equal((await readGuard(dir))?.seq, 13)
})

t.test('anything but a guard is refused with what to do', async (t) => {
  for (const text of [
    '',
    '{',
    '{"format":2}',
    JSON.stringify({ ...g, seq: -1 }),
    JSON.stringify({ ...g, storeId: '' }),
    JSON.stringify({ ...g, nodes: 1.5 })
  ]) {
    t.equal(parseGuard(text), null, `not a guard: ${text.slice(0, 40)}`)
  }
  const dir = await tempDir(t)
  await writeFile(join(dir, GUARD_FILE), 'garbage')
  await t.rejects(readGuard(dir), { code: 'WEFT_ERR_DATA_DIR', message: /not a valid store guard; restore it from a backup, or delete it/ })
})
