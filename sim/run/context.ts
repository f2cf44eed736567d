/**
 * What a scenario acts through. Every action does the real thing to the world (SIGKILL, nftables, `weft
 * leave`, stopping the controller), records it in the Intent (ground truth) and opens the measured events
 * whose timing the report gives.
 */
import { rm } from 'node:fs/promises'
import type { Mesh } from '../cluster.js'
import type { Clock } from '../../lib/clock.js'
import type { Logger } from '../../lib/log.js'
import { SeededRandom, shuffle } from '../../lib/swim/random.js'
import type { Intent } from './intent.js'
import type { PeerObserver } from './observer.js'
import type { Measure, MeasureKind } from './measure.js'
import type { Progress } from './progress.js'
import { checkPairs, type ReachSample } from './reach.js'
import { wireguardPidsByIface } from './procscan.js'
import type { ScenarioParams } from '../scenarios/scenario.js'
import type { SwimConfig } from '../../lib/swim/config.js'
import { suspicionMaxMs, suspicionMinMs } from '../../lib/swim/math.js'
import { JOIN_NICE } from './density.js'
import type { FailoverRow } from '../scenarios/failover.js'
import type { PolicyRow } from '../scenarios/policy-change.js'
import type { ControllerFailoverRow } from '../scenarios/controller-failover.js'

/**
 * How long a scenario waits for the mesh to match its intent (settle), for `n` nodes running `cfg`: twice
 * Lifeguard's longest suspicion plus 30 s, and never under 60 s. A silent member whose heartbeats the
 * controller still sees (a partition: both sides reach the controller) is held suspect for the longest
 * suspicion before anyone declares it dead (docs/swim.md), and a loaded host stretches probes and reconciles
 * on top. With `lan` at N=200 the longest suspicion is 55 s, so the former fixed 60 s ended an N=200
 * partition's wait before most nodes could have removed the other side (9,813 of 20,000 pairs missed).
 * Default presets: `mesh` gives 60 s up to N=1300; `lan` 78 s up to N=10, 112 s at N=50 and 140 s at N=200.
 */
export function settleBoundMs (cfg: SwimConfig, n: number): number {
  const longest = suspicionMaxMs(cfg.suspicionMaxTimeoutMult, suspicionMinMs(cfg.suspicionMult, n, cfg.probeIntervalMs))
  return Math.max(60_000, 2 * longest + 30_000)
}

/** A named stretch of the run, for the report's plots. */
export interface Phase { name: string, fromMs: number }

/** Dependencies of a ScenarioContext. */
export interface ContextDeps {
  mesh: Mesh
  intent: Intent
  observer: PeerObserver
  progress: Progress
  params: ScenarioParams
  seed: number
  clock: Clock
  t0: number
  log: Logger
  /** Default bound of settle(), in ms: settleBoundMs of the daemons' SWIM config. */
  settleBoundMs: number
  /** Niceness of running daemons; a starting one runs at JOIN_NICE until restoreNiceness() (density.ts). */
  daemonNice: number
  /** The scenario's flags for node i's daemon (Scenario.daemonArgs). */
  daemonArgs?: (i: number) => string[]
}

/** The scenario's handle on the world; see the module comment. */
export class ScenarioContext {
  readonly measures: Measure[] = []
  readonly phases: Phase[] = []
  /** Things that did not go as expected (a wait that timed out); listed in the report. */
  readonly notes: string[] = []
  /** Route failover figures (router-failover, exit-failover), one row per kill. */
  readonly failover: FailoverRow[] = []
  /** Access policy figures (policy-change), one row per version set. */
  readonly policy: PolicyRow[] = []
  /** Controller failover figures (controller-failover), one row per fault. */
  readonly controllerFailover: ControllerFailoverRow[] = []
  readonly ipOf = new Map<number, string>()
  readonly rng: SeededRandom
  /** Daemons started at JOIN_NICE since the last restoreNiceness(). */
  private starting: number[] = []
  /** The run's reachability samples, once the sampler runs (after the join). */
  private reach: readonly ReachSample[] = []

  constructor (readonly d: ContextDeps) {
    this.rng = new SeededRandom(d.seed)
  }

