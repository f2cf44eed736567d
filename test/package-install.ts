/**
 * The npm package of this build, packed and installed with `npm install -g` into a fresh prefix, as an
 * operator installs it on a machine with Node 20 and npm (runtime dependencies from the npm cache).
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** What was installed: the prefix, its `weft` command, and the installed weft.js (to run with `node`). */
export interface InstalledPackage { prefix: string, bin: string, weftJs: string, files: string[] }

/** Packs this checkout (already built: --ignore-scripts) into `dir` and installs the tarball under `dir`/prefix. */
export async function installPackage (dir: string): Promise<InstalledPackage> {
  const packed = JSON.parse((await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: process.cwd() })).stdout) as
    Array<{ filename: string, files: Array<{ path: string }> }>
  const prefix = join(dir, 'prefix')
  await run('npm', ['install', '-g', '--prefix', prefix, join(dir, packed[0]!.filename), '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir })
  return {
    prefix,
    bin: join(prefix, 'bin', 'weft'),
    weftJs: join(prefix, 'lib', 'node_modules', 'weft', 'dist', 'cmd', 'weft.js'),
    files: packed[0]!.files.map(f => f.path)
  }
}
