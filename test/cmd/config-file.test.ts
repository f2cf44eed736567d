import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controllerConfig } from '../../cmd/controller.js'
import { daemonConfig } from '../../cmd/daemon.js'
import { ConfigError } from '../../lib/errors.js'
import { WEFT, weft } from './weft-cli.js'

const TOKEN = 'wt_config-file-test-token-do-not-echo'

/** A fresh directory, removed when `t` ends. */
async function tempDir (t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-config-file-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

/** Writes `text` to DIR/NAME with `mode` and returns its path. */
async function file (dir: string, name: string, text: string, mode = 0o644): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, text)
  await chmod(path, mode)
  return path
}

/** The ConfigError `fn` throws; fails the test when it throws nothing or something else. */
function configError (t: Test, fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    t.type(err, ConfigError)
    return (err as Error).message
  }
  t.fail('no ConfigError')
  return ''
}

const DAEMON_FILE = `{
  // one node of the mesh
  "controller": ["http://198.18.0.1:8080", "http://198.18.0.2:8080"],
  "interface": "weft0",
  "state": "/var/lib/weft-test", /* not created: only resolved */
  "listen-port": 51900,
  "endpoint": ["198.18.1.1:51900", "198.18.1.2:51900"],
  "keepalive": "15",
  "advertise-routes": ["10.1.0.0/24", "10.2.0.0/24",],
  "advertise-exit-node": true,
  "accept-routes": false,
  "route-hold-down": "45s",
}
`

t.test('a controller file with comments and trailing commas resolves to the config of the same flags', async (t) => {
  const dir = await tempDir(t)
  const cfg = await file(dir, 'controller.json', `{
    // where the registry lives
    "data": "${dir}/data",
    "listen": "127.0.0.1:0",
    "heartbeat-interval": "2s", /* durations are strings */
    "register-rate": 5,
    "auto-approve-routes": ["10.0.0.0/8", "exit",],
    "accept-data-loss": true,
  }`)
  const flags = ['--data', `${dir}/data`, '--listen', '127.0.0.1:0', '--heartbeat-interval', '2s', '--register-rate', '5',
    '--auto-approve-routes', '10.0.0.0/8,exit', '--accept-data-loss']
  const fromFile = controllerConfig(['--config', cfg])
  t.same(fromFile, controllerConfig(flags))
  t.equal(fromFile?.heartbeatIntervalMs, 2000)
  t.same(fromFile?.autoApproveRoutes, ['10.0.0.0/8', 'exit'])
  t.equal(controllerConfig(['--config', cfg, '--help']), null, '--help still prints the usage and stops')
})

t.test('a daemon file resolves to the config of the same flags: lists, repeatable flags and booleans', async (t) => {
  const dir = await tempDir(t)
  const cfg = await file(dir, 'daemon.json', DAEMON_FILE)
  const flags = ['--controller', 'http://198.18.0.1:8080,http://198.18.0.2:8080', '--interface', 'weft0', '--state', '/var/lib/weft-test',
    '--listen-port', '51900', '--endpoint', '198.18.1.1:51900', '--endpoint', '198.18.1.2:51900', '--keepalive', '15',
    '--advertise-routes', '10.1.0.0/24,10.2.0.0/24', '--advertise-exit-node', '--accept-routes=false', '--route-hold-down', '45s']
  const fromFile = daemonConfig(['--config', cfg])
  t.same(fromFile, daemonConfig(flags))
  t.same(fromFile?.routePrefs, { advertiseRoutes: ['10.1.0.0/24', '10.2.0.0/24'], advertiseExitNode: true, acceptRoutes: false })
  t.same(fromFile?.endpoints, ['198.18.1.1:51900', '198.18.1.2:51900'])
})

t.test('a flag on the command line replaces the key of the file', async (t) => {
  const dir = await tempDir(t)
  const cfg = await file(dir, 'daemon.json', DAEMON_FILE)
  const c = daemonConfig(['--config', cfg, '--listen-port', '52000', '--endpoint', '198.18.9.9:52000', '--advertise-exit-node=false'])
  t.equal(c?.listenPort, 52000)
  t.same(c?.endpoints, ['198.18.9.9:52000'], 'a repeatable flag replaces the whole list, not adds to it')
  t.equal(c?.routePrefs.advertiseExitNode, false)
  t.equal(c?.keepaliveSeconds, 15, 'keys the command line does not give stay')
  const ctl = await file(dir, 'controller.json', `{"data": "${dir}/data", "listen": "not an address"}`)
  t.equal(controllerConfig(['--config', ctl, '--listen', '127.0.0.1:9'])?.listen, '127.0.0.1:9', 'a bad key the command line replaces is never used')
})