  get nodes (): number { return this.d.intent.nodes }
  get params (): ScenarioParams { return this.d.params }
  get mesh (): Mesh { return this.d.mesh }

  /** Milliseconds since run start. */
  now (): number { return this.d.clock.now() - this.d.t0 }

  /** Starts a named phase (progress line and report). */
  phase (name: string): void {
    this.phases.push({ name, fromMs: this.now() })
    this.d.progress.phase(name)
    this.d.log.info({ event: 'sim.phase', phase: name, tMs: this.now() }, name)
  }

  /** `k` distinct nodes chosen with the run's seed among those up now, excluding `exclude`. */
  pick (k: number, exclude: readonly number[] = []): number[] {
    const up = this.d.intent.upAt(this.now()).filter(i => !exclude.includes(i))
    return shuffle(up, this.rng).slice(0, k).sort((a, b) => a - b)
  }

  /**
   * Kills each node's daemon and wireguard-go with SIGKILL (a host losing power). Resolves with the clock's time
   * right after the kills: the /proc scan before them takes tens of ms on a loaded host, and a probe sent during it
   * still went through.
   */
  async crash (nodes: readonly number[]): Promise<number> {
    const wg = wireguardPidsByIface(new Set(nodes.map(i => this.d.mesh.ifname(i))))
    // The kills are synchronous and right after the recorded time, so detection is timed from the real crash.
    const t = this.now()
    this.openMeasures('crash', nodes, t, 'removed')
    for (const i of nodes) {
      if ((wg.get(this.d.mesh.ifname(i)) ?? []).length === 0) {
        this.notes.push(`crash of node ${i} at ${Math.round(t / 1000)} s: no wireguard-go found for it; its data plane may live on`)
      }
      this.d.intent.goDown(i, 'crash', t)
      this.d.mesh.daemons.get(i)?.kill('SIGKILL')
      for (const pid of wg.get(this.d.mesh.ifname(i)) ?? []) { try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ } }
    }
    const killedAt = this.d.clock.now()
    await Promise.all(nodes.map(async i => await this.d.mesh.stopDaemon(i, 'SIGKILL')))
    return killedAt
  }

  /** Starts the daemons of crashed (or left) nodes again from their saved state. */
  async restart (nodes: readonly number[]): Promise<void> {
    const t = this.now()
    for (const i of nodes) this.d.intent.comeBack(i, t)
    this.openMeasures('restart', nodes, t, 'added')
    for (const i of nodes) await this.startDaemon(i, false)
  }

  /**
   * Starts node i's daemon at JOIN_NICE (density.ts: a starting node of a fleet has a machine of its own); the
   * next restoreNiceness() sets it to the run's niceness.
   */
  async startDaemon (i: number, join: boolean): Promise<void> {
    await this.d.mesh.startDaemon(i, { join, nice: JOIN_NICE, extra: this.d.daemonArgs?.(i) ?? [] })
    this.starting.push(i)
  }

  /** Sets the daemons started since the last call to the run's niceness, now that the mesh has them (or had its chance). */
  restoreNiceness (): void {
    if (this.starting.length > 0 && this.d.daemonNice !== JOIN_NICE) this.d.mesh.renice(this.starting, this.d.daemonNice)
    this.starting = []
  }

  /** Drops all traffic of the nodes' namespaces (nftables): hosts that die without closing anything. */
  async vanish (nodes: readonly number[]): Promise<void> {
    const t = this.now()
    this.openMeasures('vanish', nodes, t, 'removed')
    for (const i of nodes) this.d.intent.goDown(i, 'vanish', t)
    await Promise.all(nodes.map(async i => await this.d.mesh.world.setLoss(i, 100)))
  }

  /** Lets vanished nodes' traffic through again. */
  async unvanish (nodes: readonly number[]): Promise<void> {
    await Promise.all(nodes.map(async i => await this.d.mesh.world.setLoss(i, 0)))
    const t = this.now()
    for (const i of nodes) this.d.intent.comeBack(i, t)
    this.openMeasures('return', nodes, t, 'added')
  }

  /**
   * Cuts the underlay between sides a and b in one nftables transaction. Timed from just before it: the cut
   * starts somewhere within the call, which the log line gives the length of.
   */
  async partition (a: readonly number[], b: readonly number[]): Promise<void> {
    const t = this.now()
    this.d.intent.partitions.push({ sides: [[...a], [...b]], fromMs: t, toMs: null })
    this.openCross('partition', a, b, t, 'removed')
    await this.d.mesh.world.partition(a, b)
    this.d.log.info({ event: 'sim.cut', tMs: t, applyMs: this.now() - t }, 'cut in place')
  }

  /** Removes every partition in one transaction, timed from just before it as partition() is. */
  async heal (): Promise<void> {
    const t = this.now()
    await this.d.mesh.world.heal()
    this.d.log.info({ event: 'sim.heal', tMs: t, applyMs: this.now() - t }, 'cuts removed')
    for (const p of this.d.intent.partitions) {
      if (p.toMs !== null) continue
      p.toMs = t
      this.openCross('heal', p.sides[0], p.sides[1], t, 'added')
    }
  }

  /** Sets `percent`% random loss on the nodes' underlay (0 removes it). */
  async setLoss (nodes: readonly number[], percent: number): Promise<void> {
    const t = this.now()
    for (const l of this.d.intent.losses) if (l.toMs === null) l.toMs = t
    if (percent > 0) this.d.intent.losses.push({ nodes: [...nodes], percent, fromMs: t, toMs: null })
    await this.d.mesh.world.setLossOn(nodes, percent)
  }

  /** Stops the controller with SIGKILL (an outage, not a clean shutdown). */
  async stopController (): Promise<void> {
    this.d.intent.outages.push({ fromMs: this.now(), toMs: null })
    await this.d.mesh.stopController('SIGKILL')
  }

  /** Starts the controller again on its data and waits until it answers. */
  async startController (): Promise<void> {
    await this.d.mesh.startController()
    const open = this.d.intent.outages.find(o => o.toMs === null)
    if (open !== undefined) open.toMs = this.now()
  }

  /** Node i leaves gracefully (`weft leave`). */
  async leave (i: number): Promise<void> {
    const t = this.now()
    this.openMeasures('leave', [i], t, 'removed')
    this.d.intent.goDown(i, 'left', t)
    await this.d.mesh.leave(i)
  }

  /** Node i joins again as a new node: fresh state directory, new key, new join (after a leave). */
  async rejoin (i: number): Promise<void> {
    const old = this.d.observer.keyOf.get(i)
    if (old !== undefined) this.d.intent.retiredKeys.add(old)
    this.d.observer.keyOf.delete(i)
    await rm(this.d.mesh.stateDir(i), { recursive: true, force: true })
    const t = this.now()
    this.d.intent.comeBack(i, t)
    this.openMeasures('rejoin', [i], t, 'added')
    await this.startDaemon(i, true)
    await this.learnIp(i)
  }

  /** Asks every up node whose mesh IP is not known yet for its status (once, in parallel); resolves with how many are still unknown. */
  async refreshIps (): Promise<number> {
    const missing = this.d.intent.upAt(this.now()).filter(i => !this.ipOf.has(i))
    await Promise.all(missing.map(async i => {
      const s = await this.d.mesh.tryStatus(i)
      if (s !== null) this.ipOf.set(i, s.node.meshIp)
    }))
    return missing.filter(i => !this.ipOf.has(i)).length
  }

  /** Waits (bounded) for node i's daemon to answer and records its mesh IP for the pings. */
  async learnIp (i: number): Promise<void> {
    await this.waitFor(`node ${i} answering`, async () => {
      const s = await this.d.mesh.tryStatus(i)
      if (s !== null) this.ipOf.set(i, s.node.meshIp)
      return s !== null
    }, 60_000, 200)
  }

  /** Pings every pair that should reach each other now; resolves with how many answered. */
  async pingAll (): Promise<{ ok: number, total: number, failed: Array<[number, number]> }> {
    const t = this.now()
    const pairs = this.d.intent.upAt(t).flatMap(a => this.d.intent.intendedPeers(a, t).map(b => [a, b] as [number, number]))
    const failed = await checkPairs(this.d.mesh.world, i => this.d.mesh.ns(i), i => this.ipOf.get(i), pairs, 4)
    return { ok: pairs.length - failed.length, total: pairs.length, failed }
  }

  /** Prints a line for the person watching (and logs it). */
  say (text: string): void {
    this.d.progress.note(text)
    this.d.log.info({ event: 'sim.say', tMs: this.now() }, text)
  }

  /** Holds the world as it is for `ms` (a fault's duration; not a synchronisation). */
  async hold (ms: number): Promise<void> {
    await new Promise(resolve => setTimeout(resolve, ms))
  }

  /** Whether every up node's device holds exactly the peers it should (observer's latest reads). */
  converged (): boolean {
    const t = this.now()
    const { intent, observer } = this.d
    for (const i of intent.upAt(t)) {
      const cur = observer.current.get(i)
      if (cur === undefined) return false
      const want = intent.intendedPeers(i, t)
      if (cur.size !== want.length) return false
      for (const j of want) {
        const k = observer.keyOf.get(j)
        if (k === undefined || !cur.has(k)) return false
      }
    }
    return true
  }

  /** Waits (bounded) until `cond` holds; on timeout records a note and resolves false instead of failing the run. */
  async waitFor (what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
    const start = this.now()
    while (!(await cond())) {
      if (this.now() - start > timeoutMs) {
        this.notes.push(`${what}: not reached within ${Math.round(timeoutMs / 1000)} s (at ${Math.round(this.now() / 1000)} s)`)
        this.d.progress.note(`warning: ${what} not reached within ${Math.round(timeoutMs / 1000)} s`)
        return false
      }
      await new Promise(resolve => setTimeout(resolve, everyMs))
    }
    return true
  }

  /** Hands the context the run's reachability samples (ReachSampler.samples), for reachWhole(). */
  watchReach (samples: readonly ReachSample[]): void {
    this.reach = samples
  }

  /**
   * Waits (bounded) for a reachability sample taken wholly after `fromMs` in which every sampled pair
   * answered: the report's "every sampled pair answering N s after it" needs one, and the run would
   * otherwise end while the sampler is still behind.
   */
  async reachWhole (what: string, fromMs: number, timeoutMs = this.d.settleBoundMs): Promise<boolean> {
    return await this.waitFor(what, () => this.reach.some(r => r.tMs >= fromMs && r.ok === r.total), timeoutMs, 200)
  }

  /** Waits until the mesh matches the intent (every fault detected, every return re-added). */
  async settle (what: string, timeoutMs = this.d.settleBoundMs): Promise<boolean> {
    const ok = await this.waitFor(what, () => this.converged(), timeoutMs)
    this.restoreNiceness()
    return ok
  }

  /** Records a join measure for node i started at tMs; observers are every other node, each from the later start. */
  recordJoin (i: number, tMs: number, observers: readonly number[]): void {
    const fromByObserver: Record<number, number> = {}
    for (const j of observers) fromByObserver[j] = Math.max(tMs, this.d.intent.startedAt.get(j) ?? tMs)
    this.measures.push({ kind: 'join', target: i, fromMs: tMs, expect: 'added', observers: [...observers], fromByObserver })
  }

  private openMeasures (kind: MeasureKind, targets: readonly number[], t: number, expect: 'removed' | 'added'): void {
    const up = this.d.intent.upAt(t)
    for (const x of targets) {
      const observers = up.filter(j => j !== x && !targets.includes(j) && !this.d.intent.splitAt(j, x, t))
      const key = this.d.observer.keyOf.get(x)
      this.measures.push({ kind, target: x, ...(key === undefined ? {} : { key }), fromMs: t, expect, observers })
    }
  }

  private openCross (kind: MeasureKind, a: readonly number[], b: readonly number[], t: number, expect: 'removed' | 'added'): void {
    const up = new Set(this.d.intent.upAt(t))
    const add = (x: number, obs: readonly number[]): void => {
      if (!up.has(x)) return
      const key = this.d.observer.keyOf.get(x)
      this.measures.push({ kind, target: x, ...(key === undefined ? {} : { key }), fromMs: t, expect, observers: obs.filter(j => up.has(j)) })
    }
    for (const x of a) add(x, b)
    for (const x of b) add(x, a)
  }
}
