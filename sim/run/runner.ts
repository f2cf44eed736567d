/**
 * `weft sim run`: builds the world (namespaces, controller, N daemons each with wireguard-go), joins every
 * node in batches and times the join, runs one scenario, waits for convergence, pings every pair, and
 * writes report.json and report.html. Everything it starts is removed at the end, on Ctrl-C (the world's
 * signal hooks) and, if this process dies, by the next run's stale cleanup.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadavg } from 'node:os'
import { Mesh } from '../cluster.js'
import type { Clock } from '../../lib/clock.js'
import type { Logger } from '../../lib/log.js'
import type { Scenario, ScenarioParams } from '../scenarios/scenario.js'
import { ScenarioContext } from './context.js'
import { Intent } from './intent.js'
import { PeerObserver } from './observer.js'
import type { Progress } from './progress.js'
import { checkPairs } from './reach.js'
import { DENSE_CONTROLLER_NICE } from './density.js'
import { groupCpuMs, harnessCpuMs, machineBusyMs, memAvailableKb, type CpuLedger } from './resources.js'
import { ReachSampler, ResourceSampler } from './samplers.js'
import { healthColumn } from '../report/analyze.js'
import { buildReport, type Report } from '../report/build.js'
import { countLogEvents } from '../report/logs.js'
import { renderHtml } from '../report/html.js'
import { dashboardLine, openDashboard, VIEWER_KEY_MARGIN_MS, type Dashboard } from './dashboard.js'

/**
 * One join batch, in run time: when its first daemon was started, when all of them answered on their local
 * socket, and when the harness saw every node started so far in a full mesh (the next batch starts then).
 * meshMs against the time the daemons' logs show that mesh is the harness's own share of the join.
 */
export interface BatchTimes { nodes: number, startMs: number, answeringMs: number | null, meshMs: number | null }

/** Options of runSim. */
export interface SimRunOptions {
  nodes: number
  scenario: Scenario
  seed: number
  /** Directory for report.json and report.html (created). */
  outDir: string
  /** Keep the run directory (daemon and controller logs, state) instead of deleting it. */
  keep: boolean
  params: ScenarioParams
  /**
   * Controllers: 1 runs one on LevelDB; more run on an etcd cluster of three members in the controller
   * namespace, controller 0 serving and the others as standbys (docs/store.md, "etcd"). Default: 1.
   */
  controllers?: number
  /** Daemons started before waiting for them to answer. Default: 25: node start-up is CPU-bound, more only queues. */
  batchSize: number
  /** UAPI read cadence in ms (see defaultTickMs). */
  tickMs: number
  /** V8 flags for each daemon process. */
  daemonNodeFlags: string[]
  /** Extra `weft daemon` flags for every daemon (the dense-host profile, see densityProfile). */
  daemonArgs: string[]
  /** Extra environment for every daemon and its wireguard-go (the dense-host profile). */
  daemonEnv: Record<string, string>
  /** CPU niceness of every daemon and its wireguard-go (the dense-host profile). */
  daemonNice: number
  /** How long the joined mesh runs before a scenario's faults: the daemons' SWIM join grace (docs/swim.md). */
  settleMs: number
  /** Bound of each wait for the mesh to match the intent after a fault: settleBoundMs (context.ts) of the daemons' SWIM config. */
  settleBoundMs: number
  /** A removal within this many ms of the peer being down or cut off is not false. Default: 10 s, see analyze.ts. */
  graceMs: number
  /**
   * Open the controller's dashboard to this machine (sim/run/dashboard.ts) once the controller is up, on
   * 127.0.0.1:`port` (0 = any free port), and print its address and a viewer key before the scenario starts.
   * Default: none.
   */
  ui?: { port: number }
  clock: Clock
  log: Logger
  progress: Progress
}

function inotifyLimit (): number {
  return Number(readFileSync('/proc/sys/fs/inotify/max_user_instances', 'utf8').trim())
}

/**
 * For pairs that did not ping at the end, the source's WireGuard view of the target (`wg show dump`: endpoint,
 * latest handshake, rx/tx) goes to sim.log, so a failed run says whether the peer was missing, never
 * handshook, or handshook and still dropped traffic.
 */
