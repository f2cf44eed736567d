/**
 * The package as a new operator uses it (docs/operations.md, "Install" and "Config files"): packed, installed
 * with npm install -g into a fresh prefix, then a controller and two daemons started from that install with
 * nothing but `--config FILE`, in namespaces, and a ping over the mesh.
 */
import t from 'tap'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Mesh, waitFor } from '../../sim/cluster.js'
import { installPackage } from '../package-install.js'

const mesh = await Mesh.create(2)
const dir = await mkdtemp(join(tmpdir(), 'weft-install-'))
t.teardown(async () => {
  if (!t.passing()) process.stderr.write(`--- mesh state at failure ---\n${await mesh.diagnose()}\n`)
  await mesh.destroy()
  await rm(dir, { recursive: true, force: true })
})

/** A config file the way an operator writes one: comments, trailing commas. */
async function configFile (name: string, lines: string[]): Promise<string> {
  const file = join(dir, name)
  await writeFile(file, `// ${name}\n{\n${lines.map(l => `  ${l},`).join('\n')}\n}\n`)
  return file
}

t.test('installed from the tarball, a controller and two daemons run from config files and the mesh pings', async (t) => {
  const pkg = await installPackage(dir)
  t.match((await mesh.world.exec(mesh.world.names.controllerNs, [pkg.bin, '--version'])).stdout, /^weft \d+\.\d+\.\d+/)
  // The mesh's own controller steps aside; the installed one serves on another port, from its config file.
  await mesh.stopController()
  const data = join(dir, 'controller')
  const url = `http://${mesh.world.names.controllerAddr}:8090`
  const ctlFile = await configFile('controller.json', [`"data": "${data}"`, '"listen": "0.0.0.0:8090"', '"log-level": "info"'])
  mesh.world.spawn(mesh.world.names.controllerNs, [pkg.bin, 'controller', '--config', ctlFile], { name: 'installed-controller' })
  const admin = async (...args: string[]): Promise<string> =>
    (await mesh.world.exec(mesh.world.names.controllerNs, [pkg.bin, ...args, '--controller', 'http://127.0.0.1:8090', '--admin-key', join(data, 'admin.key')])).stdout
  await waitFor('the installed controller to answer', async () => { try { await admin('nodes', 'list'); return true } catch { return false } }, 30_000, 200)
  const tokenFile = join(dir, 'join-token')
  await writeFile(tokenFile, (await admin('token', 'create', '--reusable', '--ttl', '1h')).trim() + '\n', { mode: 0o600 })
  await chmod(tokenFile, 0o600)
  for (const i of [0, 1]) {
    const file = await configFile(`daemon-${i}.json`, [`"controller": ["${url}"]`, `"state": "${mesh.stateDir(i)}"`, `"interface": "${mesh.ifname(i)}"`,
      `"hostname": "installed-${i}"`, `"join-token-file": "${tokenFile}"`, '"log-level": "info"'])
    mesh.world.spawn(mesh.ns(i), [pkg.bin, 'daemon', '--config', file], { name: `installed-n${i}` })
  }
  const connected = async (): Promise<boolean> =>
    (await Promise.all([0, 1].map(async i => (await mesh.tryStatus(i))?.controller.state))).every(s => s === 'connected')
  await waitFor('both daemons connected', connected, 60_000, 200)
  const ips = await Promise.all([0, 1].map(async i => (await mesh.status(i)).node.meshIp))
  await waitFor('a tunnel each way', async () => await mesh.ping(0, ips[1]!) && await mesh.ping(1, ips[0]!), 30_000, 200)
  t.ok(await mesh.ping(0, ips[1]!), 'node 0 pings node 1 over the mesh')
  t.ok(await mesh.ping(1, ips[0]!), 'and back')
  t.match(await admin('nodes', 'list'), /installed-0[\s\S]*installed-1|installed-1[\s\S]*installed-0/, 'the controller lists both by their configured hostnames')
  t.notMatch(await readFile(join(dir, 'daemon-0.json'), 'utf8'), (await readFile(tokenFile, 'utf8')).trim(), 'the token stays in its own file')
})
