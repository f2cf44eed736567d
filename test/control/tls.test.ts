import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Agent, request } from 'undici'
import { startController } from '../../lib/control/index.js'
import { silentLogger } from '../../lib/log.js'
import { waitFor } from '../../sim/wait.js'
import { start, tempDir } from './helpers.js'

const run = promisify(execFile)

t.test('serves HTTPS with --tls-cert/--tls-key', async (t) => {
  const dir = await tempDir(t)
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=weft-test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert])
  const c = await start(t, { tlsCertFile: cert, tlsKeyFile: key })
  t.match(c.url, /^https:\/\/127\.0\.0\.1:\d+$/)
  const agent = new Agent({ connect: { ca: await readFile(cert) } })
  t.teardown(async () => await agent.close())
  const res = await request(`${c.url}/v1/info`, { dispatcher: agent })
  t.equal(res.statusCode, 200)
  t.match(await res.body.json(), { publicKey: c.publicKey })
})

t.test('a cert without a key is a config error', async (t) => {
  await t.rejects(startController({
    dataDir: join(await tempDir(t), 'd'),
    listen: '127.0.0.1:0',
    log: silentLogger(),
    tlsCertFile: '/nonexistent'
  }), { code: 'WEFT_ERR_CONFIG', message: /--tls-cert and --tls-key go together/ })
})

t.test('weft controller prints its certificate\'s SHA-256 fingerprint at start, in the log and as a hint', async (t) => {
  const dir = await tempDir(t)
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=weft-test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert])
  const openssl = (await run('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256'])).stdout
  const want = `sha256:${openssl.trim().split('=')[1]!.replace(/:/g, '').toLowerCase()}`
  const child = spawn(process.execPath, [join(process.cwd(), 'dist/cmd/weft.js'), 'controller', '--data', join(dir, 'data'),
    '--listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', key], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise(resolve => child.once('exit', resolve))
  t.teardown(async () => { child.kill('SIGTERM'); await exited })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  await waitFor('the fingerprint hint', () => out.includes('--controller-fingerprint'), 15_000)
  const listening = out.split('\n').filter(l => l.includes('"controller.listening"')).map(l => JSON.parse(l) as { tlsFingerprint: string })[0]
  t.equal(listening?.tlsFingerprint, want, 'the controller.listening log line carries the fingerprint openssl computes')
  t.match(out, new RegExp(`^weft controller: serving https://127\\.0\\.0\\.1:\\d+ with TLS certificate ${want}\\n  daemons and admin commands that do not trust its CA: --controller-fingerprint ${want}$`, 'm'))
})