async function logFailedPairs (mesh: Mesh, failed: ReadonlyArray<[number, number]>, log: Logger): Promise<void> {
  for (const src of new Set(failed.map(([a]) => a))) {
    try {
      const r = await mesh.world.exec(mesh.ns(src), ['wg', 'show', mesh.ifname(src), 'dump'], { timeoutMs: 5000 })
      log.warn({
        event: 'sim.unreachable',
        node: src,
        targets: failed.filter(([a]) => a === src).map(([, b]) => b),
        wg: r.stdout.split('\n').slice(1).filter(l => l !== '')
      }, 'pairs unreachable at the end')
    } catch (err) {
      log.warn({ event: 'sim.unreachable', node: src, err: (err as Error).message }, 'pairs unreachable at the end; wg show failed')
    }
  }
}

/**
 * How long pairs that failed the all-pairs pass keep being pinged: WireGuard repairs a session whose
 * receive side is dark once data has gone unanswered for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (15 s) by starting
 * a new handshake, and the pings are that data. A pair still failing after this is unreachable.
 */
const RETRY_PAIRS_MS = 30_000

/**
 * Pings the pairs that failed the all-pairs pass again, pass after pass, until they answer or RETRY_PAIRS_MS
 * has passed; resolves with those still failing. A pair that answers only here had a tunnel that dropped
 * its first packets (seen after two idle minutes: a session left dark by a rekey), and the report counts it.
 */
async function retryPairs (mesh: Mesh, ctx: ScenarioContext, failed: Array<[number, number]>, now: () => number): Promise<Array<[number, number]>> {
  const until = now() + RETRY_PAIRS_MS
  let left = failed
  while (left.length > 0 && now() < until) {
    left = await checkPairs(mesh.world, i => mesh.ns(i), i => ctx.ipOf.get(i), left, 4)
  }
  return left
}

/** CPU seconds spent since `start` by the machine and the harness, and so far by the mesh's processes. */
function cpuSince (mesh: Mesh, start: { machine: number, harness: number }): CpuLedger {
  const ctl = mesh.controller?.pid
  const s = (ms: number): number => Math.round(ms / 100) / 10
  return {
    machine: s(machineBusyMs() - start.machine),
    controller: s(groupCpuMs(ctl === undefined ? [] : [ctl])),
    daemons: s(groupCpuMs(mesh.daemonPids())),
    wireguard: s(groupCpuMs(mesh.allWireguardPids())),
    harness: s(harnessCpuMs() - start.harness)
  }
}

