import { counterDelta, type ChannelSet, type SetCounters } from './channel-set.js'
import type { HeartbeatFigures } from './heartbeats.js'
import { cpuFraction, sumSamples, type ProcGroup, type ProcSample } from './procstat.js'
import { median } from './stats.js'

/**
 * Steady state: heartbeats at the default rate, every channel open, no joins. Samples the controllers (and
 * the etcd members, on etcd) once a second; CPU per second is (utime + stime) delta over wall time of each
 * one-second window, per process and for the group summed.
 */

/** One process's figures over the window, or a group's summed as one process. */
export interface ProcSeries {
  /** CPU per one-second window, fraction of one core. */
  cpuPerSecond: number[]
  /** CPU over the whole window, ms. */
  cpuMs: number
  /** RSS at each sample, bytes. */
  rssBytes: number[]
  /** Peak RSS over the process's life (VmHWM) at the end, bytes; for a group the sum of each one's. */
  peakRssBytes: number
}

/** A group's figures: each process's, in pid order, and the group's summed. */
export interface GroupSeries { each: ProcSeries[], sum: ProcSeries }

/** The processes sampled: the controllers, and the etcd members (null on LevelDB). */
export interface SteadyGroups { controllers: ProcGroup, etcd: ProcGroup | null }

/** Figures of the steady window. */
export interface SteadyResult {
  wallMs: number
  controllers: GroupSeries
  etcd: GroupSeries | null
  /** Bench process CPU over the window, fraction of one core (if near 1, the bench, not the controllers, limits). */
  benchCpu: number
  heartbeats: HeartbeatFigures
  /** What the channels received during the window (pings, and deltas if something changed). */
  channels: SetCounters
}

/** Runs the steady window for `durationMs`, sampling every `sampleMs`; `takeHeartbeats` returns the heartbeat figures since its last call. */
export async function runSteady (groups: SteadyGroups, set: ChannelSet, takeHeartbeats: () => HeartbeatFigures, durationMs: number,
  sampleMs = 1000): Promise<SteadyResult> {
  const before = set.counters()
  takeHeartbeats()
  const benchCpu0 = process.cpuUsage()
  const take = (): { controllers: ProcSample[], etcd: ProcSample[] } => ({ controllers: groups.controllers.sample(), etcd: groups.etcd?.sample() ?? [] })
  const ticks = [take()]
  const atMs = (i: number): number => ticks[i]!.controllers[0]!.atMs
  await new Promise<void>(resolve => {
    const timer = setInterval(() => {
      ticks.push(take())
      if (atMs(ticks.length - 1) - atMs(0) >= durationMs - sampleMs / 2) {
        clearInterval(timer)
        resolve()
      }
    }, sampleMs)
  })
  const wallMs = atMs(ticks.length - 1) - atMs(0)
  const cpu = process.cpuUsage(benchCpu0)
  return {
    wallMs,
    controllers: groupSeries(ticks.map(t => t.controllers)),
    etcd: groups.etcd === null ? null : groupSeries(ticks.map(t => t.etcd)),
    benchCpu: (cpu.user + cpu.system) / 1000 / wallMs,
    heartbeats: takeHeartbeats(),
    channels: counterDelta(before, set.counters())
  }
}

/** The series of one process from its samples in time order. */
function series (samples: readonly ProcSample[]): ProcSeries {
  const cpuPerSecond: number[] = []
  for (let i = 1; i < samples.length; i++) cpuPerSecond.push(cpuFraction(samples[i - 1]!, samples[i]!))
  return {
    cpuPerSecond,
    cpuMs: samples[samples.length - 1]!.cpuMs - samples[0]!.cpuMs,
    rssBytes: samples.map(s => s.rssBytes),
    peakRssBytes: samples[samples.length - 1]!.peakRssBytes
  }
}

/** `ticks[t][p]`: process p's sample at tick t. */
function groupSeries (ticks: ReadonlyArray<readonly ProcSample[]>): GroupSeries {
  const procs = ticks[0]!.length
  return {
    each: Array.from({ length: procs }, (_, p) => series(ticks.map(t => t[p]!))),
    sum: series(ticks.map(t => sumSamples(t)))
  }
}

/** Median CPU (fraction of a core) and median RSS (bytes) of a series. */
export function seriesMedians (s: ProcSeries): { cpu: number, rssBytes: number } {
  return { cpu: median(s.cpuPerSecond), rssBytes: median(s.rssBytes) }
}