t.test('an unknown key is refused with the file, the key and its line and column', async (t) => {
  const dir = await tempDir(t)
  const cfg = await file(dir, 'controller.json', `{
  "data": "/tmp/x",
  "listen-port": 8080
}`)
  t.equal(configError(t, () => controllerConfig(['--config', cfg])),
    `${cfg}: key "listen-port" (line 3, column 3): no such flag: the keys are the flags of --help, without their dashes`)
  const dashed = await file(dir, 'dashed.json', '{"--data": "/tmp/x"}')
  t.match(configError(t, () => controllerConfig(['--config', dashed])), /key "--data" \(line 1, column 2\): write the flag without its dashes/)
  const nested = await file(dir, 'nested.json', '{"config": "other.json"}')
  t.match(configError(t, () => controllerConfig(['--config', nested])), /key "config" .*: no such flag/, 'a file names no other file')
})

t.test('a value of the wrong type is refused, naming the key and the type, never the value', async (t) => {
  const dir = await tempDir(t)
  const cases: Array<[string, RegExp]> = [
    ['"listen-port": true', /key "listen-port" \(line 2, column 3\): --listen-port takes a string or a number \(got a boolean\)$/],
    ['"metrics-allow-mesh": "yes"', /key "metrics-allow-mesh" .*: --metrics-allow-mesh is on or off: give true or false \(got a string\)$/],
    ['"hostname": ["a", "b"]', /key "hostname" .*: --hostname takes a string or a number \(got a list\)$/],
    ['"controller": ["http://198.18.0.1:8080", 7]', /key "controller" .*: --controller takes a list of strings \(got an array holding a number\)$/],
    ['"snat-routes": null', /key "snat-routes" .*: --snat-routes takes true or false \(got null\)$/],
    [`"join-token": {"value": "${TOKEN}"}`, /key "join-token" .*: --join-token takes a string or a number \(got an object\)$/]
  ]
  for (const [entry, want] of cases) {
    const cfg = await file(dir, 'daemon.json', `{\n  ${entry}\n}`, 0o600)
    const message = configError(t, () => daemonConfig(['--config', cfg, '--interface', 'weft0']))
    t.match(message, want, entry)
    t.notOk(message.includes(TOKEN), 'no value in the message')
  }
})

t.test('a bad value fails the flag\'s own check, attributed to its key', async (t) => {
  const dir = await tempDir(t)
  const cfg = await file(dir, 'daemon.json', `{
  "controller": "http://198.18.0.1:8080",
  "interface": "weft0",
  "listen-port": "x",
}`)
  t.equal(configError(t, () => daemonConfig(['--config', cfg])),
    `${cfg}: key "listen-port" (line 4, column 3): --listen-port must be a whole number from 1 to 65534 (got "x")`)
  const ctl = await file(dir, 'controller.json', '{"data": "/tmp/x",\n "heartbeat-interval": 5000}')
  t.equal(configError(t, () => controllerConfig(['--config', ctl])),
    `${ctl}: key "heartbeat-interval" (line 2, column 2): --heartbeat-interval must be a duration like 30s, 15m, 24h or 7d (got "5000")`,
    'a duration is a string with its unit')
  t.equal(configError(t, () => controllerConfig(['--config', ctl, '--heartbeat-interval', '1s', '--cidr', 'nope'])),
    '--cidr must be an IPv4 network with a prefix from /8 to /30, e.g. 100.64.0.0/10 (got "nope")', 'a bad flag is not blamed on the file')
  const cross = await file(dir, 'cross.json', '{"controller": "http://198.18.0.1:8080", "interface": "weft0", "swim-port": 51820}')
  t.match(configError(t, () => daemonConfig(['--config', cross])), new RegExp(`^${cross}: key "swim-port" \\(line 1, column 64\\): --swim-port must differ`))
})

