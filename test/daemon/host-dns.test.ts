/**
 * HostDns on temporary files with a recording command runner: the resolv.conf mode end to end (backup, in-place
 * write, idempotency, restore, changed-since, symlink refusal), leftovers undone at start, the resolved mode's
 * commands and failures, and detection of a running resolved.
 */
import t, { type Test } from 'tap'
import { createServer, type Server } from 'node:net'
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { ManualClock } from '../../lib/clock.js'
import { DeviceError } from '../../lib/errors.js'
import { BACKUP_NAME, HostDns, type HostDnsOptions } from '../../lib/daemon/host-dns.js'
import { probeHost } from '../../lib/daemon/host-dns-probe.js'
import { renderManaged } from '../../lib/daemon/resolv-conf.js'
import { parseResolvConf } from '../../lib/dns/resolv-conf.js'
import type { RunOptions, RunResult } from '../../lib/daemon/wg/exec.js'

const ORIGINAL = '# from DHCP\nnameserver 192.0.2.1\nnameserver 192.0.2.2\nsearch corp.example\noptions edns0\n'
const TARGET = { meshIp: '100.64.0.3', domain: 'weft.internal' }

interface Fixture {
  dir: string
  file: string
  stateDir: string
  backup: string
  bin: string
  calls: string[][]
  events: () => Array<Record<string, unknown>>
  clock: ManualClock
  /** Makes the fake runner fail every command whose argv contains `word`, with `message`; null: stop failing. */
  failOn: (word: string | null, message?: string) => void
  opts: (o?: Partial<HostDnsOptions>) => HostDnsOptions
}

async function fixture (t: Test): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-host-dns-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  const stateDir = join(dir, 'state')
  const bin = join(dir, 'bin')
  await mkdir(stateDir)
  await mkdir(bin)
  const lines: string[] = []
  const log = pino({ level: 'debug' }, new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } }))
  const calls: string[][] = []
  let failing: { word: string, message: string } | null = null
  const run = async (argv: readonly string[], _o?: RunOptions): Promise<RunResult> => {
    calls.push([...argv])
    if (failing !== null && argv.includes(failing.word)) throw new DeviceError(`\`${argv.join(' ')}\` failed: ${failing.message}`)
    return { stdout: '', stderr: '' }
  }
  const clock = new ManualClock(1_700_000_000_000)
  const file = join(dir, 'resolv.conf')
  return {
    dir,
    file,
    stateDir,
    backup: join(stateDir, BACKUP_NAME),
    bin,
    calls,
    clock,
    events: () => lines.map(l => JSON.parse(l) as Record<string, unknown>),
    failOn: (word, message = 'boom') => { failing = word === null ? null : { word, message } },
    opts: o => ({
      ifname: 'weft0',
      stateDir,
      acceptDns: true,
      manageResolvConf: true,
      resolvConfPath: file,
      resolvedSocketPath: join(dir, 'no-resolved.sock'),
      path: bin,
      run,
      clock,
      log,
      ...o
    })
  }
}

/** A listening unix socket standing in for resolved's varlink socket. */
async function fakeResolved (t: Test, path: string): Promise<Server> {
  const server = createServer(c => c.end())
  await new Promise<void>(resolve => server.listen(path, resolve))
  t.teardown(() => { server.close() })
  return server
}

async function executable (path: string): Promise<void> {
  await writeFile(path, '#!/bin/sh\nexit 0\n')
  await chmod(path, 0o755)
}

const managed = (original: string, f: Fixture, meshIp = TARGET.meshIp, domain = TARGET.domain): string =>
  renderManaged(parseResolvConf(original), { meshIp, domain, backupPath: f.backup })

