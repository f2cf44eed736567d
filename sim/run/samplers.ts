/**
 * Background measurements during a run: reachability of a random sample of pairs each tick (real pings over
 * mesh IPs), and memory/CPU of the controller, the daemons and their wireguard-go.
 */
import { cpus } from 'node:os'
import type { Mesh } from '../cluster.js'
import type { Intent } from './intent.js'
import { checkPairs, type ReachSample } from './reach.js'
import { CpuTracker, machineBusyPct, machineCpu, type MachineCpu, type ResourceSample } from './resources.js'
import { SeededRandom, shuffle } from '../../lib/swim/random.js'

/** Targets pinged from each sampled source per tick. */
const TARGETS_PER_SOURCE = 4

/** A loop that runs `once` then waits so that iterations start `intervalMs()` apart (default `everyMs`), until stopped. */
abstract class Loop {
  private running = false
  private loop: Promise<void> | null = null
  constructor (protected readonly everyMs: number) {}
  protected abstract once (): Promise<void>
  protected intervalMs (): number { return this.everyMs }

  /** Starts the loop. */
  start (): void {
    if (this.running) return
    this.running = true
    this.loop = (async () => {
      while (this.running) {
        const began = Date.now()
        await this.once().catch(() => {})
        const wait = this.intervalMs() - (Date.now() - began)
        if (wait > 0 && this.running) await new Promise(resolve => setTimeout(resolve, wait))
      }
    })()
  }

  /** Stops after the iteration in progress. */
  async stop (): Promise<void> {
    this.running = false
    await this.loop
  }
}

/** Pings `pairs` random (source, intended peer) pairs each tick. */
export class ReachSampler extends Loop {
  readonly samples: ReachSample[] = []
  private readonly rng: SeededRandom

  constructor (
    private readonly d: { mesh: Mesh, intent: Intent, ipOf: ReadonlyMap<number, string>, seed: number, now: () => number, pairs: number, everyMs: number }
  ) {
    super(d.everyMs)
    this.rng = new SeededRandom(d.seed ^ 0x5eed)
  }

  protected async once (): Promise<void> {
    const t = this.d.now()
    const up = this.d.intent.upAt(t).filter(i => this.d.ipOf.has(i))
    // A few sources with several targets each: one namespace entry per source keeps the process spawns low at large N.
    const sources = shuffle([...up], this.rng).slice(0, Math.max(1, Math.ceil(this.d.pairs / TARGETS_PER_SOURCE)))
    const chosen: Array<[number, number]> = []
    for (const a of sources) {
      const peers = this.d.intent.intendedPeers(a, t).filter(j => this.d.ipOf.has(j))
      for (const b of shuffle(peers, this.rng).slice(0, TARGETS_PER_SOURCE)) chosen.push([a, b])
    }
    if (chosen.length === 0) return
    const failed = await checkPairs(this.d.mesh.world, i => this.d.mesh.ns(i), i => this.d.ipOf.get(i), chosen, 4)
    const sample = reachSample(this.d.intent, chosen, failed, t, this.d.now())
    if (sample !== null) this.samples.push(sample)
  }
}

/**
 * One reachability sample from pairs pinged between `fromMs` and `toMs`: only pairs that should have answered
 * throughout count. A pair whose end crashed, vanished, left or was cut off while its pings were out (fping
 * takes up to 4.75 s on a miss) failed because of the fault, not the mesh; counting it showed a dip in a clean
 * run. Null when no pair is left.
 */
export function reachSample (intent: Intent, chosen: ReadonlyArray<[number, number]>, failed: ReadonlyArray<[number, number]>,
  fromMs: number, toMs: number): ReachSample | null {
  const held = ([a, b]: readonly [number, number]): boolean =>
    !intent.downDuring(a, fromMs, toMs) && !intent.downDuring(b, fromMs, toMs) && !intent.splitDuring(a, b, fromMs, toMs)
  const total = chosen.filter(held).length
  if (total === 0) return null
  return { tMs: fromMs, ok: total - failed.filter(held).length, total }
}

