/**
 * The resolv-conf mode on the real path: inside a namespace, `ip netns exec` bind-mounts the test's
 * /etc/netns/NS/resolv.conf over /etc/resolv.conf, and HostDns (host-dns-script.ts) writes and restores
 * "/etc/resolv.conf" there. The file is checked from outside, glibc inside resolves a mesh name through it,
 * and the host's own /etc/resolv.conf is compared before and after. Run under `flock /tmp/weft-netns.lock`.
 */
import t from 'tap'
import { execFile, type ChildProcess } from 'node:child_process'
import { readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { silentLogger } from '../../lib/log.js'
import { BACKUP_NAME, RESOLV_CONF, type HostDnsStatus } from '../../lib/daemon/host-dns.js'
import { renderManaged } from '../../lib/daemon/resolv-conf.js'
import { parseResolvConf } from '../../lib/dns/resolv-conf.js'
import { ipCmd, run } from '../../lib/daemon/wg/exec.js'
import { NetnsWorld } from '../../sim/netns/world.js'
import { waitFor } from '../../sim/wait.js'
import { fileIdentity } from '../netns-etc.js'
import { runTmpDir } from '../run-tmp.js'

const execFileP = promisify(execFile)
const log = silentLogger()
const script = fileURLToPath(new URL('./host-dns-script.js', import.meta.url))

const hostBefore = { text: await readFile(RESOLV_CONF, 'utf8'), st: await stat(RESOLV_CONF) }
const world = await NetnsWorld.create({ nodes: 1, log })
const ns = world.names.nodeNs(0)
const stateDir = await runTmpDir('host-dns-netns', world.names.prefix)
t.teardown(async () => {
  await world.destroy()
  await rm(stateDir, { recursive: true, force: true })
})

// A token no other file has, so a mix-up with the host's file could not go unnoticed.
const ORIGINAL = `# test ${world.names.prefix}\nnameserver 192.0.2.1\nsearch corp.example\noptions edns0\n`
const nsFile = world.writeEtc(ns, 'resolv.conf', ORIGINAL)
const identity = fileIdentity(nsFile)
const backup = join(stateDir, BACKUP_NAME)

async function inside (op: 'apply' | 'revert'): Promise<HostDnsStatus & { upstreams: string[] }> {
  const argv = ['ip', 'netns', 'exec', ns, process.execPath, script, op, '--expect', identity, '--state', stateDir, '--manage']
  const { stdout } = await execFileP(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 })
  return JSON.parse(stdout) as HostDnsStatus & { upstreams: string[] }
}

t.test('apply writes the namespace\'s /etc/resolv.conf in place; glibc then resolves mesh names; revert restores it', async (t) => {
  const managed = renderManaged(parseResolvConf(ORIGINAL), { meshIp: '100.64.0.3', domain: 'weft.internal', backupPath: backup })
  const st = await inside('apply')
  t.equal(st.mode, 'resolv-conf')
  t.equal(st.lastError, null)
  t.equal(st.applied?.file, '/etc/resolv.conf')
  t.same(st.upstreams, ['192.0.2.1'])
  t.equal(await readFile(nsFile, 'utf8'), managed, 'the bind-mounted file holds Weft\'s content')
  t.equal(fileIdentity(nsFile), identity, 'written in place: a rename could not have replaced a bind mount')
  t.equal(await readFile(backup, 'utf8'), ORIGINAL)
  t.equal((await run(['ip', 'netns', 'exec', ns, 'cat', '/etc/resolv.conf'])).stdout, managed, 'seen inside as /etc/resolv.conf')

  // glibc inside the namespace asks the mesh IP first, and the search line completes a short name.
  await run(ipCmd(ns, 'addr', 'add', '100.64.0.3/32', 'dev', 'lo'))
  const server: ChildProcess = world.spawn(ns, [process.execPath, script, 'serve'], { stdio: ['ignore', 'pipe', 'inherit'], name: 'dns' })
  let out = ''
  server.stdout?.on('data', (b: Buffer) => { out += b.toString() })
  await waitFor('the test DNS server', () => out.includes('ready\n'), 10_000)
  const full = (await run(['ip', 'netns', 'exec', ns, 'getent', 'ahostsv4', 'node1.weft.internal'])).stdout
  t.match(full, /^100\.64\.0\.9\s/, 'a full mesh name resolves through the written file')
  const short = (await run(['ip', 'netns', 'exec', ns, 'getent', 'ahostsv4', 'node1'])).stdout
  t.match(short, /^100\.64\.0\.9\s.*node1\.weft\.internal/m, 'a short name resolves through `search weft.internal`')
  server.kill()

  const mtime = (await stat(nsFile)).mtimeMs
  const again = await inside('apply')
  t.equal(again.lastError, null)
  t.equal((await stat(nsFile)).mtimeMs, mtime, 'a second start with the same settings writes nothing')
  t.equal(await readFile(backup, 'utf8'), ORIGINAL, 'and keeps the real original')

  const reverted = await inside('revert')
  t.equal(reverted.applied, null)
  t.equal(reverted.lastError, null)
  t.equal(await readFile(nsFile, 'utf8'), ORIGINAL, 'the original is back, byte for byte')
  t.equal(fileIdentity(nsFile), identity)
  await t.rejects(stat(backup), { code: 'ENOENT' }, 'the backup is gone')
})

t.test('the host\'s own /etc/resolv.conf is untouched', async (t) => {
  const after = await stat(RESOLV_CONF)
  t.equal(await readFile(RESOLV_CONF, 'utf8'), hostBefore.text)
  t.same([after.ino, after.mtimeMs, after.size], [hostBefore.st.ino, hostBefore.st.mtimeMs, hostBefore.st.size])
})
