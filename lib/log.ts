import { pino, type Logger, type LevelWithSilent } from 'pino'

export type { Logger }

/** Log levels accepted by `--log-level`. */
export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/** The level of the daemon, the controller and any logger not told otherwise: `info`, one line per state change. */
export const DEFAULT_LOG_LEVEL: LevelWithSilent = 'info'

/**
 * Builds the root pino logger (JSON, one event per line on stderr-free stdout so `pino-pretty` can read it).
 * Secrets never reach it: the redact list names every field that could carry one.
 */
export function createLogger (opts: { level?: string, name?: string, destination?: NodeJS.WritableStream } = {}): Logger {
  const level = opts.level ?? DEFAULT_LOG_LEVEL
  return pino({
    level,
    name: opts.name,
    base: { pid: process.pid },
    redact: {
      paths: ['privateKey', 'credential', 'token', 'adminKey', '*.privateKey', '*.credential', '*.token', '*.adminKey',
        'req.headers.authorization'],
      censor: '[redacted]'
    }
  }, (opts.destination ?? process.stdout) as pino.DestinationStream)
}

/** A logger that discards everything; for tests and library defaults. */
export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}
