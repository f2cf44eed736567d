import t, { type Test } from 'tap'
import { execFile, type ChildProcess } from 'node:child_process'
import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { ControllerTrust } from '../../lib/client/trust.js'
import { ControlClient } from '../../lib/daemon/control-client.js'
import { silentLogger } from '../../lib/log.js'
import { NetnsWorld } from '../../sim/netns/world.js'
import { waitFor } from '../../sim/wait.js'
import { start, tempDir } from '../control/helpers.js'

/*
 * Every way `weft nodes list` (and the daemon's client, through the same code) can fail to reach a
 * controller, each produced for real: TLS and plain controllers and a closed port on loopback; a name that
 * does not resolve and a host without a route inside a namespace of this test, whose only DNS server is a
 * local one answering NXDOMAIN, so nothing leaves the machine.
 */

const run = promisify(execFile)
const WEFT = join(process.cwd(), 'dist/cmd/weft.js')
const NXDOMAIN = join(process.cwd(), 'dist/test/client/nxdomain.js')

interface Out { code: number, stdout: string, stderr: string }

async function weft (args: string[], ns?: string): Promise<Out> {
  const [file, argv] = ns === undefined ? [process.execPath, [WEFT, ...args]] : ['ip', ['netns', 'exec', ns, process.execPath, WEFT, ...args]]
  try {
    const r = await run(file, argv, { timeout: 30_000 })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code: number, stdout: string, stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

/** A loopback port nothing listens on: bound once, then closed. */
async function closedPort (): Promise<number> {
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', () => resolve()))
  const port = (s.address() as AddressInfo).port
  await new Promise(resolve => s.close(resolve))
  return port
}

const dir = await tempDir(t)
const cert = join(dir, 'cert.pem')
const key = join(dir, 'key.pem')
await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
  '-subj', '/CN=weft-test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert])
const otherCert = join(dir, 'other.pem')
await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
  '-subj', '/CN=other', '-keyout', join(dir, 'other.key'), '-out', otherCert])
// An expired certificate: openssl req cannot backdate, openssl ca can.
const caDir = join(dir, 'ca')
await mkdir(caDir)
await writeFile(join(caDir, 'index.txt'), '')
await writeFile(join(caDir, 'serial'), '01\n')
await writeFile(join(caDir, 'ca.cnf'), '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n' +
  'default_md = sha256\npolicy = p\ncopy_extensions = copy\nunique_subject = no\n[p]\ncommonName = supplied\n')
await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=expired',
  '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'key.pem', '-out', 'csr.pem'], { cwd: caDir })
await run('openssl', ['ca', '-batch', '-config', 'ca.cnf', '-selfsign', '-keyfile', 'key.pem', '-in', 'csr.pem',
  '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-out', 'cert.pem'], { cwd: caDir })
const expiredCert = join(caDir, 'cert.pem')
const tls = await start(t, { tlsCertFile: cert, tlsKeyFile: key })
const expired = await start(t, { tlsCertFile: expiredCert, tlsKeyFile: join(caDir, 'key.pem') })
const plain = await start(t)
const tlsPort = new URL(tls.url).port
const plainPort = new URL(plain.url).port
const closed = await closedPort()
// openssl prints "sha256 Fingerprint=AB:CD:..."; the pin accepts that form after "sha256:".
const opensslFp = `sha256:${(await run('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256'])).stdout.trim().split('=')[1]!}`
const fp = `sha256:${opensslFp.slice('sha256:'.length).replace(/:/g, '').toLowerCase()}` as const

const world = await NetnsWorld.create({ nodes: 1, log: silentLogger() })
const ns = world.names.nodeNs(0)
const etcNetns = `/etc/netns/${ns}`
// eslint-disable-next-line prefer-const -- the teardown, registered first, reads it
let dns: ChildProcess | undefined
t.teardown(async () => {
  dns?.kill()
  await world.destroy()
  await rm(etcNetns, { recursive: true, force: true })
  await rmdir('/etc/netns').catch(() => {}) // only when no other namespace keeps files there
})
await world.exec(ns, ['ip', 'route', 'add', 'unreachable', '192.0.2.1/32'])
await mkdir(etcNetns, { recursive: true })
await writeFile(join(etcNetns, 'resolv.conf'), 'nameserver 127.0.0.1\n')
dns = world.spawn(ns, [process.execPath, NXDOMAIN, '127.0.0.1', '53'], { stdio: ['ignore', 'pipe', 'inherit'], name: 'nxdomain' })
let dnsOut = ''
dns.stdout?.on('data', (d: Buffer) => { dnsOut += d.toString() })
await waitFor('the namespace DNS server', () => dnsOut.includes('ready'), 10_000)