t.test('a missing file or a document that is not JSON is refused before anything starts', async (t) => {
  const dir = await tempDir(t)
  const missing = join(dir, 'nope.json')
  t.equal(configError(t, () => controllerConfig(['--config', missing])), `${missing}: cannot read the config file: no such file`)
  t.equal(configError(t, () => controllerConfig(['--config', dir])), `${dir}: cannot read the config file: it is a directory`)
  const broken = await file(dir, 'broken.json', '{\n  "data": "/tmp/x"\n  "listen": "127.0.0.1:0"\n}')
  t.equal(configError(t, () => controllerConfig(['--config', broken])), `${broken} (line 3, column 3): not valid JSON: comma expected`)
  const list = await file(dir, 'list.json', '["--data", "/tmp/x"]')
  t.equal(configError(t, () => controllerConfig(['--config', list])), `${list}: a config file is a JSON object of flag names and values`)
  const twice = await file(dir, 'twice.json', '{"data": "/a",\n"data": "/b"}')
  t.match(configError(t, () => controllerConfig(['--config', twice])), /key "data" \(line 2, column 1\): appears twice/)
})

t.test('the join token: a file path in the config, or the token itself only in a file no other user may read', async (t) => {
  const dir = await tempDir(t)
  const tokenFile = await file(dir, 'join-token', `${TOKEN}\n`, 0o600)
  const base = '"controller": "http://198.18.0.1:8080", "interface": "weft0"'
  const byPath = await file(dir, 'by-path.json', `{${base}, "join-token-file": "${tokenFile}"}`)
  t.equal(daemonConfig(['--config', byPath])?.joinToken, TOKEN, 'the token is read from the file the config names')
  const missing = await file(dir, 'missing.json', `{${base}, "join-token-file": "${dir}/none"}`)
  t.match(configError(t, () => daemonConfig(['--config', missing])), /key "join-token-file" .*: cannot read --join-token-file: ENOENT/)
  const open = await file(dir, 'open.json', `{${base}, "join-token": "${TOKEN}"}`, 0o644)
  const refused = configError(t, () => daemonConfig(['--config', open]))
  t.match(refused, /key "join-token" .*: holds a secret, but .* may be read by other users \(mode 0644\): chmod 600/)
  t.notOk(refused.includes(TOKEN), 'the token is not in the message')
  const both = await file(dir, 'both.json', `{${base}, "join-token": "${TOKEN}", "join-token-file": "${tokenFile}"}`, 0o600)
  const conflict = configError(t, () => daemonConfig(['--config', both]))
  t.match(conflict, /give --join-token-file or --join-token, not both/)
  t.notOk(conflict.includes(TOKEN), 'the token is not in the message')
  const closed = await file(dir, 'closed.json', `{${base}, "join-token": "${TOKEN}"}`, 0o600)
  t.equal(daemonConfig(['--config', closed])?.joinToken, TOKEN)
})

t.test('weft controller --config starts a controller; a bad file exits 2 with its sentence', async (t) => {
  const dir = await tempDir(t)
  const cfg = await file(dir, 'controller.json', `{
    // a controller on a free port
    "data": "${dir}/data",
    "listen": "127.0.0.1:0",
    "log-level": "info",
  }`)
  const child = spawn(process.execPath, [WEFT, 'controller', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { child.kill('SIGKILL') })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => { reject(new Error(`no controller.listening within 20 s: ${out}`)) }, 20_000)
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
      const m = /"event":"controller\.listening","url":"([^"]+)"/.exec(out)
      if (m !== null) { clearTimeout(timer); resolve(m[1]!) }
    })
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`weft controller exited ${String(code)}: ${out}`)) })
  })
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'it listens where the file says')
  t.equal((await fetch(`${url}/healthz`)).status, 200)
  const exited = new Promise<number | null>(resolve => child.once('exit', resolve))
  child.kill('SIGTERM')
  t.equal(await exited, 0)

  const bad = await file(dir, 'bad.json', '{"data": "/tmp/x", "register-rate": "many"}')
  const r = await weft(['controller', '--config', bad])
  t.equal(r.code, 2)
  t.match(r.stderr, /^weft: .*bad\.json: key "register-rate" \(line 1, column 20\): --register-rate must be a whole number .* \(WEFT_ERR_CONFIG\)\n$/)
})
