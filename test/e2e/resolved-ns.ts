/**
 * A private systemd-resolved for tests. The binaries come unpacked from Debian's package (resolved-fetch.sh,
 * never installed). It runs inside a test's network namespace and a mount namespace of its own, held by a
 * `sleep` process: tmpfs over /run (its sockets and state), a private passwd and group adding the
 * systemd-resolve user it drops to, and its own dbus-daemon on a socket in the test's temporary directory.
 * Nothing touches the host's /run, /etc or system bus. Every process is recorded in the world's pid directory,
 * so world.destroy() (or a later run's stale cleanup) ends it.
 */
import { execFile, spawn } from 'node:child_process'
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs'
import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { run, type RunResult } from '../../lib/daemon/wg/exec.js'
import type { NetnsWorld } from '../../sim/netns/world.js'
import { recordOf, writeRecord } from '../../sim/netns/procs.js'
import { waitFor } from '../../sim/wait.js'

/** Where resolved-fetch.sh unpacked the package. */
export interface ResolvedPackage {
  /** Holds lib/systemd/systemd-resolved and usr/bin/resolvectl. */
  root: string
  /** The package's libsystemd-shared when the installed one is another version; '' when not needed. */
  libPath: string
}

/** Downloads (once, cached) and unpacks systemd-resolved; rejects with the script's sentence when it cannot. */
export async function fetchResolved (): Promise<ResolvedPackage> {
  const script = fileURLToPath(new URL('../../../test/e2e/resolved-fetch.sh', import.meta.url))
  const { stdout } = await run(['bash', script], { timeoutMs: 300_000 })
  const fields = new Map(stdout.split('\n').filter(l => l.includes('=')).map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
  const root = fields.get('ROOT') ?? ''
  if (root === '') throw new Error(`resolved-fetch.sh printed no ROOT: ${stdout}`)
  return { root, libPath: fields.get('LD_LIBRARY_PATH') ?? '' }
}

/** A running private resolved. */
export interface PrivateResolved {
  /** Pid whose mount and network namespaces hold resolved (`nsenter -t`). */
  holder: number
  /** Environment for commands inside: the package's resolvectl first on PATH, the private bus, its library. */
  env: NodeJS.ProcessEnv
  /** Runs `argv` inside (mount and network namespace) with `env`; rejects with its stderr when it fails. */
  exec: (argv: readonly string[]) => Promise<RunResult>
  /** What resolved and dbus-daemon wrote so far, for failure messages. */
  logs: () => string
}

const BUS_CONF = (socket: string): string => `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`

/** /etc/passwd and /etc/group with a systemd-resolve user added when the host has none. */
function accounts (): { passwd: string, group: string } {
  let passwd = readFileSync('/etc/passwd', 'utf8')
  let group = readFileSync('/etc/group', 'utf8')
  if (!/^systemd-resolve:/m.test(passwd)) {
    const used = new Set([...passwd.matchAll(/^[^:]*:[^:]*:(\d+):/gm), ...group.matchAll(/^[^:]*:[^:]*:(\d+):/gm)].map(m => Number(m[1])))
    let id = 990
    while (used.has(id)) id--
    passwd += `${passwd.endsWith('\n') ? '' : '\n'}systemd-resolve:x:${id}:${id}:systemd Resolver:/:/usr/sbin/nologin\n`
    if (!/^systemd-resolve:/m.test(group)) group += `${group.endsWith('\n') ? '' : '\n'}systemd-resolve:x:${id}:\n`
  }
  return { passwd, group }
}

/**
 * Starts dbus-daemon and systemd-resolved inside `ns`, with their files in `dir` (a fresh temporary directory,
 * made traversable here for the systemd-resolve user). Resolves once resolved's varlink socket exists.
 */
export async function startResolved (o: { world: NetnsWorld, ns: string, dir: string, pkg: ResolvedPackage }): Promise<PrivateResolved> {
  const { world, ns, dir, pkg } = o
  await chmod(dir, 0o755)
  const { passwd, group } = accounts()
  await writeFile(join(dir, 'passwd'), passwd, { mode: 0o644 })
  await writeFile(join(dir, 'group'), group, { mode: 0o644 })
  const busSocket = join(dir, 'bus.sock')
  await writeFile(join(dir, 'bus.conf'), BUS_CONF(busSocket))
  const logFile = join(dir, 'daemons.log')

  // `unshare` execs sleep, so the recorded pid is the holder's; its comm turns to `sleep` once the namespace is made.
  const holderChild = world.spawn(ns, ['unshare', '--mount', '--propagation', 'private', 'sleep', 'infinity'], { name: 'mntns' })
  const holder = holderChild.pid
  if (holder === undefined) throw new Error('could not start the mount namespace holder')
  await waitFor('the mount namespace holder', () => readFileSync(`/proc/${holder}/comm`, 'utf8').trim() === 'sleep', 10_000)
  const inMnt = async (...argv: string[]): Promise<RunResult> => await run(['nsenter', '-t', String(holder), '-m', '--', ...argv])
  await inMnt('mount', '-t', 'tmpfs', '-o', 'mode=0755,size=16m', 'weft-test-run', '/run')
  await inMnt('mkdir', '-p', '/run/systemd')
  await inMnt('mount', '--bind', join(dir, 'passwd'), '/etc/passwd')
  await inMnt('mount', '--bind', join(dir, 'group'), '/etc/group')

  const path = `${join(pkg.root, 'usr/bin')}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: path, DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${busSocket}` }
  if (pkg.libPath !== '') env.LD_LIBRARY_PATH = pkg.libPath
  const nsenter = (argv: readonly string[]): string[] => ['-t', String(holder), '-m', '-n', '--', ...argv]
  const logs = (): string => existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''

  const start = (argv: readonly string[], name: string): void => {
    const fd = openSync(logFile, 'a')
    // nsenter without --pid execs the command itself: the pid recorded is the daemon's.
    const child = spawn('nsenter', nsenter(argv), { env: { ...env, SYSTEMD_LOG_LEVEL: 'debug' }, stdio: ['ignore', fd, fd] })
    closeSync(fd)
    const rec = child.pid === undefined ? null : recordOf(child.pid)
    if (rec === null) throw new Error(`${name} did not start: ${logs()}`)
    writeRecord(`${world.names.pidDir}/${name}-${rec.pid}.json`, rec)
  }
  start(['dbus-daemon', `--config-file=${join(dir, 'bus.conf')}`, '--nofork', '--nopidfile'], 'dbus')
  await waitFor('the private dbus-daemon', () => existsSync(busSocket), 10_000).catch(err => { throw new Error(`${(err as Error).message}: ${logs()}`) })
  const daemon = [join(pkg.root, 'lib/systemd/systemd-resolved'), join(pkg.root, 'usr/lib/systemd/systemd-resolved')].find(p => existsSync(p))
  if (daemon === undefined) throw new Error(`no systemd-resolved under ${pkg.root}`)
  start([daemon], 'resolved')
  await waitFor('systemd-resolved\'s varlink socket', () => existsSync(`/proc/${holder}/root/run/systemd/resolve/io.systemd.Resolve`), 10_000)
    .catch(err => { throw new Error(`${(err as Error).message}: ${logs()}`) })

  const exec = async (argv: readonly string[]): Promise<RunResult> => await new Promise((resolve, reject) => {
    execFile('nsenter', nsenter(argv), { env, encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`\`${argv.join(' ')}\` failed: ${stderr.trim() !== '' ? stderr.trim() : err.message}`, { cause: err }))
      else resolve({ stdout, stderr })
    })
  })
  return { holder, env, exec, logs }
}
