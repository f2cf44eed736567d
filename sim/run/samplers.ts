/**
 * Background measurements during a run: reachability of a random sample of pairs each tick (real pings over
 * mesh IPs), and memory/CPU of the controller, the daemons and their wireguard-go.
 */
import type { Mesh } from '../cluster.js'
import type { Intent } from './intent.js'
import { checkPairs, type ReachSample } from './reach.js'
import { CpuTracker, machineBusyMs, type ResourceSample } from './resources.js'
import { SeededRandom, shuffle } from '../../lib/swim/random.js'

/** Targets pinged from each sampled source per tick. */
const TARGETS_PER_SOURCE = 4

/** A loop that runs `once` then waits so that iterations start `everyMs` apart, until stopped. */
abstract class Loop {
  private running = false
  private loop: Promise<void> | null = null
  constructor (protected readonly everyMs: number) {}
  protected abstract once (): Promise<void>

  /** Starts the loop. */
  start (): void {
    if (this.running) return
    this.running = true
    this.loop = (async () => {
      while (this.running) {
        const began = Date.now()
        await this.once().catch(() => {})
        const wait = this.everyMs - (Date.now() - began)
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

  constructor (private readonly d: { mesh: Mesh, intent: Intent, ipOf: ReadonlyMap<number, string>, seed: number, now: () => number, pairs: number, everyMs: number }) {
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
    this.samples.push({ tMs: t, ok: chosen.length - failed.length, total: chosen.length })
  }
}

/** Samples RSS and CPU of the controller, daemons and wireguard-go processes. */
export class ResourceSampler extends Loop {
  readonly samples: ResourceSample[] = []
  private readonly cpu = new CpuTracker()
  private wgPids: number[] = []
  private refreshes = 0
  private lastBusy: { tMs: number, busyMs: number } | null = null

  constructor (private readonly d: { mesh: Mesh, now: () => number, everyMs: number }) {
    super(d.everyMs)
  }

  /** Takes one sample now (also used at the end of the run). */
  async once (): Promise<void> {
    const { mesh } = this.d
    // Joining and restarted nodes get a new wireguard-go; every third sample looks again, and every sample
    // while some daemon has none yet.
    const daemons = mesh.daemonPids()
    if (this.refreshes++ % 3 === 0 || this.wgPids.length < daemons.length) {
      this.wgPids = mesh.allWireguardPids()
    }
    const t = this.d.now()
    const ctl = mesh.controller?.pid
    const busy = { tMs: t, busyMs: machineBusyMs() }
    const prev = this.lastBusy
    this.lastBusy = busy
    this.samples.push({
      tMs: t,
      controller: this.cpu.sample(ctl === undefined ? [] : [ctl], t),
      daemons: this.cpu.sample(daemons, t),
      wireguard: this.cpu.sample(this.wgPids, t),
      machineCpuPct: prev === null || t <= prev.tMs ? 0 : Math.round(1000 * (busy.busyMs - prev.busyMs) / (t - prev.tMs)) / 10
    })
  }
}
