/**
 * wireguard-go exits at start when its user has no inotify instance left. The daemon says that this is the
 * cause, with the sysctl to raise, and it says so before it registers: a real controller and a real
 * wireguard-go in a user and network namespace of their own, whose inotify limit (user.max_inotify_instances)
 * is set to 0 without touching the machine's.
 */
import t from 'tap'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WEFT, waitFor } from '../../sim/cluster.js'
import { systemClock } from '../../lib/clock.js'
import { askLocal, SOCKET_NAME } from '../../lib/daemon/control-socket.js'
import type { DaemonStatus } from '../../lib/daemon/status.js'
import { uapiSocketPath } from '../../lib/daemon/wg/uapi-socket.js'
import { socketOwners, stopWireguardGo } from '../../lib/daemon/wg/wireguard-go.js'
import { silentLogger } from '../../lib/log.js'

const PORT = 18_090
const URL = `http://127.0.0.1:${PORT}`
const ifname = `weftino${randomBytes(2).toString('hex')}`
const sock = uapiSocketPath(ifname)
const dir = await mkdtemp(join(tmpdir(), 'weft-inotify-'))
const state = join(dir, 'state')
const data = join(dir, 'controller')

// The namespaces live as long as this process; everything below enters them.
const box = spawn('unshare', ['--user', '--map-root-user', '--net', 'sleep', '3600'], { stdio: 'ignore' })
const started: ChildProcess[] = []
t.teardown(async () => {
  for (const c of started) c.kill('SIGKILL')
  // A wireguard-go started in the box is detached from us and keeps its namespace alive.
  await stopWireguardGo(sock, silentLogger(), systemClock, (await socketOwners(new Set([sock]))).get(sock))
  box.kill('SIGKILL')
  await rm(dir, { recursive: true, force: true })
})

/** `argv` inside the box, as its root (full capabilities over its network namespace), without tap's hook. */
function inBox (argv: string[]): string[] {
  return ['nsenter', '-t', String(box.pid), '--user', '--net', 'env', '-u', 'NODE_OPTIONS', ...argv]
}

async function boxRun (argv: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const full = inBox(argv)
  return await new Promise(resolve => {
    execFile(full[0]!, full.slice(1), { timeout: 60_000, killSignal: 'SIGKILL', encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr })
    })
  })
}

async function admin (...args: string[]): Promise<string> {
  const r = await boxRun([process.execPath, WEFT, ...args, '--controller', URL, '--admin-key', join(data, 'admin.key')])
  if (r.code !== 0) throw new Error(`weft ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

async function inotifyLimit (n: number): Promise<void> {
  const r = await boxRun(['sh', '-c', `echo ${n} > /proc/sys/user/max_inotify_instances`])
  if (r.code !== 0) throw new Error(`cannot set the box's inotify limit: ${r.stderr}`)
}

const daemonArgs = ['daemon', '--controller', URL, '--state', state, '--interface', ifname, '--join-token-file', join(dir, 'token'),
  '--wg', 'userspace', '--hostname', 'node-i', '--log-level', 'warn']

await boxRun(['ip', 'link', 'set', 'lo', 'up'])
const controller = inBox([process.execPath, WEFT, 'controller', '--data', data, '--listen', `127.0.0.1:${PORT}`, '--log-level', 'warn'])
started.push(spawn(controller[0]!, controller.slice(1), { stdio: 'ignore' }))
await waitFor('the controller to answer', async () => await admin('nodes', 'list', '--json').then(() => true, () => false), 30_000, 200)
await boxRun(['sh', '-c', `${process.execPath} ${WEFT} token create --controller ${URL} --admin-key ${join(data, 'admin.key')} > ${join(dir, 'token')}`])

t.test('no inotify instance left: wireguard-go exits, the daemon names the limit and registers nothing', async (t) => {
  await inotifyLimit(0)
  const r = await boxRun([process.execPath, WEFT, ...daemonArgs])
  t.match(r.stderr, new RegExp(`^weft: wireguard-go for ${ifname} exited with 1 before its UAPI socket came up: uid 0 \\(root\\) has no inotify instance ` +
    'left for it ' +
    '\\(\\d+ in use, limit 0\\), and each wireguard-go needs one: raise the limit \\(sysctl -w user\\.max_inotify_instances=\\d+\\) \\(WEFT_ERR_DEVICE\\)\\n$'))
  t.equal(r.code, 1)
  t.same(JSON.parse(await admin('nodes', 'list', '--json')).nodes, [], 'the controller has no node')
  t.notOk(existsSync(state), 'no state directory')
  t.notOk(existsSync(sock), 'no UAPI socket file left by wireguard-go')
})

t.test('with the limit raised, the same start comes up on the first mesh IP', async (t) => {
  await inotifyLimit(128)
  const full = inBox([process.execPath, WEFT, ...daemonArgs])
  const daemon = spawn(full[0]!, full.slice(1), { stdio: 'ignore' })
  started.push(daemon)
  const status = async (): Promise<DaemonStatus | null> =>
    await askLocal<DaemonStatus>(join(state, SOCKET_NAME), { cmd: 'status' }, systemClock, 5000).catch(() => null)
  await waitFor('the daemon to answer', async () => await status() !== null, 30_000)
  t.equal((await status())!.node.meshIp, '100.64.0.1')
  t.same((JSON.parse(await admin('nodes', 'list', '--json')).nodes as Array<{ meshIp: string }>).map(n => n.meshIp), ['100.64.0.1'])
  t.ok(JSON.parse(await readFile(join(state, 'node.json'), 'utf8')).nodeId, 'identity saved')
})