/** Shortest and longest time from one resource sample to the next, ms. */
export const RESOURCE_MIN_MS = 1000
export const RESOURCE_MAX_MS = 5000
/** Share of one core the resource sampler's own /proc reads may take. */
export const RESOURCE_CPU_SHARE = 0.005
/** Longest time between two scans of /proc for wireguard-go processes, ms. */
const WG_RESCAN_MS = 10_000

/**
 * ms from one resource sample to the next when one costs `cpuMs` of this process's CPU: long enough that the
 * sampler takes at most RESOURCE_CPU_SHARE of a core, within RESOURCE_MIN_MS..RESOURCE_MAX_MS. A sample reads
 * two /proc files per process, and now and then scans /proc: about 1.2 ms at N=10 and 15-25 ms at N=200 (400
 * processes) on a 2-core host, by its load, so 1 s and 3-5 s (`node dist/bench/sampler-cost.js`).
 */
export function resourceIntervalMs (cpuMs: number): number {
  return Math.min(RESOURCE_MAX_MS, Math.max(RESOURCE_MIN_MS, Math.ceil(cpuMs / RESOURCE_CPU_SHARE)))
}

/** What ResourceSampler reads of the mesh. */
export type SampledMesh = Pick<Mesh, 'daemonPids' | 'allWireguardPids' | 'controller'>

/** Samples RSS and CPU of the controller, daemons and wireguard-go processes, as often as resourceIntervalMs allows. */
export class ResourceSampler extends Loop {
  readonly samples: ResourceSample[] = []
  /** This process's CPU time spent in samples, ms: the sampler's own load on the machine. */
  cpuMs = 0
  private readonly cpu = new CpuTracker()
  private wgPids: number[] = []
  private wgScanMs = -Infinity
  private lastMachine: MachineCpu | null = null
  private readonly cores = cpus().length

  constructor (private readonly d: { mesh: SampledMesh, now: () => number }) {
    super(RESOURCE_MIN_MS)
  }

  /** ms from this sample to the next: resourceIntervalMs of the mean cost so far. */
  override intervalMs (): number {
    return resourceIntervalMs(this.samples.length === 0 ? 0 : this.cpuMs / this.samples.length)
  }

  /**
   * Takes one sample now (also used at the end of the run); skipped within half of RESOURCE_MIN_MS of the last,
   * whose CPU % over so short an interval would be clock-tick noise.
   */
  async once (): Promise<void> {
    const t = this.d.now()
    const last = this.samples[this.samples.length - 1]
    if (last !== undefined && t - last.tMs < RESOURCE_MIN_MS / 2) return
    const began = process.cpuUsage()
    const { mesh } = this.d
    // Joining and restarted nodes get a new wireguard-go, and a crashed node's goes: /proc is scanned again while
    // some daemon has none, after one of the known pids was gone, and every WG_RESCAN_MS.
    const daemons = mesh.daemonPids()
    if (this.wgPids.length < daemons.length || t - this.wgScanMs >= WG_RESCAN_MS) {
      this.wgPids = mesh.allWireguardPids()
      this.wgScanMs = t
    }
    const ctl = mesh.controller?.pid
    const machine = machineCpu()
    const prev = this.lastMachine
    this.lastMachine = machine
    const wireguard = this.cpu.sample(this.wgPids, t)
    if (wireguard.count < this.wgPids.length) this.wgScanMs = -Infinity
    this.samples.push({
      tMs: t,
      controller: this.cpu.sample(ctl === undefined ? [] : [ctl], t),
      daemons: this.cpu.sample(daemons, t),
      wireguard,
      machineCpuPct: prev === null ? 0 : machineBusyPct(prev, machine, this.cores)
    })
    const used = process.cpuUsage(began)
    this.cpuMs += (used.user + used.system) / 1000
  }
}
