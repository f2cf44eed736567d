import { ConfigError, type WeftError } from './errors.js'

/**
 * Range and shape checks shared by every `config.ts`. Each takes the name a user knows the value by (a flag
 * such as `--mtu`, or a field such as `swim config probeIntervalMs`), returns the value when it fits and
 * otherwise throws an error whose message names that value and the range allowed.
 */

/** Makes the error a failed check throws: ConfigError unless a module has a coded class of its own. */
export type ConfigFail = (message: string) => WeftError

const configError: ConfigFail = message => new ConfigError(message)

/** The longest timer delay accepted: 24 days, whole, under Node's limit of 2^31 - 1 ms (longer ones fire at once). */
export const MAX_TIMER_MS = 24 * 86_400_000

/** The longest span a retention or quarantine may have: ten years. */
export const MAX_RETENTION_MS = 3650 * 86_400_000

const UNITS: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]]

/** A span of ms as a flag would give it: `500ms`, `15s`, `7d` (seconds up to 120 s, else the largest exact unit). */
export function formatDuration (ms: number): string {
  if (ms % 1000 !== 0) return `${ms}ms`
  if (ms <= 120_000) return `${ms / 1000}s`
  const [unit, size] = UNITS.find(([, size]) => ms % size === 0) ?? ['s', 1000]
  return `${ms / size}${unit}`
}

function shown (v: unknown): string {
  return typeof v === 'string' ? `"${v}"` : String(v)
}

/** A whole number from `min` to `max`; `unit` (e.g. `seconds`) follows the range in the message. */
export function intInRange (name: string, v: unknown, min: number, max: number, unit = '', fail = configError): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw fail(`${name} must be a whole number from ${min} to ${max}${unit === '' ? '' : ' ' + unit} (got ${shown(v)})`)
  }
  return v
}

/** A duration in whole milliseconds from `minMs` to `maxMs`, both written as a flag would take them. */
export function durationMs (name: string, v: unknown, minMs: number, maxMs = MAX_TIMER_MS, fail = configError): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < minMs || v > maxMs) {
    const got = typeof v === 'number' && Number.isFinite(v) ? `${v} ms` : shown(v)
    throw fail(`${name} must be a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)} (got ${got})`)
  }
  return v
}

/** A UDP or TCP port from `min` (default 1) to `max` (default 65535). */
export function port (name: string, v: unknown, min = 1, max = 65535, fail = configError): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw fail(`${name} must be a port from ${min} to ${max} (got ${shown(v)})`)
  return v
}

/** A non-empty file system path without NUL bytes. */
export function path (name: string, v: unknown, fail = configError): string {
  if (typeof v !== 'string' || v === '' || v.includes('\0')) throw fail(`${name} must be a non-empty path (got ${shown(v)})`)
  return v
}

/** One of `allowed`; only own values count, so `toString` is no member of `{ mesh, lan }`. */
export function oneOf<T extends string> (name: string, v: unknown, allowed: readonly T[], fail = configError): T {
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw fail(`${name} must be one of ${allowed.join(', ')} (got ${shown(v)})`)
  return v as T
}

/** true or false. */
export function bool (name: string, v: unknown, fail = configError): boolean {
  if (typeof v !== 'boolean') throw fail(`${name} must be true or false (got ${shown(v)})`)
  return v
}

/** `input` over `defaults`, an undefined field taking its default. */
export function withDefaults<C extends object> (defaults: Readonly<Partial<C>>, input: Partial<C>): C {
  const given = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined))
  return { ...defaults, ...given } as C
}
