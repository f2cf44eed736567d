import { readdirSync, readFileSync } from 'node:fs'
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

/** Samples a group of processes (the controllers of a run, the etcd members); `sample()` throws if one is gone. */
export class ProcGroup {
  private readonly ticksPerSecond = clockTicks()

  constructor (readonly pids: readonly number[]) {}

  /** Reads CPU time and RSS of each process now, in `pids` order. */
  sample (): ProcSample[] {
    return this.pids.map(pid => readSample(pid, this.ticksPerSecond))
  }
}

/**
 * The group as one process: CPU, RSS and peak RSS summed (the peak is the sum of each one's own peak, an upper
 * bound of the group's), at the time of the first reading. NaN fields for an empty group.
 */
export function sumSamples (samples: readonly ProcSample[]): ProcSample {
  const sum = (f: (s: ProcSample) => number): number => samples.length === 0 ? NaN : samples.reduce((a, s) => a + f(s), 0)
  return { atMs: samples[0]?.atMs ?? NaN, cpuMs: sum(s => s.cpuMs), rssBytes: sum(s => s.rssBytes), peakRssBytes: sum(s => s.peakRssBytes) }
}

/**
 * The pids of this process's children with a command-line argument under directory `dir` (for example
 * `--data-dir DIR/m0`), lowest first: how the bench finds processes another module spawned in a directory it chose.
 */
export function childPidsUnder (dir: string): number[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // Field 4 (ppid) is the second field after the command name's closing parenthesis.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== process.pid) continue
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').some(arg => arg.startsWith(prefix))) pids.push(Number(entry))
    } catch {
      // It exited between the listing and the read.
    }
  }
  return pids.sort((a, b) => a - b)
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
