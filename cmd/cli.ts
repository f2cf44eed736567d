import { parseArgs, type ParseArgsConfig } from 'node:util'
import { ConfigError } from '../lib/errors.js'

/** One subcommand: `run` gets the arguments after its name and returns the exit code. */
export interface Command {
  summary: string
  run (argv: string[]): Promise<number>
}

type Options = NonNullable<ParseArgsConfig['options']>

/**
 * Parses `argv` against `options` (plus `--help`). Unknown flags and bad values throw a ConfigError whose
 * message ends with the usage text. Returns null when `--help` was given (the usage has been printed).
 */
export function parseFlags<O extends Options> (argv: string[], options: O, usage: string, allowPositionals = false) {
  // A boolean flag also takes `=true` or `=false` (`--advertise-exit-node=false`), which parseArgs refuses.
  const negated: string[] = []
  const args = argv.map(a => {
    const m = /^--([^=]+)=(.*)$/.exec(a)
    if (m === null || options[m[1]!]?.type !== 'boolean') return a
    if (m[2] === 'false') negated.push(m[1]!)
    else if (m[2] !== 'true') throw new ConfigError(`--${m[1]!} must be true or false (got "${m[2]!}")\n\n${usage}`)
    return `--${m[1]!}`
  })
  let parsed
  try {
    parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true })
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}\n\n${usage}`)
  }
  for (const name of negated) (parsed.values as Record<string, unknown>)[name] = false
  if ((parsed.values as Record<string, unknown>).help === true) {
    process.stdout.write(usage.endsWith('\n') ? usage : usage + '\n')
    return null
  }
  return parsed
}

/** Parses a duration such as `500ms`, `30s`, `15m`, `24h`, `7d` into milliseconds. */
export function parseDuration (s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(s.trim())
  if (m === null) throw new ConfigError(`${flag} must be a duration like 30s, 15m, 24h or 7d (got "${s}")`)
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd']
  return Math.round(Number(m[1]) * unit)
}

/** Parses an integer flag within [min, max]. */
export function parseIntFlag (s: string, flag: string, min: number, max: number): number {
  const n = Number(s)
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${flag} must be a whole number from ${min} to ${max} (got "${s}")`)
  return n
}

/** `true` or `false` (as in `--accept-routes=false`); anything else is a ConfigError naming the flag. */
export function parseBoolFlag (s: string, flag: string): boolean {
  if (s === 'true') return true
  if (s === 'false') return false
  throw new ConfigError(`${flag} must be true or false (got "${s}")`)
}

/** A comma-separated flag value as a list: entries trimmed, empty ones dropped (`--flag ""` is the empty list). */
export function splitList (s: string): string[] {
  return s.split(',').map(x => x.trim()).filter(x => x !== '')
}

/** Renders rows as an aligned text table with a header line. */
export function formatTable (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n') + '\n'
}

/** "12s ago" style age of a ms timestamp, or "-" when null. */
export function formatAge (at: number | null | undefined, now = Date.now()): string {
  if (at === null || at === undefined || at <= 0) return '-'
  const s = Math.max(0, Math.round((now - at) / 1000))
  if (s < 120) return `${s}s ago`
  if (s < 7200) return `${Math.round(s / 60)}m ago`
  if (s < 172800) return `${Math.round(s / 3600)}h ago`
  return `${Math.round(s / 86400)}d ago`
}

/** "in 29d" for a future ms timestamp, "3s ago" for a past one, "-" when null. */
export function formatUntil (at: number | null | undefined, now = Date.now()): string {
  if (at === null || at === undefined) return '-'
  if (at <= now) return formatAge(at, now)
  return 'in ' + formatSpan(at - now)
}

/** A span of ms as its largest fitting unit: "45s", "90m", "36h", "30d". */
export function formatSpan (ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.round(s / 60)}m`
  if (s < 172800) return `${Math.round(s / 3600)}h`
  return `${Math.round(s / 86400)}d`
}
