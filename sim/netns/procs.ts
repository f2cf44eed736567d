/**
 * Pid records that survive a crash. Each record holds the pid and the process's start time (from
 * /proc/PID/stat), so a later cleanup never kills an unrelated process that reused the pid.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'

/** A process as recorded: pid plus its start time in clock ticks since boot. */
export interface ProcRecord { pid: number, startTime: number }

/** Start time of `pid` in clock ticks since boot, or null when it does not exist (or is a zombie). */
export function processStartTime (pid: number): number | null {
  let stat: string
  try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8') } catch { return null }
  // The command name (field 2) may contain spaces and parentheses; fields are counted after its last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  if (rest[0] === 'Z' || rest[0] === 'X') return null // exited, only its table entry is left
  const v = Number(rest[19])
  return Number.isFinite(v) ? v : null
}

/** A record for a running `pid`; null when it is already gone. */
export function recordOf (pid: number): ProcRecord | null {
  const startTime = processStartTime(pid)
  return startTime === null ? null : { pid, startTime }
}

/** True when the recorded process is still the one running under its pid. */
export function recordAlive (r: ProcRecord): boolean {
  return processStartTime(r.pid) === r.startTime
}

/** Writes `r` to `path` as JSON. */
export function writeRecord (path: string, r: ProcRecord): void {
  writeFileSync(path, JSON.stringify(r) + '\n')
}

/** Reads a record; a plain pid file (just a number, as the wireguard-go launcher writes) gets the pid's current start time. */
export function readRecord (path: string): ProcRecord | null {
  let text: string
  try { text = readFileSync(path, 'utf8').trim() } catch { return null }
  if (/^\d+$/.test(text)) return recordOf(Number(text))
  try {
    const r = JSON.parse(text) as ProcRecord
    return Number.isInteger(r.pid) && Number.isFinite(r.startTime) ? r : null
  } catch {
    return null
  }
}

/** Every record in `dir` (missing dir = none). */
export function readRecords (dir: string): ProcRecord[] {
  let names: string[]
  try { names = readdirSync(dir) } catch { return [] }
  return names.map(n => readRecord(`${dir}/${n}`)).filter((r): r is ProcRecord => r !== null)
}

/** Sends `signal` to each still-alive recorded process; returns those signalled. */
export function signalRecords (records: readonly ProcRecord[], signal: NodeJS.Signals): ProcRecord[] {
  const hit: ProcRecord[] = []
  for (const r of records) {
    if (!recordAlive(r)) continue
    try {
      process.kill(r.pid, signal)
      hit.push(r)
    } catch { /* exited meanwhile */ }
  }
  return hit
}

/** SIGTERM, wait up to `graceMs` for them to exit, then SIGKILL whatever is left. Resolves when all are gone or after a bound. */
export async function terminate (records: readonly ProcRecord[], graceMs = 2000): Promise<void> {
  const live = signalRecords(records, 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (live.some(recordAlive) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
  const left = signalRecords(live, 'SIGKILL')
  const hardDeadline = Date.now() + 2000
  while (left.some(recordAlive) && Date.now() < hardDeadline) await new Promise(resolve => setTimeout(resolve, 20))
}
