import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The bits of tap's Test the helper uses. */
interface T { teardown (fn: () => unknown): void }

/**
 * Mounts a fresh tmpfs of `sizeKiB` on a new temp directory and unmounts and removes it at teardown.
 * Resolves `{ dir }`, or `{ reason }` when this machine cannot mount one (not root, no CAP_SYS_ADMIN).
 */
export async function mountTmpfs (t: T, sizeKiB: number): Promise<{ dir: string } | { reason: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-tmpfs-'))
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0700`, 'tmpfs', dir])
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    return { reason: `cannot mount a tmpfs: ${(err as Error).message.split('\n')[0]}` }
  }
  t.teardown(async () => {
    // A child killed at teardown may still hold files open for a moment; a lazy unmount never blocks.
    await run('umount', [dir]).catch(async () => await run('umount', ['-l', dir]))
    await rm(dir, { recursive: true, force: true })
  })
  return { dir }
}
