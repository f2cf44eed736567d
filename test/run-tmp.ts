/**
 * Temporary directories that belong to a netns run (sim/netns/names.ts): named after the run's prefix, so a
 * later run removes those a crashed run left, sparing runs that are still live (sim/netns/cleanup.ts runIsLive).
 */
import { mkdir, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PREFIX_RE } from '../sim/netns/names.js'
import { runIsLive } from '../sim/netns/cleanup.js'

/** Makes `$TMPDIR/weft-<label>-<prefix>` (mode 0700), after removing the `weft-<label>-*` of runs that are gone. */
export async function runTmpDir (label: string, prefix: string): Promise<string> {
  if (!PREFIX_RE.test(prefix)) throw new Error(`"${prefix}" is not a run prefix`)
  const head = `weft-${label}-`
  for (const name of await readdir(tmpdir())) {
    const p = name.startsWith(head) ? name.slice(head.length) : ''
    if (PREFIX_RE.test(p) && p !== prefix && !runIsLive(p)) await rm(join(tmpdir(), name), { recursive: true, force: true })
  }
  const dir = join(tmpdir(), head + prefix)
  await mkdir(dir, { mode: 0o700 })
  return dir
}