const admin = ['--admin-key', tls.adminKeyFile]
const list = (controller: string, ...more: string[]): string[] => ['nodes', 'list', '--controller', controller, ...admin, ...more]
const seen: Array<[string, string]> = []

/** Runs `weft nodes list`, records its message, checks exit code and message. */
async function expectCli (t: Test, what: string, args: string[], code: number, message: RegExp, netns?: string): Promise<Out> {
  const out = await weft(args, netns)
  seen.push([what, out.code === 0 ? out.stdout.split('\n')[0]! : out.stderr.trim()])
  t.equal(out.code, code, `${what}: exit code (${out.stderr.trim()})`)
  t.match(out.stderr, message, what)
  t.notMatch(out.stderr, /fetch failed|unexpected error|\n\s+at /, `${what}: no bare "fetch failed", no stack trace`)
  return out
}

t.test('each connection failure gets its own sentence with the fix', async (t) => {
  await expectCli(t, 'self-signed certificate', list(tls.url), 1,
    new RegExp(`^weft: the controller at https://127\\.0\\.0\\.1:${tlsPort} presented a certificate this machine does not trust \\(it is self-signed; its fingerprint is ${fp}\\)\\. Pass --controller-ca FILE .* pin it with --controller-fingerprint\\. \\(WEFT_ERR_CONTROLLER_TLS\\)\\n$`))
  await expectCli(t, 'closed port', list(`http://127.0.0.1:${closed}`), 1,
    new RegExp(`cannot reach the controller at http://127\\.0\\.0\\.1:${closed}: connection refused, nothing listens on 127\\.0\\.0\\.1 port ${closed}\\. Check that the controller is running and that --controller names its --listen address and port\\. \\(WEFT_ERR_CONTROLLER_UNREACHABLE\\)`))
  await expectCli(t, 'http to an https controller', list(`http://127.0.0.1:${tlsPort}`), 1,
    new RegExp(`the controller at http://127\\.0\\.0\\.1:${tlsPort} speaks HTTPS, not plain HTTP: use https://127\\.0\\.0\\.1:${tlsPort} in --controller\\. \\(WEFT_ERR_CONTROLLER_TLS\\)`))
  await expectCli(t, 'https to an http controller', list(`https://127.0.0.1:${plainPort}`), 1,
    new RegExp(`the controller at https://127\\.0\\.0\\.1:${plainPort} speaks plain HTTP, not HTTPS: use http://127\\.0\\.0\\.1:${plainPort} in --controller, or start the controller with --tls-cert and --tls-key\\. \\(WEFT_ERR_CONTROLLER_TLS\\)`))
  await expectCli(t, 'a bad scheme', list(`ftp://127.0.0.1:${plainPort}`), 2,
    /--controller "ftp:\/\/127\.0\.0\.1:\d+" uses the scheme ftp, but the controller speaks only http:\/\/ or https:\/\/ \(WEFT_ERR_CONFIG\)/)
  await expectCli(t, 'no scheme', list(`127.0.0.1:${tlsPort}`), 2,
    new RegExp(`--controller "127\\.0\\.0\\.1:${tlsPort}" has no scheme: write https://127\\.0\\.0\\.1:${tlsPort} if the controller serves TLS \\(--tls-cert\\), or http://127\\.0\\.0\\.1:${tlsPort} if it does not \\(WEFT_ERR_CONFIG\\)`))
  await expectCli(t, 'a name that does not resolve', list('https://nonexistent.invalid:8443'), 1,
    /cannot reach the controller at https:\/\/nonexistent\.invalid:8443: the name nonexistent\.invalid does not resolve \(ENOTFOUND\)\. Check the host name in --controller, or give the controller's IP address\. \(WEFT_ERR_CONTROLLER_UNREACHABLE\)/, ns)
  await expectCli(t, 'an unreachable host', list('http://192.0.2.1:8080'), 1,
    /cannot reach the controller at http:\/\/192\.0\.2\.1:8080: no route to 192\.0\.2\.1 \(EHOSTUNREACH\)\. Check the address in --controller, that the controller's host is up, and the routes and firewalls between this machine and it\. \(WEFT_ERR_CONTROLLER_UNREACHABLE\)/, ns)
  await expectCli(t, 'a certificate not from --controller-ca', list(tls.url, '--controller-ca', otherCert), 1,
    /presented a certificate this machine does not trust \(it is self-signed; its fingerprint is sha256:[0-9a-f]{64}\)\. It is not signed by the CA in --controller-ca/)
  await expectCli(t, 'a name the certificate does not list', list(`https://localhost:${tlsPort}`, '--controller-ca', cert), 1,
    /presented a certificate that is not valid for localhost \(it names IP Address:127\.0\.0\.1\)\. Use a --controller URL with a name the certificate lists/)
  await expectCli(t, 'an expired certificate', list(expired.url, '--controller-ca', expiredCert), 1,
    /presented a certificate that expired on Jan {1,2}2 00:00:00 2020 GMT\. Renew the controller's certificate \(docs\/tls\.md\), or check the clocks of both machines\. \(WEFT_ERR_CONTROLLER_TLS\)/)
})

t.test('--controller-ca and a fingerprint pin connect; a wrong pin is refused', async (t) => {
  const ok = async (what: string, args: string[]): Promise<void> => {
    const out = await weft(args)
    seen.push([what, out.code === 0 ? out.stdout.split('\n')[0]! : out.stderr.trim()])
    t.equal(out.code, 0, `${what}: ${out.stderr}`)
    t.match(out.stdout, /^HOSTNAME\s+NAME\s+ID/, what)
  }
  await ok('--controller-ca with the certificate', list(tls.url, '--controller-ca', cert))
  await ok('--controller-fingerprint (openssl\'s colon form)', list(tls.url, '--controller-fingerprint', opensslFp))
  await ok('pin without a name check', list(`https://localhost:${tlsPort}`, '--controller-fingerprint', fp))
  t.equal(tls.tlsFingerprint, fp, 'the controller reports the fingerprint openssl computes')
  const wrong = `sha256:${'ab'.repeat(32)}`
  await expectCli(t, 'a wrong pin', list(tls.url, '--controller-fingerprint', wrong), 1,
    new RegExp(`presented a certificate with fingerprint ${fp}, not the pinned ${wrong}\\. If the controller's certificate was replaced, pin the ` +
      'fingerprint it printed at start; otherwise something else answers at this address\\. \\(WEFT_ERR_CONTROLLER_TLS\\)'))
  await expectCli(t, 'a pin with a CA that does not match', list(tls.url, '--controller-fingerprint', fp, '--controller-ca', otherCert), 1,
    /It is not signed by the CA in --controller-ca/)
  const env = await run(process.execPath, [WEFT, 'nodes', 'list', '--controller', tls.url], {
    env: {
      ...process.env,
      WEFT_ADMIN_KEY_FILE: tls.adminKeyFile,
      WEFT_CONTROLLER_CA: cert
    }
  })
  t.match(env.stdout, /^HOSTNAME\s+NAME\s+ID/, 'WEFT_CONTROLLER_CA stands in for the flag')
})

t.test('the daemon\'s client says the same sentences (one classification) and honours the same trust', async (t) => {
  const same = async (url: string, trust: ControllerTrust, cliArgs: string[]): Promise<void> => {
    const cli = await weft(list(url, ...cliArgs))
    const sentence = cli.stderr.replace(/^weft: /, '').replace(/ \(WEFT_ERR_[A-Z_]+\)\n$/, '')
    await t.rejects(new ControlClient(url, 5000, trust).info(), { message: sentence }, `${url} ${cliArgs.join(' ')}`)
  }
  await same(tls.url, {}, [])
  await same(`http://127.0.0.1:${closed}`, {}, [])
  await same(`http://127.0.0.1:${tlsPort}`, {}, [])
  await same(`https://127.0.0.1:${plainPort}`, {}, [])
  await same(tls.url, { fingerprint: `sha256:${'ab'.repeat(32)}` }, ['--controller-fingerprint', `sha256:${'ab'.repeat(32)}`])
  t.match(await new ControlClient(tls.url, 5000, { ca: await readFile(cert, 'utf8') }).info(), { publicKey: tls.publicKey }, 'with the CA')
  t.match(await new ControlClient(tls.url, 5000, { fingerprint: fp }).info(), { publicKey: tls.publicKey }, 'with the pin')
  t.throws(() => new ControlClient('198.18.0.1:8443'), { code: 'WEFT_ERR_CONFIG', message: /has no scheme/ })
})

t.teardown(() => {
  const w = Math.max(...seen.map(([k]) => k.length))
  t.comment('what `weft nodes list` says:\n' + seen.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n'))
})