/** Runs one simulation end to end and resolves with its report (also written to outDir). */
export async function runSim (o: SimRunOptions): Promise<Report> {
  const { clock, progress, nodes: n } = o
  const t0 = clock.now()
  const now = (): number => clock.now() - t0
  const inotifyBefore = inotifyLimit()
  const memBeforeKb = memAvailableKb()
  const loadAvgStart = Math.round(loadavg()[0]! * 100) / 100
  const cpuStart = { machine: machineBusyMs(), harness: harnessCpuMs() }
  mkdirSync(o.outDir, { recursive: true })
  progress.phase(`building ${n} namespaces, the controller and the underlay`)
  const mesh = await Mesh.create(n, {
    log: o.log,
    daemonNodeFlags: o.daemonNodeFlags,
    daemonArgs: o.daemonArgs,
    daemonEnv: o.daemonEnv,
    daemonNice: o.daemonNice,
    flatScheduling: true,
    controllerNice: o.daemonNice === 0 ? 0 : DENSE_CONTROLLER_NICE,
    daemonLogLevel: 'info',
    controllerLogLevel: 'info',
    tempPrefix: 'weft-sim-',
    controllerStartTimeoutMs: 120_000,
    controllers: o.controllers ?? 1,
    etcdMembers: (o.controllers ?? 1) > 1 ? 3 : 0
  })
  for (let k = 1; k < (o.controllers ?? 1); k++) await mesh.startController(k)
  const worldMs = now()
  // Ctrl-C: the world's own hook removes namespaces and processes; this removes the run directory too.
  // Killing daemons and wireguard-go here, synchronously, stops the scenario's effects at once, whatever the
  // world's asynchronous sweep still has to do.
  const onSignal = (): void => {
    for (const c of mesh.daemons.values()) c.kill('SIGKILL')
    for (const pid of mesh.allWireguardPids()) { try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } }
    if (!o.keep) rmSync(mesh.dir, { recursive: true, force: true })
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  // Loops that read devices, ping and sample /proc. Stopped in `finally` too: a scenario that throws must not
  // leave them running (they kept the process alive after a failed `loss` run).
  const loops: Array<{ stop: () => Promise<void> }> = []
  const inotifyAfter = inotifyLimit()
  if (inotifyAfter !== inotifyBefore) progress.note(`raised fs.inotify.max_user_instances from ${inotifyBefore} to ${inotifyAfter} (one per wireguard-go)`)
  let dashboard: Dashboard | null = null
  try {
    if (o.ui !== undefined) {
      dashboard = await openDashboard(mesh, { port: o.ui.port, ttlMs: o.params.durationMs + VIEWER_KEY_MARGIN_MS, log: o.log })
      progress.note(dashboardLine(dashboard))
    }
    const intent = new Intent(n)
    const timeline: { tMs: number[], health: number[][] } = { tMs: [], health: Array.from({ length: n }, () => []) }
    const observer = new PeerObserver({
      ifname: i => mesh.ifname(i),
      nodes: n,
      tickMs: o.tickMs,
      t0,
      clock,
      onTick: t => {
        timeline.tMs.push(t)
        healthColumn(intent, observer, t).forEach((h, i) => timeline.health[i]!.push(h))
      }
    })
    const ctx = new ScenarioContext({
      mesh,
      intent,
      observer,
      progress,
      params: o.params,
      seed: o.seed,
      clock,
      t0,
      log: o.log,
      settleBoundMs: o.settleBoundMs,
      daemonNice: o.daemonNice,
      daemonArgs: o.scenario.daemonArgs?.bind(o.scenario)
    })
    observer.start()
    loops.push(observer)
    // From the first daemon on: the join's CPU over time is what shows where a host runs out (docs/sim.md).
    const resources = new ResourceSampler({ mesh, now })
    await resources.once()
    resources.start()
    loops.push(resources)

    // A joining daemon runs at JOIN_NICE until its batch has joined, then at daemonNice. In a fleet a node starts
    // on a machine of its own; here, at nice 10 among a hundred busy nice-10 daemons, a new one got so little CPU
    // that it took 20-55 s to configure its peers, and past about 160 nodes the members it could not answer
    // accused it (docs/sim.md, "Many nodes on few cores").
    await o.scenario.prepare?.(ctx)
    ctx.phase(`starting ${n} daemons in batches of ${o.batchSize}`)
    const all = Array.from({ length: n }, (_, i) => i)
    const batches: BatchTimes[] = []
    for (let b = 0; b < n; b += o.batchSize) {
      const batch = all.slice(b, b + o.batchSize)
      const times: BatchTimes = { nodes: batch.length, startMs: now(), answeringMs: null, meshMs: null }
      batches.push(times)
      for (const i of batch) {
        intent.started(i, now())
        await ctx.startDaemon(i, true)
      }
      await ctx.waitFor(`daemons ${batch[0]}-${batch[batch.length - 1]} answering`, async () => {
        const st = await Promise.all(batch.filter(i => !ctx.ipOf.has(i)).map(async i => [i, await mesh.tryStatus(i)] as const))
        for (const [i, s] of st) if (s !== null) ctx.ipOf.set(i, s.node.meshIp)
        progress.step(ctx.ipOf.size, n, 'daemons answering')
        return batch.every(i => ctx.ipOf.has(i))
      }, 30_000 + 2000 * batch.length, 200)
      times.answeringMs = now()
      // The next batch starts once the nodes started so far form a full mesh: on a host whose cores every node
      // shares, piling new daemons onto a mesh still adding the last batch only stretches everyone's
      // timeouts (docs/sim.md, "Many nodes on few cores").
      if (b + o.batchSize < n) {
        await ctx.waitFor(`nodes 0-${batch[batch.length - 1]} in a full mesh`, () => ctx.converged(), 30_000 + 1000 * batch.length, 200)
        times.meshMs = now()
        ctx.restoreNiceness()
      }
    }
    for (const i of all) ctx.recordJoin(i, intent.startedAt.get(i)!, all.filter(j => j !== i))
    const daemonsUpMs = now()
    ctx.phase('waiting for a full mesh')
    let lastAsk = 0
    await ctx.waitFor('full mesh after join', async () => {
      // Daemons that were slow to answer during their batch (a loaded machine) are asked again here.
      if (ctx.ipOf.size < n && now() - lastAsk > 1000) { lastAsk = now(); await ctx.refreshIps() }
      return ctx.ipOf.size === n && ctx.converged()
    }, 60_000 + n * 500)
    const fullMeshMs = now()
    batches[batches.length - 1]!.meshMs = fullMeshMs
    ctx.restoreNiceness()
    for (const m of ctx.measures) if (m.key === undefined) { const k = observer.keyOf.get(m.target); if (k !== undefined) m.key = k }
    const memJoinedKb = memAvailableKb()
    const setupCpu = cpuSince(mesh, cpuStart)

    const reach = new ReachSampler({ mesh, intent, ipOf: ctx.ipOf, seed: o.seed, now, pairs: Math.min(24, n * (n - 1)), everyMs: 1000 })
    reach.start()
    loops.push(reach)
    ctx.watchReach(reach.samples)

    // Faults go in once the mesh is past SWIM's join grace (docs/swim.md): the figures are about a running
    // mesh, not about a node that fails in the seconds after it joined (which others detect up to the grace later).
    if (o.scenario.name !== 'join') {
      ctx.phase(`steady mesh for ${o.settleMs / 1000} s (SWIM join grace)`)
      await ctx.hold(o.settleMs)
    }
    await o.scenario.run(ctx)

    ctx.phase('final convergence')
    await ctx.settle('final convergence', 60_000)
    await reach.stop()
    await ctx.refreshIps()
    const tEnd = now()
    const up = intent.upAt(tEnd)
    const pairs = up.flatMap(a => intent.intendedPeers(a, tEnd).map(b => [a, b] as [number, number]))
    ctx.phase(`pinging all ${pairs.length} pairs`)
    const failedFirst = await checkPairs(mesh.world, i => mesh.ns(i), i => ctx.ipOf.get(i), pairs, 4)
    let failed = failedFirst
    if (failed.length > 0) {
      await logFailedPairs(mesh, failed, o.log)
      failed = await retryPairs(mesh, ctx, failed, now)
    }
    await observer.stop()
    await resources.stop()
    await resources.once()
    progress.phase('writing the report')
    const report = buildReport({
      opts: o,
      ctx,
      observer,
      intent,
      timeline,
      setup: { worldMs, daemonsUpMs, fullMeshMs, firstDaemonMs: Math.min(...intent.startedAt.values()), batches, inotifyBefore, inotifyAfter, cpuS: setupCpu },
      memKb: { before: memBeforeKb, joined: memJoinedKb },
      loadAvgStart,
      reach: reach.samples,
      finalPairs: { tMs: tEnd, total: pairs.length, failed, failedFirst },
      resources: resources.samples,
      samplerCpuMs: resources.cpuMs,
      logs: countLogEvents(all.map(i => mesh.logFile(`n${i}`)), mesh.logFile('controller')),
      endMs: now(),
      runDir: o.keep ? mesh.dir : null,
      prefix: mesh.world.names.prefix,
      autogroup: mesh.world.autogroup
    })
    writeFileSync(join(o.outDir, 'report.json'), JSON.stringify(report, null, 1) + '\n')
    writeFileSync(join(o.outDir, 'report.html'), renderHtml(report))
    progress.endLine()
    return report
  } finally {
    await Promise.all(loops.map(async l => await l.stop().catch(() => {})))
    progress.phase('removing the world')
    // Daemons leave their wireguard-go running by design; end those first (by this run's interface names),
    // so the world's own socket-inode sweep finds nothing left. Daemons given Node flags (a --cpu-prof, a
    // heap report) stop with SIGTERM, so that what the flags write at exit gets written; bounded per daemon.
    const stopSignal = o.daemonNodeFlags.length > 0 ? 'SIGTERM' : 'SIGKILL'
    await Promise.all([...mesh.daemons.keys()].map(async i => await mesh.stopDaemon(i, stopSignal)))
    for (const pid of mesh.allWireguardPids()) { try { process.kill(pid, 'SIGTERM') } catch { /* gone */ } }
    await dashboard?.relay.close()
    await mesh.destroy({ keepDir: o.keep })
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    progress.endLine()
  }
}
