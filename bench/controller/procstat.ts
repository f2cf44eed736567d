import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

/**
 * Reads a process's CPU time and memory from /proc, the way `top` does, so the bench measures the
 * controller from outside without the controller having to cooperate.
 */

/** One reading of a process. */
export interface ProcSample {
  /** performance.now() when the sample was taken, ms. */
  atMs: number
  /** utime + stime, ms of CPU. */
  cpuMs: number
  /** Resident set size now, bytes (VmRSS). */
  rssBytes: number
  /** Peak resident set size, bytes (VmHWM). */
  peakRssBytes: number
}

/** Clock ticks per second that /proc/<pid>/stat counts in (`getconf CLK_TCK`, 100 on every Linux we run on). */
function clockTicks (): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
}

function statusKb (status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)
  return m === null ? NaN : Number(m[1]) * 1024
}

/** Samples one process by pid; `sample()` throws if the process is gone. */
export class ProcSampler {
  private readonly ticksPerSecond = clockTicks()

  constructor (readonly pid: number) {}

  /** Reads CPU time and RSS now. */
  sample (): ProcSample {
    return readSample(this.pid, this.ticksPerSecond)
  }
}

function readSample (pid: number, ticksPerSecond: number): ProcSample {
  const atMs = performance.now()
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may hold spaces and parentheses; fields after the last ')' are fixed.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // rest[0] is field 3 (state), so utime (field 14) is rest[11] and stime (field 15) rest[12].
  const ticks = Number(rest[11]) + Number(rest[12])
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return {
    atMs,
    cpuMs: (ticks * 1000) / ticksPerSecond,
    rssBytes: statusKb(status, 'VmRSS'),
    peakRssBytes: statusKb(status, 'VmHWM')
  }
}

/** CPU used between two samples as a fraction of one core (1.0 = one core busy the whole time). */
export function cpuFraction (a: ProcSample, b: ProcSample): number {
  const wall = b.atMs - a.atMs
  return wall <= 0 ? NaN : (b.cpuMs - a.cpuMs) / wall
}

/** The soft limit on open files of this process (children inherit it), from /proc/self/limits. */
export function openFileLimit (): number {
  const limits = readFileSync('/proc/self/limits', 'utf8')
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits)
  if (m === null || m[1] === 'unlimited') return Infinity
  return Number(m[1])
}
