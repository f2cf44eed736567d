// Builds the dashboard into dist/ui/: ui/src/main.ts bundled with ECharts into app.js (minified, with a source map),
// and index.html and style.css copied beside it. The controller serves dist/ui/ at /ui/. Exits non-zero on any error.
// Usage: node scripts/build-ui.mjs
import { copyFile, mkdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import * as esbuild from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'dist', 'ui')

async function main () {
  await mkdir(out, { recursive: true })
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: ['ui/src/main.ts'],
    outfile: join(out, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: true,
    legalComments: 'linked',
    // ECharts reads process.env.NODE_ENV to drop its development checks and warnings.
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  })
  await copyFile(join(root, 'ui', 'index.html'), join(out, 'index.html'))
  await copyFile(join(root, 'ui', 'style.css'), join(out, 'style.css'))
  const sizes = []
  for (const name of ['app.js', 'style.css', 'index.html']) {
    const bytes = await readFile(join(out, name))
    sizes.push(`${name} ${kb(bytes.length)} (gzip ${kb(gzipSync(bytes).length)})`)
  }
  console.log(`dist/ui: ${sizes.join(', ')}`)
}

function kb (n) {
  return `${(n / 1024).toFixed(1)} kB`
}

main().catch((err) => {
  // esbuild has printed its own diagnostics; this line says the build failed and why.
  console.error(`build-ui: ${err.message}`)
  process.exitCode = 1
})
