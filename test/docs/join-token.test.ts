import t from 'tap'
import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const ROOT = process.cwd()

/** README.md and every docs/*.md, as [name, text]. */
async function docs (): Promise<Array<[string, string]>> {
  const names = ['README.md', ...(await readdir(join(ROOT, 'docs'))).filter(n => n.endsWith('.md')).map(n => `docs/${n}`)]
  return await Promise.all(names.map(async n => [n, await readFile(join(ROOT, n), 'utf8')] as [string, string]))
}

t.test('every join the docs show reads the token from a file, not the command line (visible in ps)', async (t) => {
  const joins: string[] = []
  for (const [name, text] of await docs()) {
    // A command continued with a trailing backslash is one command.
    text.replace(/\\\n\s*/g, ' ').split('\n').forEach(line => {
      if (/weft daemon .*--join-token/.test(line)) joins.push(`${name}: ${line.trim()}`)
    })
  }
  t.ok(joins.length > 0, 'the docs show a join')
  for (const line of joins) t.match(line, /--join-token-file /, line)
  for (const line of joins) t.notMatch(line, /--join-token [^-]/, `no token on the command line: ${line}`)
})

t.test('weft daemon --help leads with --join-token-file and says why', async (t) => {
  const help = (await run(process.execPath, [join(ROOT, 'dist/cmd/weft.js'), 'daemon', '--help'])).stdout
  const file = help.indexOf('--join-token-file')
  const bare = help.search(/--join-token [A-Z]/)
  t.ok(file >= 0 && bare > file, '--join-token-file comes first')
  t.match(help, /visible to every user in `ps`/)
})
