/**
 * Reading the host for host-dns.ts: whether systemd-resolved runs, where resolvectl is, and what
 * /etc/resolv.conf is. Each answer is one the host can give without any change to it.
 */
import { connect } from 'node:net'
import { constants } from 'node:fs'
import { access, lstat, readlink } from 'node:fs/promises'
import { delimiter, dirname, join } from 'node:path'
import type { Clock } from '../clock.js'
import { readFileIfExists } from './atomic-file.js'
import type { HostProbe, ResolvConfKind } from './host-dns-plan.js'
import type { RunOptions, RunResult } from './wg/exec.js'

/** systemd-resolved's varlink socket (systemd 246 and later); it exists and accepts connections while resolved runs. */
export const RESOLVED_SOCKET = '/run/systemd/resolve/io.systemd.Resolve'

/** Runs a command (lib/daemon/wg/exec.ts `run`); injected by unit tests. */
export type Runner = (argv: readonly string[], opts?: RunOptions) => Promise<RunResult>

/** The first executable `name` in `path`, or null. */
export async function findOnPath (name: string, path: string): Promise<string | null> {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue
    const file = join(dir, name)
    try {
      await access(file, constants.X_OK)
      return file
    } catch { /* not here */ }
  }
  return null
}

/** True when a unix socket at `path` accepts a connection within `timeoutMs` (a stale socket file refuses). */
export async function socketAnswers (path: string, clock: Clock, timeoutMs = 1000): Promise<boolean> {
  return await new Promise(resolve => {
    const sock = connect({ path })
    const done = (ok: boolean): void => { timer.cancel(); sock.destroy(); resolve(ok) }
    const timer = clock.setTimeout(() => done(false), timeoutMs)
    sock.once('connect', () => done(true))
    sock.once('error', () => done(false))
  })
}

/** What `path` is: a regular file (with its text), missing, a symlink (with its target) or something else. */
export async function resolvConfKind (path: string): Promise<ResolvConfKind> {
  try {
    const st = await lstat(path)
    if (st.isSymbolicLink()) return { kind: 'symlink', target: await readlink(path) }
    if (!st.isFile()) return { kind: 'other' }
    return { kind: 'file', text: await readFileIfExists(path) ?? '' }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' }
    return { kind: 'other' }
  }
}

/**
 * Reads what choosing a mode needs. Resolved counts as running when its varlink socket answers, or, for
 * systemd before 246, when its runtime directory exists and it owns its D-Bus name (NameHasOwner, which never
 * starts a service by activation).
 */
export async function probeHost (o: {
  resolvConfPath: string
  resolvedSocketPath: string
  path: string
  run: Runner
  clock: Clock
}): Promise<HostProbe> {
  const resolvectl = await findOnPath('resolvectl', o.path)
  let resolvedRunning = await socketAnswers(o.resolvedSocketPath, o.clock)
  // A resolved that runs has its runtime directory: without one, asking the bus (a process spawned at every
  // start, on every node) cannot say anything new.
  const runtimeDir = await access(dirname(o.resolvedSocketPath)).then(() => true, () => false)
  const busctl = resolvedRunning || !runtimeDir ? null : await findOnPath('busctl', o.path)
  if (busctl !== null) {
    const bus = 'org.freedesktop.DBus'
    const ask = [busctl, '--system', 'call', bus, '/org/freedesktop/DBus', bus, 'NameHasOwner', 's', 'org.freedesktop.resolve1']
    resolvedRunning = await o.run(ask, { timeoutMs: 3000 }).then(r => r.stdout.trim() === 'b true', () => false)
  }
  return { resolvedRunning, resolvectl, resolvConf: await resolvConfKind(o.resolvConfPath) }
}
