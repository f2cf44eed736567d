/**
 * The npm package: `npm pack` holds the compiled program and the operator's files, not the sources, tests or
 * benches; `npm install -g` of the tarball into a fresh prefix gives a `weft` that prints its versions and
 * runs a controller, with only the runtime dependencies (from the npm cache, as a machine with Node 20 and npm
 * would fetch them).
 */
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { until } from '../control/helpers.js'
import { installPackage } from '../package-install.js'

const run = promisify(execFile)
const ROOT = process.cwd()

const dir = await mkdtemp(join(tmpdir(), 'weft-package-'))
t.teardown(async () => await rm(dir, { recursive: true, force: true }))
const installed = await installPackage(dir)
const files = installed.files
const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
  version: string, dependencies: Record<string, string>, devDependencies: Record<string, string>
}

t.test('the tarball holds the compiled program, its docs and deploy files, and no sources, tests or benches', async (t) => {
  t.ok(files.includes('dist/cmd/weft.js'), 'the weft command')
  t.ok(files.includes('dist/lib/control/controller.js') && files.includes('dist/lib/daemon/daemon.js'))
  t.ok(files.includes('dist/sim/cluster.js'), 'weft sim')
  for (const f of ['README.md', 'CHANGELOG.md', 'LICENSE', 'package.json', 'docs/operations.md']) t.ok(files.includes(f), f)
  t.same(files.filter(f => /^(lib|cmd|sim|test|bench|scripts)\//.test(f) || f.startsWith('dist/test/') || f.startsWith('dist/bench/')), [],
    'no TypeScript sources, tests, benches or scripts')
  t.same(files.filter(f => f.endsWith('.ts') && !f.endsWith('.d.ts')), [])
})

t.test('its runtime dependencies are only what the program imports', async (t) => {
  for (const dev of ['typescript', 'tap', 'eslint', 'undici', 'pino-pretty']) t.notOk(dev in pkg.dependencies, `${dev} is not needed at run time`)
})

t.test('npm install -g of the tarball into a fresh prefix gives a working weft', async (t) => {
  const weft = installed.bin
  const version = (await run(weft, ['--version'])).stdout
  t.match(version, new RegExp(`^weft ${pkg.version.replace(/\./g, '\\.')}\\n`))
  t.match(version, /controller API\s+v1/)
  const data = join(dir, 'controller')
  const ctl = spawn(weft, ['controller', '--data', data, '--listen', '127.0.0.1:0', '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { ctl.kill('SIGTERM') })
  let out = ''
  ctl.stdout.on('data', (d: Buffer) => { out += d.toString('utf8') })
  t.ok(await until(() => /"event":"controller.listening"/.test(out), 20_000), 'the installed controller starts')
  const url = /"url":"(http:\/\/[^"]+)"/.exec(out)![1]!
  const info = await (await fetch(`${url}/v1/info`)).json() as { cidr: string }
  t.equal(info.cidr, '100.64.0.0/10', 'and answers')
})
