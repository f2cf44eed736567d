/**
 * Starting and stopping wireguard-go. It runs detached (own session, stdio closed) so the data plane outlives
 * the daemon: a daemon restart or upgrade does not drop a single tunnel, and the next daemon adopts it.
 * wireguard-go processes are found by the UAPI socket they hold (or a pid file), never by process name.
 */
import { spawn } from 'node:child_process'
import { readFile, readdir, readlink, unlink, writeFile } from 'node:fs/promises'
import { existsSync, readFileSync } from 'node:fs'
import type { Clock } from '../../clock.js'
import { DeviceError } from '../../errors.js'
import type { Logger } from '../../log.js'
import { inNetns, type Netns } from './exec.js'
import { labelOf } from '../checks/process.js'
import { inotifyExhausted, inotifySuggestion, inotifyUse, type InotifyUse } from './inotify.js'
import { uapiAlive } from './uapi-socket.js'

/** Options of startWireguardGo. */
export interface StartWireguardGoOptions {
  ifname: string
  /** Namespace to start it in; undefined = the caller's own. */
  netns?: Netns
  /** Path of the wireguard-go binary. Default: `wireguard-go` from PATH. */
  binary?: string
  /** Where to record the pid (for cleanup of crashed runs); none when undefined. */
  pidFile?: string
  /** Give up when the UAPI socket does not answer within this long. Default: 5000, ~50x its usual start time here. */
  startTimeoutMs?: number
  /** Times the wait for the UAPI socket. */
  clock: Clock
  log: Logger
}

/**
 * Starts wireguard-go for `ifname` detached and resolves with its pid once its UAPI socket answers. Rejects
 * with DeviceError when it exits first (the message names the inotify limit when that is the cause: see
 * earlyExitMessage) or does not answer in time, and removes the socket file it left.
 */
export async function startWireguardGo (opts: StartWireguardGoOptions & { sockPath: string }): Promise<number> {
  const argv = inNetns(opts.netns, [opts.binary ?? 'wireguard-go', opts.ifname])
  // Foreground mode keeps the pid we spawn equal to wireguard-go's own (ip netns exec execs it), which is what
  // makes pid files reliable; detached + ignored stdio still lets it outlive us.
  const child = spawn(argv[0]!, argv.slice(1), {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: process.env.LOG_LEVEL ?? 'error' }
  })
  let exited: string | null = null
  const onExit = (code: number | null, signal: string | null): void => { exited = `exited with ${signal ?? code}` }
  const onError = (err: Error): void => { exited = `could not start: ${err.message}` }
  child.on('exit', onExit)
  child.on('error', onError)
  child.unref()
  const clock = opts.clock
  const deadline = clock.monotonic() + (opts.startTimeoutMs ?? 5000)
  try {
    for (;;) {
      if (exited !== null) {
        // It may have made the socket file before it failed to listen on it; a later start must not meet it.
        if (!await uapiAlive(opts.sockPath, clock)) await unlink(opts.sockPath).catch(() => {})
        const uid = process.geteuid?.() ?? 0
        throw new DeviceError(earlyExitMessage(opts.ifname, exited, opts.binary ?? 'wireguard-go', await inotifyUse(uid).catch(() => null), await labelOf(uid)))
      }
      if (await uapiAlive(opts.sockPath, clock)) break
      if (clock.monotonic() > deadline) {
        if (child.pid !== undefined) killQuietly(child.pid, 'SIGKILL')
        await unlink(opts.sockPath).catch(() => {})
        throw new DeviceError(`wireguard-go for ${opts.ifname} did not open ${opts.sockPath} within ${opts.startTimeoutMs ?? 5000} ms`)
      }
      await clock.sleep(10)
    }
  } finally {
    child.off('exit', onExit)
    child.off('error', onError)
  }
  const pid = child.pid!
  if (opts.pidFile !== undefined) await writeFile(opts.pidFile, `${pid}\n`)
  opts.log.info({ event: 'wg.start', ifname: opts.ifname, pid, netns: opts.netns }, 'started wireguard-go')
  return pid
}

/**
 * Why wireguard-go exited before its UAPI socket came up, as far as can be told from outside: with the
 * user's inotify instances used up (`use`), that, with the sysctl to raise; otherwise how to see its reason.
 */
