import { counterDelta, type ChannelSet, type SetCounters } from './channel-set.js'
import type { HeartbeatFigures, HeartbeatLoad } from './heartbeats.js'
import { cpuFraction, type ProcSample, type ProcSampler } from './procstat.js'
import { median, max } from './stats.js'

/**
 * Steady state: heartbeats at the default rate, every channel open, no joins. Samples the controller once
 * a second; CPU per second is (utime + stime) delta over wall time of each one-second window.
 */

/** Figures of the steady window. */
export interface SteadyResult {
  wallMs: number
  /** Controller CPU per one-second window, fraction of one core. */
  cpuPerSecond: number[]
  /** Controller CPU over the whole window, ms. */
  controllerCpuMs: number
  /** Controller RSS at each sample, bytes. */
  rssBytes: number[]
  peakRssBytes: number
  /** Bench process CPU over the window, fraction of one core (if near 1, the bench, not the controller, limits). */
  benchCpu: number
  heartbeats: HeartbeatFigures
  /** What the channels received during the window (pings, and deltas if something changed). */
  channels: SetCounters
}

/** Runs the steady window for `durationMs`, sampling every `sampleMs`. */
export async function runSteady (sampler: ProcSampler, set: ChannelSet, heartbeats: HeartbeatLoad, durationMs: number,
  sampleMs = 1000): Promise<SteadyResult> {
  const before = set.counters()
  heartbeats.takeFigures()
  const benchCpu0 = process.cpuUsage()
  const samples: ProcSample[] = [sampler.sample()]
  const t0 = samples[0]!.atMs
  await new Promise<void>(resolve => {
    const timer = setInterval(() => {
      samples.push(sampler.sample())
      if (samples[samples.length - 1]!.atMs - t0 >= durationMs - sampleMs / 2) {
        clearInterval(timer)
        resolve()
      }
    }, sampleMs)
  })
  const wallMs = samples[samples.length - 1]!.atMs - t0
  const cpu = process.cpuUsage(benchCpu0)
  const cpuPerSecond: number[] = []
  for (let i = 1; i < samples.length; i++) cpuPerSecond.push(cpuFraction(samples[i - 1]!, samples[i]!))
  return {
    wallMs,
    cpuPerSecond,
    controllerCpuMs: samples[samples.length - 1]!.cpuMs - samples[0]!.cpuMs,
    rssBytes: samples.map(s => s.rssBytes),
    peakRssBytes: max(samples.map(s => s.peakRssBytes)),
    benchCpu: (cpu.user + cpu.system) / 1000 / wallMs,
    heartbeats: heartbeats.takeFigures(),
    channels: counterDelta(before, set.counters())
  }
}

/** Median controller CPU (fraction of a core) and median RSS (bytes) of a steady window. */
export function steadyMedians (r: SteadyResult): { cpu: number, rssBytes: number } {
  return { cpu: median(r.cpuPerSecond), rssBytes: median(r.rssBytes) }
}
