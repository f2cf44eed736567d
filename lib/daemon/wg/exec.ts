import { execFile } from 'node:child_process'
import { DeviceError } from '../../errors.js'

/** Where a command runs: the current network namespace (undefined) or a named one (`ip netns exec`). */
export type Netns = string | undefined

/** Result of a finished command. */
export interface RunResult { stdout: string, stderr: string }

/** Options of `run`. */
export interface RunOptions {
  /** Bytes written to the command's stdin (used for secrets, so they never appear in argv). */
  input?: string
  /** Kill the command after this long. Default: 10000, far above any `ip`/`wg`/`nft` call, so only a hang trips it. */
  timeoutMs?: number
}

/**
 * Runs `argv` (no shell) and resolves with its output; rejects with a DeviceError carrying stderr when it
 * exits non-zero, times out or cannot be started.
 */
export async function run (argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv
  if (file === undefined) throw new DeviceError('empty command')
  return await new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: opts.timeoutMs ?? 10_000, maxBuffer: 64 << 20, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err !== null) {
          const detail = stderr.trim() !== '' ? stderr.trim() : err.message
          reject(new DeviceError(`\`${argv.join(' ')}\` failed: ${detail}`, { cause: err }))
        } else {
          resolve({ stdout, stderr })
        }
      })
    if (opts.input !== undefined) child.stdin?.end(opts.input)
    else child.stdin?.end()
  })
}

/** `argv` run inside `netns` (via `ip netns exec`), or unchanged when netns is undefined. */
export function inNetns (netns: Netns, argv: readonly string[]): string[] {
  return netns === undefined ? [...argv] : ['ip', 'netns', 'exec', netns, ...argv]
}

/** `ip` with `-n netns` when a namespace is given; cheaper than `ip netns exec` because ip switches itself. */
export function ipCmd (netns: Netns, ...args: string[]): string[] {
  return netns === undefined ? ['ip', ...args] : ['ip', '-n', netns, ...args]
}

/** Linux interface names: 1-15 characters, no slash, whitespace or colon. */
export function isValidIfname (s: string): boolean {
  return /^[A-Za-z0-9_.-]{1,15}$/.test(s) && s !== '.' && s !== '..'
}
