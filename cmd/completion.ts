import { execFile } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { ConfigError } from '../lib/errors.js'
import { parseFlags, type Command } from './cli.js'

const run = promisify(execFile)

const USAGE = `Usage: weft completion bash

Prints a bash completion script for weft: every command, its subcommands and its flags, as each one's
--help lists them. Install it for every user, or load it into this shell:

  weft completion bash > /etc/bash_completion.d/weft
  source <(weft completion bash)
`

/** The entry point whose `--help` output the script is built from: this same weft. */
const WEFT = fileURLToPath(new URL('./weft.js', import.meta.url))

/** A word the script may hold unquoted: a command, subcommand or flag name. */
const WORD = /^-{0,2}[a-z][a-z0-9-]*$/

/** What completion offers after `weft NAME`, and after `weft NAME SUB` for each of its subcommands. */
export interface CompletionEntry {
  name: string
  flags: string[]
  subcommands: Array<{ name: string, flags: string[] }>
}

/** The flags a usage text defines: the lines that begin, after their indent, with `--name`; `--help` always. */
export function flagsIn (usage: string): string[] {
  const flags = [...usage.matchAll(/^[ \t]+(--[a-z][a-z0-9-]*)/gm)].map(m => m[1]!)
  return [...new Set([...flags, '--help'])]
}

/** The subcommands a usage text of `weft NAME` names: its `weft NAME SUB` lines, and the entries of a `Subcommands:` list. */
export function subcommandsIn (name: string, usage: string): string[] {
  const subs: string[] = []
  let inList = false
  for (const line of usage.split('\n')) {
    const usageLine = /^(?:Usage:)?\s*weft (\S+) ([a-z][a-z0-9-]*)\b/.exec(line)
    if (usageLine !== null && usageLine[1] === name) subs.push(usageLine[2]!)
    if (line === 'Subcommands:') { inList = true; continue }
    if (line.trim() === '') inList = false
    const listed = inList ? /^ {2}([a-z][a-z0-9-]*) {2,}\S/.exec(line) : null
    if (listed !== null) subs.push(listed[1]!)
  }
  return [...new Set(subs)]
}

/**
 * Reads `weft NAME --help` for each of `names`, and `weft NAME SUB --help` for each subcommand it names, through
 * `help` (which returns what the command prints), into the entries of the script.
 */
export async function describeCommands (names: string[], help: (argv: string[]) => Promise<string>): Promise<CompletionEntry[]> {
  const usages = await inTurn(names, async name => await help([name]))
  const pairs = names.flatMap((name, i) => subcommandsIn(name, usages[i]!).map(sub => [name, sub]))
  const subUsages = await inTurn(pairs, async argv => await help(argv))
  return names.map((name, i) => ({
    name,
    flags: flagsIn(usages[i]!),
    subcommands: pairs.flatMap((p, j) => p[0] === name ? [{ name: p[1]!, flags: flagsIn(subUsages[j]!) }] : [])
  }))
}

/**
 * The bash completion script: `weft <TAB>` offers the commands, a word that begins with `-` the flags of the
 * command (and subcommand) before it, a word after a command with subcommands those subcommands, and
 * anything else the file names bash offers by default (flag values are mostly files and directories).
 */
export function bashScript (entries: CompletionEntry[]): string {
  for (const w of entries.flatMap(e => [e.name, ...e.flags, ...e.subcommands.flatMap(s => [s.name, ...s.flags])])) {
    if (!WORD.test(w)) throw new ConfigError(`cannot complete "${w}": not a plain command or flag name`)
  }
  const q = (words: string[]): string => `'${words.join(' ')}'`
  const subsCases = entries.filter(e => e.subcommands.length > 0)
    .map(e => `        ${e.name}) subs=${q(e.subcommands.map(s => s.name))} ;;`)
  const flagCases = entries.flatMap(e => [
    `    ${e.name}/) flags=${q(e.flags)} ;;`,
    ...e.subcommands.map(s => `    ${e.name}/${s.name}) flags=${q(s.flags)} ;;`)
  ])
  return `# bash completion for weft, made by \`weft completion bash\` from each command's --help.
# Install: weft completion bash > /etc/bash_completion.d/weft
_weft() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd='' sub='' subs=${q(entries.map(e => e.name))} flags='--help --version' i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if [[ -z $cmd ]]; then
      [[ $w == -* ]] && continue
      cmd=$w
      subs=''
      case $cmd in
${subsCases.join('\n')}
      esac
    elif [[ -z $sub && $w != -* && " $subs " == *" $w "* ]]; then
      sub=$w
    fi
  done
  [[ -n $cmd ]] && flags=''
  case "$cmd/$sub" in
${flagCases.join('\n')}
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ -z $sub && -n $subs ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  else
    COMPREPLY=()
  fi
}
complete -o default -F _weft weft
`
}

/** Runs `fn` over `items`, a few at a time (one per CPU), keeping their order. */
async function inTurn<I, O> (items: I[], fn: (item: I) => Promise<O>): Promise<O[]> {
  const out: O[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(items.length, availableParallelism()) }, worker))
  return out
}

/** What `weft ARGV --help` prints, run as its own process so that each command parses its flags as it always does. */
async function helpOf (argv: string[]): Promise<string> {
  try {
    return (await run(process.execPath, [WEFT, ...argv, '--help'], { maxBuffer: 1 << 20 })).stdout
  } catch (err) {
    throw new ConfigError(`\`weft ${argv.join(' ')} --help\` failed: ${(err as Error).message}`, { cause: err })
  }
}

/** `weft completion bash` for the commands `names()` gives (the command table of cmd/weft.ts). */
export function completionCommand (names: () => string[]): Command {
  return {
    summary: 'print a bash completion script',
    async run (argv) {
      const p = parseFlags(argv, {}, USAGE, true)
      if (p === null) return 0
      if (p.positionals.length !== 1 || p.positionals[0] !== 'bash') throw new ConfigError(`give the shell: bash\n\n${USAGE}`)
      process.stdout.write(bashScript(await describeCommands(names(), helpOf)))
      return 0
    }
  }
}
