/**
 * inotify instances: each wireguard-go takes one for its UAPI socket, and past the per-user limit a new one
 * exits at start, saying so only on the stdout it no longer has. This tells that cause from the others.
 */
import { readdir, readFile, readlink, stat } from 'node:fs/promises'

/** inotify use of one user against its limit. */
export interface InotifyUse {
  inUse: number
  limit: number
  /** The sysctl that sets the limit in force: the lower of the machine's and this user namespace's. */
  knob: 'fs.inotify.max_user_instances' | 'user.max_inotify_instances'
}

/** Whether `use` leaves no instance for one more wireguard-go. */
export function inotifyExhausted (use: InotifyUse): boolean {
  return use.inUse >= use.limit
}

/** The limit to suggest: double the current one, and at least 128 above what is in use. */
export function inotifySuggestion (use: InotifyUse): number {
  return Math.max(use.limit * 2, use.inUse + 128)
}

/**
 * inotify instances of `uid` (fds that are inotify instances, in processes running as `uid`) and the limit
 * that applies. Reads every process's fds: for diagnosing a failure, not for every start.
 */
export async function inotifyUse (uid: number): Promise<InotifyUse> {
  let inUse = 0
  for (const pid of (await readdir('/proc')).filter(d => /^\d+$/.test(d))) {
    if ((await stat(`/proc/${pid}`).catch(() => null))?.uid !== uid) continue
    let fds: string[]
    try { fds = await readdir(`/proc/${pid}/fd`) } catch { continue }
    for (const fd of fds) if (await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '') === 'anon_inode:inotify') inUse++
  }
  const read = async (path: string): Promise<number> => {
    const v = Number((await readFile(path, 'utf8').catch(() => '')).trim())
    return Number.isInteger(v) && v >= 0 ? v : Infinity
  }
  const machine = await read('/proc/sys/fs/inotify/max_user_instances')
  const userns = await read('/proc/sys/user/max_inotify_instances')
  return userns < machine ? { inUse, limit: userns, knob: 'user.max_inotify_instances' } : { inUse, limit: machine, knob: 'fs.inotify.max_user_instances' }
}
