/**
 * `weft completion bash`: flags and subcommands are read from the usage texts, and the script it prints is valid
 * bash that registers itself for `weft` and completes commands, subcommands and flags (driven through
 * COMP_WORDS in a bash subprocess, as bash's programmable completion calls it).
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { bashScript, flagsIn, subcommandsIn } from '../../cmd/completion.js'
import { weft } from './weft-cli.js'

const run = promisify(execFile)

/** Sources the script ($1), sets the words of a command line as bash does, calls the completion function ($2), prints what it offers. */
const DRIVER = `source "$1"; fn=$2; shift 2
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
"$fn" weft "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\\n' "\${COMPREPLY[@]}"`

t.test('flags are the lines of a usage text that begin with --name; prose that names a flag is not one', async (t) => {
  const usage = `Usage: weft token create [--reusable] [--ttl 24h]
       weft token list [--json]

list     tokens; they stay for the controller's --token-retention

Flags:
  --reusable          create: the token may admit any number of nodes
  --ttl DUR           create: lifetime, e.g. --ttl 30m
  --accept-routes=BOOL  routes
  --advertise-exit-node[=BOOL]   exit
`
  t.same(flagsIn(usage), ['--reusable', '--ttl', '--accept-routes', '--advertise-exit-node', '--help'])
})

t.test('subcommands come from `weft NAME SUB` usage lines and from a Subcommands: list', async (t) => {
  t.same(subcommandsIn('token', 'Usage: weft token create [--json]\n       weft token list\n       weft token revoke ID\n'), ['create', 'list', 'revoke'])
  t.same(subcommandsIn('controller', 'Usage: weft controller --data DIR [flags]\n       weft controller migrate --from-data DIR\n'), ['migrate'])
  t.same(subcommandsIn('sim', 'Usage: weft sim <subcommand> [flags]\n\nSubcommands:\n  virtual     in-process\n  run         real nodes\n'), ['virtual', 'run'])
  t.same(subcommandsIn('version', 'Usage: weft version [--json]      (also: weft --version)\n'), [])
  t.same(subcommandsIn('status', 'Usage: weft status [--state DIR]\n\nsee weft nodes list\n'), [], 'another command\'s usage line is not a subcommand')
})

t.test('a name that is not a plain word is refused rather than written into the script', async (t) => {
  t.throws(() => bashScript([{ name: 'x; rm -rf /', flags: [], subcommands: [] }]), { code: 'WEFT_ERR_CONFIG' })
  t.throws(() => bashScript([{ name: 'x', flags: ['--a$(id)'], subcommands: [] }]), { code: 'WEFT_ERR_CONFIG' })
})

t.test('weft completion bash prints valid bash that completes commands, subcommands and flags', async (t) => {
  const out = await weft(['completion', 'bash'])
  t.equal(out.code, 0, out.stderr)
  const dir = mkdtempSync(join(tmpdir(), 'weft-completion-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'weft.bash')
  writeFileSync(file, out.stdout)
  await run('bash', ['-n', file])

  const registered = (await run('bash', ['-c', 'source "$1" && complete -p weft', 'bash', file])).stdout
  const fn = /-F (\S+) weft$/m.exec(registered)
  t.ok(fn, `registered: ${registered}`)
  /** What bash offers for the words of a command line, the last being the word under the cursor. */
  const complete = async (...words: string[]): Promise<string[]> => {
    return (await run('bash', ['-c', DRIVER, 'bash', file, fn![1]!, ...words])).stdout.split('\n').filter(l => l !== '')
  }
  t.same(await complete('weft', 'con'), ['controller'])
  t.same(await complete('weft', 'daemon', '--acc'), ['--accept-routes', '--accept-dns'])
  t.same(await complete('weft', 'daemon', '--state', '/var/lib/weft', '--inter'), ['--interface'], 'a flag\'s value is skipped')
  t.same(await complete('weft', 'token', ''), ['create', 'list', 'revoke'])
  t.same(await complete('weft', 'controller', 'migrate', '--rep'), ['--replace'], 'a subcommand\'s own flags')
  t.same(await complete('weft', 'sim', 'virtual', '--se'), ['--seed'])
  t.same(await complete('weft', '--v'), ['--version'])
  t.same(await complete('weft', 'nodes', 'remove', 'w'), [], 'a node name is left to bash\'s default completion')
  const all = await complete('weft', '')
  for (const c of ['controller', 'daemon', 'token', 'nodes', 'routes', 'policy', 'status', 'set', 'leave', 'version', 'sim', 'completion']) {
    t.ok(all.includes(c), `weft <TAB> offers ${c}`)
  }
})
