import t, { type Test } from 'tap'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../../lib/log.js'
import { FLAT_MARK, flattenScheduling, restoreScheduling, type AutogroupPaths } from '../../../sim/netns/autogroup.js'

const log = silentLogger()

/** A fake machine: a sysctl file holding `value` (or none) and an empty run root. */
function machine (t: Test, value: string | null): AutogroupPaths & { run: (prefix: string) => string, value: () => string } {
  const dir = mkdtempSync(join(tmpdir(), 'weft-autogroup-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const paths = { sysctl: join(dir, 'sched_autogroup_enabled'), saved: join(dir, 'runs', 'autogroup.saved'), runRoot: join(dir, 'runs') }
  mkdirSync(paths.runRoot)
  if (value !== null) writeFileSync(paths.sysctl, `${value}\n`)
  return {
    ...paths,
    run: prefix => { const d = join(paths.runRoot, prefix); mkdirSync(d); return d },
    value: () => readFileSync(paths.sysctl, 'utf8').trim()
  }
}

t.test('a run turns autogroup off, and the machine gets its value back when the run has gone', async t => {
  const m = machine(t, '1')
  const run = m.run('wfaaaa')
  t.equal(flattenScheduling(run, log, m), 'disabled')
  t.equal(m.value(), '0')
  t.ok(existsSync(join(run, FLAT_MARK)), 'the run is marked as needing it off')
  restoreScheduling(() => true, log, m)
  t.equal(m.value(), '0', 'not while the marked run lives')
  rmSync(run, { recursive: true })
  restoreScheduling(() => true, log, m)
  t.equal(m.value(), '1')
  t.notOk(existsSync(m.saved), 'nothing saved is left behind')
})

t.test('with two runs, the second does not save the first one\'s 0, and only the last to end restores', async t => {
  const m = machine(t, '1')
  const a = m.run('wfaaaa')
  const b = m.run('wfbbbb')
  t.equal(flattenScheduling(a, log, m), 'disabled')
  t.equal(flattenScheduling(b, log, m), 'off')
  rmSync(a, { recursive: true })
  restoreScheduling(() => true, log, m)
  t.equal(m.value(), '0', 'b still runs')
  rmSync(b, { recursive: true })
  restoreScheduling(() => true, log, m)
  t.equal(m.value(), '1', 'the machine\'s own value, not the 0 b found')
})

t.test('a crashed run (mark left, owner dead) does not hold the setting', async t => {
  const m = machine(t, '1')
  flattenScheduling(m.run('wfdead'), log, m)
  restoreScheduling(prefix => prefix !== 'wfdead', log, m)
  t.equal(m.value(), '1')
})

t.test('a machine that had autogroup off keeps it off', async t => {
  const m = machine(t, '0')
  const run = m.run('wfaaaa')
  t.equal(flattenScheduling(run, log, m), 'off')
  rmSync(run, { recursive: true })
  restoreScheduling(() => false, log, m)
  t.equal(m.value(), '0')
})

t.test('a kernel without autogroup is reported and left alone', async t => {
  const m = machine(t, null)
  const run = m.run('wfaaaa')
  t.equal(flattenScheduling(run, log, m), 'unavailable')
  t.notOk(existsSync(join(run, FLAT_MARK)))
  t.notOk(existsSync(m.sysctl))
})

t.test('a sysctl that cannot be written (read-only /proc/sys) is reported, and nothing is saved', async t => {
  const m = machine(t, null)
  const run = m.run('wfaaaa')
  // /proc/version reads fine and refuses every write, even root's.
  t.equal(flattenScheduling(run, log, { ...m, sysctl: '/proc/version' }), 'unavailable')
  t.notOk(existsSync(m.saved), 'no saved value that a later restore would write')
})
