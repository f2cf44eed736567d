import { ConfigError } from '../lib/errors.js'

/**
 * The exit code of a `weft` command that failed with `err`, from the error's kind: 2 when our own config is
 * wrong (ConfigError and its kinds: a bad flag, a SWIM config that cannot work), so that a supervisor does not
 * restart into the same failure; 1 for every other failure. docs/errors.md lists them per code.
 */
export function exitCodeOf (err: unknown): 1 | 2 {
  return err instanceof ConfigError ? 2 : 1
}
