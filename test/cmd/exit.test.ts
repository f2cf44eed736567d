import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exitCodeOf } from '../../cmd/exit.js'
import { ConfigError, ControllerError, DaemonError, DataDirError, DeviceError, NodeRemovedError, StoreBehindError, SwimConfigError } from '../../lib/errors.js'
import { resolve, meshConfig } from '../../lib/swim/config.js'

const WEFT = join(process.cwd(), 'dist/cmd/weft.js')

/** Runs `weft ARGS` and resolves with its exit code and stderr; killed after 20 s. */
async function weft (args: string[]): Promise<{ code: number | null, stderr: string }> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WEFT, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`weft ${args.join(' ')} did not exit within 20 s`)) }, 20_000)
    child.on('exit', code => { clearTimeout(timer); resolve({ code, stderr }) })
  })
}

t.test('exit code by kind: 2 for our own config (a SWIM config included), 1 for everything else', async (t) => {
  const cases: Array<[unknown, number]> = [
    [new ConfigError('--cidr must be an IPv4 CIDR'), 2],
    [new SwimConfigError('swim config probeTimeoutMs (600) must be shorter than probeIntervalMs (200)'), 2],
    [new DataDirError('/var/lib/weft is not writable'), 1],
    [new StoreBehindError('the database is behind'), 1],
    [new NodeRemovedError('this node was removed'), 1],
    [new DeviceError('wireguard-go did not start'), 1],
    [new ControllerError('controller answered HTTP 400: bad', 400), 1],
    [new DaemonError('cannot reach the daemon', 503), 1],
    [new Error('a bug'), 1],
    ['not even an Error', 1]
  ]
  for (const [err, want] of cases) t.equal(exitCodeOf(err), want, `${(err as Error).name ?? typeof err}: ${want}`)
})

t.test('a SWIM config that cannot work is a config error: exit 2, keeping its own code and sentence', async (t) => {
  let err: unknown
  try { resolve({ ...meshConfig(), probeTimeoutMs: meshConfig().probeIntervalMs }) } catch (e) { err = e }
  t.type(err, ConfigError)
  t.match(err, { code: 'WEFT_ERR_SWIM_CONFIG', statusCode: undefined, message: /probeTimeoutMs .* must be shorter than probeIntervalMs/ })
  t.equal(exitCodeOf(err), 2)
})

t.test('weft exits 2 with the sentence and the code on a bad flag', async (t) => {
  const r = await weft(['sim', 'virtual', '--nodes', '2'])
  t.equal(r.code, 2)
  t.match(r.stderr, /^weft: --nodes and --seed are required\n[\s\S]*\(WEFT_ERR_CONFIG\)\n$/)
})

t.test('weft exits 1 on a failure that is not a config error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-exit-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const r = await weft(['status', '--state', dir])
  t.equal(r.code, 1)
  t.match(r.stderr, /^weft: cannot reach the daemon at .*weft\.sock: is the daemon running with this --state\? \(WEFT_ERR_DAEMON\)\n$/)
})