export function earlyExitMessage (ifname: string, exited: string, binary: string, use: InotifyUse | null, user: string): string {
  const what = `wireguard-go for ${ifname} ${exited} before its UAPI socket came up`
  if (use !== null && inotifyExhausted(use)) {
    return `${what}: ${user} has no inotify instance left for it (${use.inUse} in use, limit ${use.limit}), and each wireguard-go needs one: ` +
      `raise the limit (sysctl -w ${use.knob}=${inotifySuggestion(use)})`
  }
  return `${what}; run \`${binary} -f ${ifname}\` as the daemon's user to see why`
}

function killQuietly (pid: number, signal: NodeJS.Signals): void {
  try { process.kill(pid, signal) } catch { /* already gone */ }
}

/** True when a process with `pid` exists and has not exited (a zombie awaiting its parent counts as gone). */
export function pidAlive (pid: number): boolean {
  let stat: string
  try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8') } catch { return false }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
  return state !== 'Z' && state !== 'X'
}

/**
 * Pids of the processes holding the listening unix sockets at `paths`. Sockets are listed per network
 * namespace, so /proc/PID/net/unix is read once per namespace, then fds are matched by socket inode.
 */
export async function socketOwners (paths: ReadonlySet<string>): Promise<Map<string, number[]>> {
  const owners = new Map<string, number[]>()
  if (paths.size === 0) return owners
  const pids = (await readdir('/proc')).filter(d => /^\d+$/.test(d))
  const seenNs = new Set<string>()
  const inodeToPath = new Map<string, string>()
  for (const pid of pids) {
    let ns: string
    try { ns = await readlink(`/proc/${pid}/ns/net`) } catch { continue }
    if (seenNs.has(ns)) continue
    seenNs.add(ns)
    let table: string
    try { table = await readFile(`/proc/${pid}/net/unix`, 'utf8') } catch { continue }
    for (const line of table.split('\n')) {
      const f = line.trim().split(/\s+/)
      if (f.length >= 8 && paths.has(f[7]!)) inodeToPath.set(f[6]!, f[7]!)
    }
  }
  if (inodeToPath.size === 0) return owners
  for (const pid of pids) {
    let fds: string[]
    try { fds = await readdir(`/proc/${pid}/fd`) } catch { continue }
    for (const fd of fds) {
      let target: string
      try { target = await readlink(`/proc/${pid}/fd/${fd}`) } catch { continue }
      const m = /^socket:\[(\d+)\]$/.exec(target)
      const path = m === null ? undefined : inodeToPath.get(m[1]!)
      if (path !== undefined) {
        const list = owners.get(path) ?? []
        if (!list.includes(Number(pid))) list.push(Number(pid))
        owners.set(path, list)
        break
      }
    }
  }
  return owners
}

/** Waits (bounded by `timeoutMs` on `clock`) until `cond()` holds; resolves with whether it did. */
export async function waitFor (cond: () => boolean | Promise<boolean>, clock: Clock, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const deadline = clock.monotonic() + timeoutMs
  for (;;) {
    if (await cond()) return true
    if (clock.monotonic() > deadline) return false
    await clock.sleep(stepMs)
  }
}

/**
 * Ends the wireguard-go holding `sockPath` (or the given `pids`, looked up before its link was deleted):
 * waits briefly for it to exit on its own (it does once its link is gone), then SIGTERM, then SIGKILL, and
 * finally removes a socket file nobody holds.
 */
export async function stopWireguardGo (sockPath: string, log: Logger, clock: Clock, pids?: readonly number[], timeoutMs = 3000): Promise<void> {
  const owners = pids ?? (await socketOwners(new Set([sockPath]))).get(sockPath) ?? []
  const gone = (): boolean => !existsSync(sockPath) && owners.every(p => !pidAlive(p))
  if (await waitFor(gone, clock, Math.min(1000, timeoutMs))) return
  for (const pid of owners) killQuietly(pid, 'SIGTERM')
  if (!await waitFor(() => owners.every(p => !pidAlive(p)), clock, timeoutMs)) {
    for (const pid of owners) killQuietly(pid, 'SIGKILL')
    await waitFor(() => owners.every(p => !pidAlive(p)), clock, timeoutMs)
  }
  if (owners.length > 0) log.info({ event: 'wg.stop', sockPath, pids: owners }, 'stopped wireguard-go')
  await unlink(sockPath).catch(() => {})
}