t.test('resolv-conf: backs up, writes in place, does nothing the second time, restores exactly on revert', async (t) => {
  const f = await fixture(t)
  await writeFile(f.file, ORIGINAL)
  const inode = (await stat(f.file)).ino
  const dns = await HostDns.open(f.opts())
  t.equal(dns.mode, 'resolv-conf')

  const st = await dns.apply(TARGET)
  t.equal(await readFile(f.backup, 'utf8'), ORIGINAL, 'the original is kept in the state dir')
  const written = await readFile(f.file, 'utf8')
  t.equal(written, managed(ORIGINAL, f))
  t.match(written.split('\n')[0], /^# Managed by Weft .*Undo: weft leave/, 'first line: Weft manages it, and how to undo')
  t.same(written.split('\n').slice(1, 6), [
    'nameserver 100.64.0.3', 'nameserver 192.0.2.1', 'nameserver 192.0.2.2', 'search weft.internal corp.example', 'options edns0'
  ])
  t.equal((await stat(f.file)).ino, inode, 'written in place: same inode (a bind mount stays a bind mount)')
  t.same(st, {
    mode: 'resolv-conf',
    reason: `--dns-manage-resolv-conf: Weft writes ${f.file} and puts the original back on leave`,
    applied: { server: '100.64.0.3', domain: 'weft.internal', interface: null, file: f.file, at: 1_700_000_000_000 },
    lastError: null,
    hint: null
  })
  t.same(await dns.upstreams(), ['192.0.2.1', '192.0.2.2'], 'upstreams come from the backup')

  const mtime = (await stat(f.file)).mtimeMs
  await dns.apply(TARGET, { force: true })
  t.equal((await stat(f.file)).mtimeMs, mtime, 'applied again: the file is not rewritten')
  t.equal(f.events().filter(e => e.event === 'dns.host.apply').at(-1)?.changed, false)

  await dns.apply({ ...TARGET, domain: 'Mesh.Example.' })
  t.equal(await readFile(f.file, 'utf8'), managed(ORIGINAL, f, TARGET.meshIp, 'mesh.example'), 'a new domain rewrites the file')
  t.equal(await readFile(f.backup, 'utf8'), ORIGINAL, 'and keeps the original')

  // A restart: the new daemon keeps the backup, since the file is Weft's.
  const again = await HostDns.open(f.opts())
  await again.apply(TARGET)
  t.equal(await readFile(f.backup, 'utf8'), ORIGINAL)
  t.equal(await readFile(f.file, 'utf8'), managed(ORIGINAL, f))

  const reverted = await again.revert()
  t.equal(await readFile(f.file, 'utf8'), ORIGINAL, 'the original is back, byte for byte')
  t.equal((await stat(f.file)).ino, inode)
  await t.rejects(stat(f.backup), { code: 'ENOENT' }, 'the backup is gone')
  t.equal(reverted.applied, null)
  t.match(f.events().filter(e => e.event === 'dns.host.revert').at(-1), { outcome: 'restored' })
  await again.revert()
  t.equal(await readFile(f.file, 'utf8'), ORIGINAL, 'reverting twice changes nothing')
})

t.test('resolv-conf: a file changed since Weft wrote it is left alone on revert, and the backup dropped', async (t) => {
  const f = await fixture(t)
  await writeFile(f.file, ORIGINAL)
  const dns = await HostDns.open(f.opts())
  await dns.apply(TARGET)
  const edited = (await readFile(f.file, 'utf8')) + 'nameserver 198.51.100.7\n'
  await writeFile(f.file, edited)
  await dns.revert()
  t.equal(await readFile(f.file, 'utf8'), edited, 'the operator\'s edit stays')
  await t.rejects(stat(f.backup), { code: 'ENOENT' })
  t.match(f.events().find(e => e.event === 'dns.host.revert'), { level: 40, outcome: 'changed-since' })
})

t.test('resolv-conf: a file rewritten by someone else while Weft runs becomes the new original', async (t) => {
  const f = await fixture(t)
  await writeFile(f.file, ORIGINAL)
  const dns = await HostDns.open(f.opts())
  await dns.apply(TARGET)
  const dhcp = 'nameserver 198.51.100.1\n'
  await writeFile(f.file, dhcp)
  await dns.apply(TARGET, { force: true })
  t.equal(await readFile(f.backup, 'utf8'), dhcp)
  t.equal(await readFile(f.file, 'utf8'), managed(dhcp, f))
  t.match(f.events().find(e => e.event === 'dns.host.backup'), { step: 'replace' })
  await dns.revert()
  t.equal(await readFile(f.file, 'utf8'), dhcp)
})

t.test('resolv-conf: a symlink is refused at start and at apply, and its target never touched', async (t) => {
  const f = await fixture(t)
  const target = join(f.dir, 'managed-by-resolvconf')
  await writeFile(target, ORIGINAL)
  await symlink(target, f.file)
  const dns = await HostDns.open(f.opts())
  t.equal(dns.mode, 'none')
  const st = await dns.apply(TARGET)
  t.match(st.reason, new RegExp(`is a symlink to ${target}`))
  t.equal(st.hint, 'dig @100.64.0.3 <name>.weft.internal')
  t.equal(st.applied, null)
  t.equal(await readFile(target, 'utf8'), ORIGINAL)
  await t.rejects(stat(f.backup), { code: 'ENOENT' })
  t.same(await dns.upstreams(), ['192.0.2.1', '192.0.2.2'], 'upstreams read through the link')

  // Became a symlink after the mode was chosen: the apply fails visibly and writes nothing.
  const g = await fixture(t)
  await writeFile(g.file, ORIGINAL)
  const later = await HostDns.open(g.opts())
  await rm(g.file)
  await symlink(target, g.file)
  const failed = await later.apply(TARGET)
  t.match(failed.lastError, /is now a symlink/)
  t.equal(await readFile(target, 'utf8'), ORIGINAL)
})

t.test('a failed backup leaves /etc/resolv.conf untouched, and the next apply tries again', async (t) => {
  const f = await fixture(t)
  await writeFile(f.file, ORIGINAL)
  await rm(f.stateDir, { recursive: true })
  const dns = await HostDns.open(f.opts())
  const st = await dns.apply(TARGET)
  t.match(st.lastError, /^apply: .*ENOENT/)
  t.equal(st.applied, null)
  t.equal(await readFile(f.file, 'utf8'), ORIGINAL)
  t.match(f.events().find(e => e.event === 'dns.host.failed'), { op: 'apply', mode: 'resolv-conf' })
  await mkdir(f.stateDir)
  const ok = await dns.apply(TARGET)
  t.equal(ok.lastError, null)
  t.equal(await readFile(f.file, 'utf8'), managed(ORIGINAL, f))
})

t.test('a start without --dns-manage-resolv-conf, or with --accept-dns=false, puts the original back', async (t) => {
  for (const o of [{ manageResolvConf: false }, { acceptDns: false }]) {
    const f = await fixture(t)
    await writeFile(f.file, ORIGINAL)
    await (await HostDns.open(f.opts())).apply(TARGET)
    const dns = await HostDns.open(f.opts(o))
    t.equal(dns.mode, o.acceptDns === false ? 'off' : 'none')
    t.equal(await readFile(f.file, 'utf8'), ORIGINAL, JSON.stringify(o))
    await t.rejects(stat(f.backup), { code: 'ENOENT' })
    const st = await dns.apply(TARGET)
    t.equal(st.hint, 'dig @100.64.0.3 <name>.weft.internal')
    t.equal(st.applied, null)
    t.same(await dns.upstreams(), ['192.0.2.1', '192.0.2.2'], 'upstreams from the file itself')
  }
})

t.test('resolved: three resolvectl calls on the interface, once per change; revert drops them', async (t) => {
  const f = await fixture(t)
  const sock = join(f.dir, 'io.systemd.Resolve')
  await fakeResolved(t, sock)
  await executable(join(f.bin, 'resolvectl'))
  await symlink('../run/systemd/resolve/stub-resolv.conf', f.file)
  const dns = await HostDns.open(f.opts({ resolvedSocketPath: sock }))
  t.equal(dns.mode, 'resolved')
  const rc = join(f.bin, 'resolvectl')
  const st = await dns.apply(TARGET)
  t.same(f.calls, [[rc, 'dns', 'weft0', '100.64.0.3'], [rc, 'domain', 'weft0', '~weft.internal'], [rc, 'default-route', 'weft0', 'false']])
  t.same(st.applied, { server: '100.64.0.3', domain: 'weft.internal', interface: 'weft0', file: null, at: f.clock.now() })
  t.match(f.events().find(e => e.event === 'dns.host.apply'), { mode: 'resolved', ifname: 'weft0', domain: '~weft.internal' })

  await dns.apply(TARGET)
  t.equal(f.calls.length, 3, 'the same target again: no call')
  await dns.apply(TARGET, { force: true })
  t.equal(f.calls.length, 6, 'forced (the interface was recreated): applied again')
  await dns.apply({ ...TARGET, meshIp: '100.64.0.4' })
  t.same(f.calls.at(-3), [rc, 'dns', 'weft0', '100.64.0.4'], 'a new mesh IP: applied again')

  const reverted = await dns.revert()
  t.same(f.calls.at(-1), [rc, 'revert', 'weft0'])
  t.equal(reverted.applied, null)
  const calls = f.calls.length
  await dns.apply({ ...TARGET, meshIp: '100.64.0.4' })
  t.equal(f.calls.length, calls + 3, 'the same target after a revert: applied again')
})

t.test('resolved: a failing resolvectl is reported, never thrown, and retried by the next apply', async (t) => {
  const f = await fixture(t)
  const sock = join(f.dir, 'io.systemd.Resolve')
  await fakeResolved(t, sock)
  await executable(join(f.bin, 'resolvectl'))
  const dns = await HostDns.open(f.opts({ resolvedSocketPath: sock }))
  f.failOn('domain', 'Failed to set domain configuration: Access denied')
  const st = await dns.apply(TARGET)
  t.match(st.lastError, /^apply: .*Access denied/)
  t.equal(st.applied, null, 'half applied is not applied')
  t.match(f.events().find(e => e.event === 'dns.host.failed'), { op: 'apply', mode: 'resolved', error: /Access denied/ })
  f.failOn(null)
  const ok = await dns.apply(TARGET)
  t.equal(ok.lastError, null, 'the same target is applied again after a failure')
  t.not(ok.applied, null)

  f.failOn('revert', 'Failed to resolve interface "weft0": No such device')
  t.equal((await dns.revert()).lastError, null, 'an interface already gone has nothing to revert')
})

t.test('resolved without resolvectl: mode none, and nothing is run', async (t) => {
  const f = await fixture(t)
  const sock = join(f.dir, 'io.systemd.Resolve')
  await fakeResolved(t, sock)
  const dns = await HostDns.open(f.opts({ resolvedSocketPath: sock }))
  t.equal(dns.mode, 'none')
  t.match(dns.status().reason, /resolvectl is not on PATH/)
  await dns.apply(TARGET)
  t.same(f.calls, [])
})

t.test('--accept-dns=false with resolved running reverts the interface\'s settings at start', async (t) => {
  const f = await fixture(t)
  const sock = join(f.dir, 'io.systemd.Resolve')
  await fakeResolved(t, sock)
  await executable(join(f.bin, 'resolvectl'))
  const dns = await HostDns.open(f.opts({ resolvedSocketPath: sock, acceptDns: false }))
  t.equal(dns.mode, 'off')
  t.same(f.calls, [[join(f.bin, 'resolvectl'), 'revert', 'weft0']])
})

t.test('resolved detection: a socket that answers, a stale file that does not, the D-Bus name as fallback when resolved has its directory', async (t) => {
  const f = await fixture(t)
  const sock = join(f.dir, 'io.systemd.Resolve')
  const stale = join(f.dir, 'stale.sock')
  await writeFile(stale, '')
  await fakeResolved(t, sock)
  const base = { resolvConfPath: f.file, path: f.bin, clock: f.clock }
  const never = async (): Promise<RunResult> => { throw new Error('not asked') }
  t.ok((await probeHost({ ...base, resolvedSocketPath: sock, run: never })).resolvedRunning, 'listening socket')
  t.notOk((await probeHost({ ...base, resolvedSocketPath: stale, run: never })).resolvedRunning, 'a file that refuses connections')
  t.same((await probeHost({ ...base, resolvedSocketPath: stale, run: never })).resolvConf, { kind: 'missing' })

  await executable(join(f.bin, 'busctl'))
  const asked: string[][] = []
  const bus = (answer: string) => async (argv: readonly string[]): Promise<RunResult> => { asked.push([...argv]); return { stdout: answer, stderr: '' } }
  t.ok((await probeHost({ ...base, resolvedSocketPath: stale, run: bus('b true\n') })).resolvedRunning, 'owns org.freedesktop.resolve1')
  t.notOk((await probeHost({ ...base, resolvedSocketPath: stale, run: bus('b false\n') })).resolvedRunning)
  t.same(asked[0]?.slice(-3), ['NameHasOwner', 's', 'org.freedesktop.resolve1'], 'asks the bus, which never activates a service for it')
  t.notOk((await probeHost({ ...base, resolvedSocketPath: stale, run: never })).resolvedRunning, 'busctl failing: not running')
  const gone = join(f.dir, 'no-such-dir', 'io.systemd.Resolve')
  t.notOk((await probeHost({ ...base, resolvedSocketPath: gone, run: bus('b true\n') })).resolvedRunning,
    'no runtime directory: not running, and the bus is not asked')
  t.equal(asked.length, 2)
})

t.test('a target that is not an IPv4 address and a DNS name is refused with a sentence', async (t) => {
  const f = await fixture(t)
  await writeFile(f.file, ORIGINAL)
  const dns = await HostDns.open(f.opts())
  t.match((await dns.apply({ meshIp: 'fd00::1', domain: 'weft.internal' })).lastError, /must be an IPv4 address/)
  t.match((await dns.apply({ meshIp: '100.64.0.3', domain: 'bad domain\nnameserver 6.6.6.6' })).lastError, /a DNS name/)
  t.equal(await readFile(f.file, 'utf8'), ORIGINAL)
  t.match((await dns.apply({ meshIp: '100.64.0.3', domain: '~weft.internal' })).lastError, /a DNS name/)
  t.equal(await readFile(f.file, 'utf8'), ORIGINAL)
})

t.test('applies and reverts run one at a time, in call order', async (t) => {
  const f = await fixture(t)
  await writeFile(f.file, ORIGINAL)
  const dns = await HostDns.open(f.opts())
  await Promise.all([dns.apply(TARGET), dns.revert(), dns.apply({ ...TARGET, meshIp: '100.64.0.5' })])
  t.equal(await readFile(f.file, 'utf8'), managed(ORIGINAL, f, '100.64.0.5'))
  t.equal(await readFile(f.backup, 'utf8'), ORIGINAL)
})
