/**
 * A `weft daemon` start that cannot work fails before it registers or touches the device, says what it needs,
 * and leaves nothing behind: real `weft controller` and `weft daemon` processes in network namespaces, the
 * daemon run as an unprivileged user, with a kernel driver this machine does not have, and with its ports taken.
 */
import t, { type Test } from 'tap'
import { execFile, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Mesh, WEFT, waitFor } from '../../sim/cluster.js'
import { inNetns } from '../../lib/daemon/wg/exec.js'
import { uapiSocketPath } from '../../lib/daemon/wg/uapi-socket.js'

const NOBODY = 65534

const mesh = await Mesh.create(1)
const ns = mesh.ns(0)
const ifname = mesh.ifname(0)
const stateDir = mesh.stateDir(0)
const holders: ChildProcess[] = []
// A directory the unprivileged user may write, so that nothing but the missing privilege stops its start.
const nobodyHome = await mkdtemp(join(tmpdir(), 'weft-start-'))
t.teardown(async () => {
  for (const h of holders) h.kill('SIGKILL')
  if (!t.passing()) process.stderr.write(`--- mesh state at failure ---\n${await mesh.diagnose()}\n`)
  await mesh.destroy()
  await rm(nobodyHome, { recursive: true, force: true })
})
await chmod(nobodyHome, 0o755)
await chown(nobodyHome, NOBODY, NOBODY)
const tokenFile = join(nobodyHome, 'join-token')
await writeFile(tokenFile, await mesh.token(), { mode: 0o644 })

interface Exit { code: number | null, stdout: string, stderr: string }

/** Runs `weft daemon` in node 0's namespace until it exits (killed after 60 s: a start that hangs fails the test). */
async function daemonOnce (args: string[], opts: { as?: number, state?: string } = {}): Promise<Exit> {
  const drop = opts.as === undefined ? [] : ['setpriv', `--reuid=${opts.as}`, `--regid=${opts.as}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all']
  // `env -u`: without tap's process-info hook (tap puts it back into the environment of any child it sees), which
  // writes into the worktree where the unprivileged user may not.
  const argv = inNetns(ns, [...drop, 'env', '-u', 'NODE_OPTIONS', process.execPath, WEFT, 'daemon', '--controller', mesh.controllerUrl,
    '--state', opts.state ?? stateDir, '--interface', ifname, '--join-token-file', tokenFile, '--hostname', 'node-0', ...args])
  return await new Promise(resolve => {
    execFile(argv[0]!, argv.slice(1), { timeout: 60_000, killSignal: 'SIGKILL', encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr })
    })
  })
}

async function listed (): Promise<Array<{ id: string, meshIp: string }>> {
  return (JSON.parse(await mesh.admin('nodes', 'list', '--json')) as { nodes: Array<{ id: string, meshIp: string }> }).nodes
}

async function linkExists (): Promise<boolean> {
  try { await mesh.world.exec(ns, ['ip', 'link', 'show', 'dev', ifname]); return true } catch { return false }
}

/** The controller has no node, and nothing of the daemon is left on this machine. */
async function nothingLeft (t: Test, state = stateDir): Promise<void> {
  t.same(await listed(), [], 'the controller has no node: nothing registered, no IP taken')
  t.notOk(existsSync(state), 'no state directory, no key, no identity')
  t.notOk(await linkExists(), 'no interface')
  t.notOk(existsSync(uapiSocketPath(ifname)), 'no UAPI socket')
  t.same(mesh.wireguardPids(0), [], 'no wireguard-go')
}

/** Starts a process in node 0's namespace that holds UDP `port` on 0.0.0.0; resolves with its pid once bound. */
async function holdUdp (port: number): Promise<number> {
  const script = `require('node:dgram').createSocket('udp4').bind(${port}, '0.0.0.0', () => console.log('bound'))`
  const child = mesh.world.spawn(ns, [process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], name: `hold-${port}` })
  holders.push(child)
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve())
    child.once('exit', code => reject(new Error(`port holder exited with ${code}`)))
  })
  return child.pid!
}

function release (pid: number): void {
  holders.find(h => h.pid === pid)?.kill('SIGKILL')
}

t.test('without CAP_NET_ADMIN: refused before anything, with what to grant', async (t) => {
  const state = join(nobodyHome, 'state')
  const r = await daemonOnce([], { as: NOBODY, state })
  t.equal(r.stderr, 'weft: weft daemon needs CAP_NET_ADMIN to create and configure its WireGuard interface, and it runs as uid 65534 (nobody) without it: ' +
    'run it as root, or grant the capability (AmbientCapabilities=CAP_NET_ADMIN in the systemd unit) (WEFT_ERR_CONFIG)\n')
  t.equal(r.code, 2)
  await nothingLeft(t, state)
})

t.test('--wg kernel without the module: refused before anything, with the alternative', async (t) => {
  const r = await daemonOnce(['--wg', 'kernel'])
  t.equal(r.stderr, 'weft: --wg kernel: this kernel has no WireGuard module (`ip link add type wireguard`: Unknown device type): ' +
    'load it (modprobe wireguard; Linux 5.6 and later include it), or use --wg userspace with wireguard-go (apt install wireguard-go) (WEFT_ERR_CONFIG)\n')
  t.equal(r.code, 2)
  await nothingLeft(t)
})

t.test('the WireGuard listen port taken: refused before anything, naming who holds it', async (t) => {
  const pid = await holdUdp(51820)
  const r = await daemonOnce([])
  release(pid)
  t.equal(r.stderr, `weft: UDP port 51820 (--listen-port, WireGuard) is taken by pid ${pid} (node) on 0.0.0.0: stop that process, or choose another ` +
    '--listen-port (WEFT_ERR_CONFIG)\n')
  t.equal(r.code, 2)
  await nothingLeft(t)
})

t.test('the SWIM port taken: refused before anything, naming who holds it', async (t) => {
  const pid = await holdUdp(7946)
  const r = await daemonOnce([])
  release(pid)
  t.equal(r.stderr, `weft: UDP port 7946 (--swim-port, SWIM on the mesh IP) is taken by pid ${pid} (node) on 0.0.0.0: stop that process, or choose ` +
    'another --swim-port (WEFT_ERR_CONFIG)\n')
  t.equal(r.code, 2)
  await nothingLeft(t)
})

t.test('the corrected start comes up on the first mesh IP: the failed ones took nothing', async (t) => {
  await mesh.startDaemon(0)
  await waitFor('the daemon to answer', async () => (await mesh.tryStatus(0)) !== null, 30_000)
  const s = await mesh.status(0)
  t.equal(s.node.meshIp, '100.64.0.1')
  t.same((await listed()).map(n => n.meshIp), ['100.64.0.1'])
})

t.test('a second daemon on the same state directory is refused; the first keeps its socket', async (t) => {
  const r = await daemonOnce([])
  t.equal(r.stderr, `weft: a weft daemon already runs with --state ${stateDir} (it answers on ${join(stateDir, 'weft.sock')}): ` +
    'stop it first; a second daemon needs its own --state and --interface (WEFT_ERR_DATA_DIR)\n')
  t.equal(r.code, 1)
  t.equal((await mesh.status(0)).node.meshIp, '100.64.0.1', 'the running daemon still answers')
  t.equal((await listed()).length, 1)
})
