import { readFile } from 'node:fs/promises'
import { ConfigError, PolicyError } from '../lib/errors.js'
import { parsePolicy } from '../lib/policy/document.js'
import { runTests } from '../lib/policy/evaluate.js'
import { parseFlags, type Command } from './cli.js'

const USAGE = `Usage: weft policy check FILE

Checks an access policy document (docs/policy.md) without a controller: JSON with comments and trailing
commas; groups, tagOwners, hosts, acls and tests. Prints what it holds and runs its tests, or says at which
line and column it is wrong and exits 1. Node names in tests stand for nodes with no tags or known address.
`

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`

/** `weft policy`: offline checks of a policy document. */
export const command: Command = {
  summary: 'check an access policy document offline',
  async run (argv) {
    const parsed = parseFlags(argv, {}, USAGE, true)
    if (parsed === null) return 0
    const [sub, file, ...extra] = parsed.positionals
    if (sub !== 'check' || file === undefined || extra.length > 0) throw new ConfigError(`give one subcommand: check FILE\n\n${USAGE}`)
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`)
    }
    let summary: string
    try {
      const p = parsePolicy(text)
      const tests = runTests(p)
      summary = `${file}: ${plural(p.groups.size, 'group')}, ${plural(p.tagOwners.size, 'tag')}, ${plural(p.hosts.size, 'host')}, ` +
        `${plural(p.acls.length, 'rule')}; ${tests === 0 ? 'no tests' : tests === 1 ? '1 test passes' : `${tests} tests pass`}`
    } catch (err) {
      if (err instanceof PolicyError) throw new PolicyError(`${file}:${err.message}`)
      throw err
    }
    process.stdout.write(summary + '\n')
    return 0
  }
}
