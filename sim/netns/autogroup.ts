/**
 * Flat CPU scheduling for `weft sim run`: turns `kernel.sched_autogroup_enabled` off while the run lives and
 * puts the machine's setting back when the last such run ends (or, after a crash, at the next run's stale
 * cleanup).
 *
 * Why: with autogroup on (Debian's default) the kernel groups the root cgroup's tasks by session, and every
 * detached wireguard-go weighs as much as the whole harness, so the dense profile's niceness does nothing; the
 * figures are in docs/sim.md, "What it changes on the machine".
 *
 * The setting is machine-wide, like the inotify and ARP limits the world raises; the change is logged, and
 * report.json records it (params.autogroup).
 */
import { existsSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs'
import type { Logger } from '../../lib/log.js'
import { PREFIX_RE, RUN_ROOT } from './names.js'

/** Present in a run's directory while the run needs autogroup off. */
export const FLAT_MARK = 'flat-sched'

/** Where the setting lives; tests point these at files of their own. */
export interface AutogroupPaths {
  /** The sysctl; absent on kernels built without CONFIG_SCHED_AUTOGROUP (which schedule flat already). */
  sysctl: string
  /** The machine's own value, saved by the first run that changed it. */
  saved: string
  /** Directory holding one directory per run (named by its prefix). */
  runRoot: string
}

/** The real ones. */
export const AUTOGROUP_PATHS: AutogroupPaths = {
  sysctl: '/proc/sys/kernel/sched_autogroup_enabled',
  saved: `${RUN_ROOT}/autogroup.saved`,
  runRoot: RUN_ROOT
}

/**
 * What a run found and did: `disabled` (it turned autogroup off), `off` (already off, by the machine or by
 * another live run), `unavailable` (no such sysctl, where scheduling is flat anyway, or one we may not
 * write) or `on` (not asked for).
 */
export type AutogroupState = 'disabled' | 'off' | 'unavailable' | 'on'

function read (path: string): string | null {
  try { return readFileSync(path, 'utf8').trim() } catch { return null }
}

/** Turns autogroup off for the run whose directory is `runDir` (which must exist); says what it found. */
export function flattenScheduling (runDir: string, log: Logger, paths = AUTOGROUP_PATHS): AutogroupState {
  const current = read(paths.sysctl)
  if (current === null) return 'unavailable'
  writeFileSync(`${runDir}/${FLAT_MARK}`, '')
  if (current === '0') return 'off'
  // Only the first run saves: a later one would save the 0 that the first wrote.
  let saved = false
  try { writeFileSync(paths.saved, `${current}\n`, { flag: 'wx' }); saved = true } catch { /* saved already */ }
  try {
    writeFileSync(paths.sysctl, '0\n')
  } catch (err) {
    // A read-only /proc/sys (some containers): run as things are, and say so.
    if (saved) { try { unlinkSync(paths.saved) } catch { /* gone */ } }
    log.warn({ event: 'sim.sysctl.failed', key: 'kernel.sched_autogroup_enabled', reason: (err as Error).message },
      'cannot turn kernel.sched_autogroup_enabled off: each wireguard-go is scheduled as a group of its own, so dense runs are slower')
    return 'unavailable'
  }
  log.warn({ event: 'sim.sysctl', key: 'kernel.sched_autogroup_enabled', from: Number(current), to: 0 },
    'turned kernel.sched_autogroup_enabled off for this run, so that niceness orders the daemons, their wireguard-go and the controller')
  return 'disabled'
}

/**
 * Puts the saved autogroup setting back unless a run that `isLive` still needs it off. Call after removing a
 * run's directory (and so its mark); does nothing when nothing was saved.
 */
export function restoreScheduling (isLive: (prefix: string) => boolean, log: Logger, paths = AUTOGROUP_PATHS): void {
  const saved = read(paths.saved)
  if (saved === null) return
  let runs: string[]
  try { runs = readdirSync(paths.runRoot).filter(d => PREFIX_RE.test(d)) } catch { runs = [] }
  if (runs.some(p => existsSync(`${paths.runRoot}/${p}/${FLAT_MARK}`) && isLive(p))) return
  try {
    writeFileSync(paths.sysctl, `${saved}\n`)
    unlinkSync(paths.saved)
    log.info({ event: 'sim.sysctl', key: 'kernel.sched_autogroup_enabled', to: Number(saved) }, 'put kernel.sched_autogroup_enabled back')
  } catch { /* the next run's cleanup tries again */ }
}
