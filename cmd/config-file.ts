/**
 * `--config FILE` of `weft controller` and `weft daemon`: a JSON object (comments and trailing commas allowed)
 * whose keys are the command's flags without their dashes. Each key becomes the flag it names, placed before
 * the command line, so a file goes through the same parsing and the same checks as the flags; a flag given on
 * the command line replaces the file's key. Every failure is a ConfigError naming the file, the key, its line
 * and column, and what is wrong; no message repeats a value the file holds, beyond what the flag's own check
 * says about it.
 */
import { readFileSync, statSync } from 'node:fs'
import type { ParseArgsConfig } from 'node:util'
import { parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser'
import { ConfigError } from '../lib/errors.js'
import { parseFlags } from './cli.js'

type Options = NonNullable<ParseArgsConfig['options']>

/** What a file key may hold beyond its flag's parseArgs type. */
export interface FileKeys {
  /** String flags that take a comma-separated list: a JSON array of strings is joined with commas. */
  lists?: readonly string[]
  /** String flags that take `true` or `false` (`--accept-routes=BOOL`): a JSON boolean is accepted. */
  bools?: readonly string[]
  /** Keys that hold a secret: refused in a file that users other than its owner may read. */
  secrets?: readonly string[]
}

/** The argv to parse, and how to tell which key of the file a failure comes from. */
export interface ConfiguredArgs {
  /** The file's flags followed by the command line. */
  argv: string[]
  /**
   * Runs `build` (the command's conversion of its parsed flags into a config) and, when it throws a ConfigError
   * naming a flag that only the file set, throws it again naming the file and that key.
   */
  attribute: <T>(build: () => T) => T
}

/** Where a key sits in the file, and the flags it stands for. */
interface FileKey { key: string, line: number, column: number, tokens: string[] }

/**
 * Parses `argv` (for `--help`, unknown flags and `--config`) and, when it names a config file, reads the file
 * into flags placed before `argv`. Returns null when `--help` was given (the usage has been printed).
 */
export function withConfigFile (argv: string[], options: Options, usage: string, keys: FileKeys = {}): ConfiguredArgs | null {
  const cli = parseFlags(argv, { ...options, config: { type: 'string' } }, usage)
  if (cli === null) return null
  const file = (cli.values as Record<string, unknown>).config as string | undefined
  if (file === undefined) return { argv, attribute: build => build() }
  const given = new Set(Object.keys(cli.values))
  const fileKeys = readConfigFile(file, options, keys).filter(k => !given.has(k.key))
  const attribute = <T>(build: () => T): T => {
    try {
      return build()
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      const sentence = err.message.split('\n\n')[0]!
      const named = [...sentence.matchAll(/--([a-z][a-z0-9-]*)/g)].map(m => m[1]!)
      const k = named.map(n => fileKeys.find(k => k.key === n)).find(k => k !== undefined)
      if (k === undefined) throw err
      throw new ConfigError(`${where(file, k)}: ${sentence}`, { cause: err })
    }
  }
  const tokens = fileKeys.flatMap(k => k.tokens)
  attribute(() => parseFlags(tokens, options, usage))
  return { argv: [...tokens, ...argv], attribute }
}

/** Reads and checks `file` into one FileKey per key; throws ConfigError naming the file (and key) on anything wrong. */
function readConfigFile (file: string, options: Options, keys: FileKeys = {}): FileKey[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'it is a directory' : e.message
    throw new ConfigError(`${file}: cannot read the config file: ${why}`, { cause: err })
  }
  const at = locator(text)
  const errors: ParseError[] = []
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false })
  if (errors.length > 0) {
    const { line, column } = at(errors[0]!.offset)
    throw new ConfigError(`${file} (line ${line}, column ${column}): not valid JSON: ${sentenceOf(printParseErrorCode(errors[0]!.error))}`)
  }
  if (root === undefined || root.type !== 'object') throw new ConfigError(`${file}: a config file is a JSON object of flag names and values`)
  const out: FileKey[] = []
  for (const prop of root.children ?? []) {
    const [k, v] = prop.children as [Node, Node]
    const key = k.value as string
    const here = { key, ...at(k.offset), tokens: [] }
    const fail = (reason: string): never => { throw new ConfigError(`${where(file, here)}: ${reason}`) }
    const option = key === 'help' || key === 'config' || !Object.hasOwn(options, key) ? undefined : options[key]
    if (option === undefined) {
      fail(key.startsWith('-') ? 'write the flag without its dashes' : 'no such flag: the keys are the flags of --help, without their dashes')
    }
    if (out.some(o => o.key === key)) fail('appears twice')
    if (keys.secrets?.includes(key) === true) checkPrivate(file, fail)
    out.push({ ...here, tokens: tokensOf(key, v, option!, keys, fail) })
  }
  return out
}

/** The flags one key's value stands for; `fail` says why a value of the wrong type cannot be one. */
function tokensOf (key: string, v: Node, option: Options[string], keys: FileKeys, fail: (reason: string) => never): string[] {
  const flag = `--${key}`
  if (option.type === 'boolean') {
    if (v.type !== 'boolean') fail(`${flag} is on or off: give true or false (got ${typeName(v)})`)
    return [`${flag}=${String(v.value)}`]
  }
  const list = option.multiple === true || keys.lists?.includes(key) === true
  if (v.type === 'string' || v.type === 'number') return [`${flag}=${String(v.value)}`]
  if (v.type === 'boolean' && keys.bools?.includes(key) === true) return [`${flag}=${String(v.value)}`]
  if (v.type === 'array' && list) {
    const items = v.children ?? []
    if (items.some(i => i.type !== 'string')) fail(`${flag} takes a list of strings (got an array holding ${typeName(items.find(i => i.type !== 'string')!)})`)
    const values = items.map(i => i.value as string)
    return option.multiple === true ? values.map(x => `${flag}=${x}`) : [`${flag}=${values.join(',')}`]
  }
  const takes = keys.bools?.includes(key) === true ? 'true or false' : list ? 'a string or a list of strings' : 'a string or a number'
  return fail(`${flag} takes ${takes} (got ${typeName(v)})`)
}

/** Refuses a secret in a file other users may read; the message names the mode, never the secret. */
function checkPrivate (file: string, fail: (reason: string) => never): void {
  const mode = statSync(file).mode & 0o777
  if ((mode & 0o077) !== 0) {
    fail(`holds a secret, but ${file} may be read by other users (mode 0${mode.toString(8)}): chmod 600 ${file}, or put the secret in a file of its own`)
  }
}

/** `FILE: key "K" (line L, column C)`. */
function where (file: string, k: { key: string, line: number, column: number }): string {
  return `${file}: key "${k.key}" (line ${k.line}, column ${k.column})`
}

/** A JSON value's kind as a sentence says it, without the value itself. */
function typeName (v: Node): string {
  if (v.type === 'null') return 'null'
  if (v.type === 'array') return 'a list'
  if (v.type === 'object') return 'an object'
  return `a ${v.type}`
}

/** jsonc-parser's error names as a sentence. */
function sentenceOf (code: string): string {
  return code.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()
}

/** 1-based line and column of an offset of `text`. */
function locator (text: string): (offset: number) => { line: number, column: number } {
  const starts = [0]
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1)
  return offset => {
    let line = 0
    while (line + 1 < starts.length && starts[line + 1]! <= offset) line++
    return { line: line + 1, column: offset - starts[line]! + 1 }
  }
}
