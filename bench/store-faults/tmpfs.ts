import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A mounted tmpfs and how to remove it. */
export interface Tmpfs { dir: string, remove (): Promise<void> }

/** Mounts a tmpfs of `sizeKiB` on a new temp directory; throws with the reason when this machine cannot. */
export async function mountTmpfs (sizeKiB: number): Promise<Tmpfs> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-faults-'))
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0700`, 'tmpfs', dir])
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw new Error(`cannot mount a tmpfs (root and CAP_SYS_ADMIN needed): ${(err as Error).message.split('\n')[0]}`)
  }
  return {
    dir,
    remove: async () => {
      await run('umount', [dir]).catch(async () => await run('umount', ['-l', dir]))
      await rm(dir, { recursive: true, force: true })
    }
  }
}
