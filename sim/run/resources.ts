/**
 * Memory and CPU of processes, read from /proc/<pid>/status (VmRSS) and /proc/<pid>/stat (utime + stime),
 * and the machine's MemAvailable from /proc/meminfo.
 */
import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

/** One reading of a process: resident set in KiB and CPU time used so far in ms. */
export interface ProcReading { rssKb: number, cpuMs: number }

let ticksPerSecond: number | null = null
function clockTicks (): number {
  if (ticksPerSecond === null) {
    try { ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { ticksPerSecond = 100 }
  }
  return ticksPerSecond
}

/**
 * CPU time of `pid` ('self' = this process) in ms from /proc/<pid>/stat: utime + stime, plus cutime + cstime
 * (its waited-for children) when `children`. Throws when the process is gone.
 */
function statCpuMs (pid: number | 'self', children: boolean): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which may contain spaces: utime, stime, cutime, cstime are fields 14-17 overall.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(rest[11]) + Number(rest[12]) + (children ? Number(rest[13]) + Number(rest[14]) : 0)
  return ticks * 1000 / clockTicks()
}

/** Reads `pid`'s RSS and CPU time; null when it is gone. */
export function readProc (pid: number): ProcReading | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const rss = /VmRSS:\s+(\d+) kB/.exec(status)
    return { rssKb: rss === null ? 0 : Number(rss[1]), cpuMs: statCpuMs(pid, false) }
  } catch {
    return null
  }
}

/** MemAvailable of the machine in KiB. */
export function memAvailableKb (): number {
  const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))
  return m === null ? 0 : Number(m[1])
}

/** Aggregate of one group of processes at one time. */
export interface GroupSample { count: number, rssKbP50: number, rssKbMax: number, rssKbSum: number, cpuPctSum: number }

/** One resource sample of the run. */
export interface ResourceSample {
  tMs: number
  controller: GroupSample
  daemons: GroupSample
  wireguard: GroupSample
  /** The whole machine's busy CPU over the interval since the previous sample, % (100 = one core); 0 in the first. */
  machineCpuPct: number
}

/** Keeps the previous CPU reading per pid so that each sample can report CPU % over the interval. */
export class CpuTracker {
  private readonly last = new Map<number, { tMs: number, cpuMs: number }>()

  /** Reads `pids` and aggregates them; CPU % is over the time since each pid's previous reading (100 = one core). */
  sample (pids: readonly number[], tMs: number): GroupSample {
    const rss: number[] = []
    let cpuPctSum = 0
    for (const pid of pids) {
      const r = readProc(pid)
      if (r === null) continue
      rss.push(r.rssKb)
      const prev = this.last.get(pid)
      if (prev !== undefined && tMs > prev.tMs) cpuPctSum += 100 * (r.cpuMs - prev.cpuMs) / (tMs - prev.tMs)
      this.last.set(pid, { tMs, cpuMs: r.cpuMs })
    }
    rss.sort((a, b) => a - b)
    return {
      count: rss.length,
      rssKbP50: rss.length === 0 ? 0 : rss[Math.floor((rss.length - 1) / 2)]!,
      rssKbMax: rss.length === 0 ? 0 : rss[rss.length - 1]!,
      rssKbSum: rss.reduce((a, b) => a + b, 0),
      cpuPctSum: Math.round(cpuPctSum * 10) / 10
    }
  }
}

/** The whole machine's CPU time so far, ms summed over its cores: busy (user, system, irq, steal) and all (busy, idle, iowait). */
export interface MachineCpu { busyMs: number, allMs: number }

/** Reads MachineCpu from /proc/stat's `cpu` line (guest time is inside user already, so it is not added again). */
export function machineCpu (): MachineCpu {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number)
  const all = cpu.reduce((a, b) => a + b, 0)
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0)
  return { busyMs: (all - idle) * 1000 / clockTicks(), allMs: all * 1000 / clockTicks() }
}

/** CPU time, ms, the whole machine spent busy so far (every core). */
export function machineBusyMs (): number {
  return machineCpu().busyMs
}

/**
 * The machine's busy CPU between two readings, % of one core (100 × cores = every core busy), measured against
 * the readings' own time (all CPU time / cores) rather than a wall clock read beside them: a loaded host can
 * delay the read by tens of ms, a tenth of a 1 s interval. 0 when no time passed between them.
 */
export function machineBusyPct (prev: MachineCpu, cur: MachineCpu, cores: number): number {
  const all = cur.allMs - prev.allMs
  return all <= 0 ? 0 : Math.round(1000 * cores * (cur.busyMs - prev.busyMs) / all) / 10
}

/** CPU time, ms, of this process and its finished children (ip, nft, fping: everything the harness ran). */
export function harnessCpuMs (): number {
  return statCpuMs('self', true)
}

/** CPU time, ms, used by one group of processes so far (the ones still running). */
export function groupCpuMs (pids: readonly number[]): number {
  let ms = 0
  for (const pid of pids) ms += readProc(pid)?.cpuMs ?? 0
  return ms
}

/**
 * Where the set-up's CPU went, seconds: the machine as a whole against the controller, the daemons, their
 * wireguard-go and the harness itself. What the groups leave of `machine` is the kernel's own work
 * (softirq: veth, bridge and tun traffic) and anything else running on the host.
 */
export interface CpuLedger { machine: number, controller: number, daemons: number, wireguard: number, harness: number }
