/** Assembles report.json: the run's parameters and every figure, in one plain object. */
import type { FailoverRow } from '../scenarios/failover.js'
import type { PolicyRow } from '../scenarios/policy-change.js'
import type { ControllerFailoverRow } from '../scenarios/controller-failover.js'
import { cpus, loadavg, release, totalmem } from 'node:os'
import type { ScenarioContext, Phase } from '../run/context.js'
import type { Intent, DownInterval, PartitionInterval, LossInterval, OutageInterval } from '../run/intent.js'
import type { PeerObserver } from '../run/observer.js'
import type { ReachSample } from '../run/reach.js'
import type { CpuLedger, ResourceSample } from '../run/resources.js'
import type { BatchTimes, SimRunOptions } from '../run/runner.js'
import { falseRemovals, stats, summariseKinds, timeEvents, type EventResult, type FalseRemoval, type KindSummary, type Stats } from './analyze.js'
import type { LogCounts } from './logs.js'
import type { AutogroupState } from '../netns/autogroup.js'

/** Version of the report.json layout; bump on incompatible changes. */
export const REPORT_VERSION = 1

/** Everything report.json holds. Times are ms since the run started unless named otherwise. */
export interface Report {
  version: number
  /** The run's namespace/interface name prefix (all removed at the end). */
  prefix: string
  startedAt: string
  durationMs: number
  params: {
    nodes: number,
    scenario: string,
    scenarioSummary: string,
    seed: number,
    count: number,
    lossPercent: number,
    durationMs: number,
    tickMs: number,
    batchSize: number,
    graceMs: number,
    daemonNodeFlags: string[],
    daemonArgs: string[],
    daemonEnv: Record<string, string>,
    daemonNice: number
    /** What the run did with the kernel's autogroup setting (sim/netns/autogroup.ts); absent in reports before it. */
    autogroup?: AutogroupState
  }
  /** loadAvg: 1-minute load average at the start and at the end (the machine may be shared; high load slows everything). */
  machine: { cores: number, memTotalMb: number, kernel: string, node: string, loadAvg: { start: number, end: number } }
  setup: {
    /** Namespaces, veths, bridge and the controller up. */
    worldMs: number
    /** Every daemon answering on its local socket. */
    daemonsUpMs: number
    /** Every node's WireGuard device holds every other node (seen through UAPI). */
    fullMeshMs: number
    /** From the first daemon's start to the full mesh. */
    joinToFullMeshMs: number
    /** Per join batch, run times: first daemon started, every daemon answering, nodes so far seen in a full mesh. */
    batches: BatchTimes[]
    inotify: { before: number, after: number }
    /** CPU seconds from the run's start to the full mesh, by group (resources.ts CpuLedger). */
    cpuS: CpuLedger
  }
  phases: Phase[]
  notes: string[]
  /** Route failover scenarios: one row per kill of the primary carrier (sim/scenarios/failover.ts); absent in reports before them. */
  failover?: FailoverRow[]
  /** The policy-change scenario: one row per policy version set (sim/scenarios/policy-change.ts); absent in reports before it. */
  policy?: PolicyRow[]
  /** The controller-failover scenario: one row per fault (sim/scenarios/controller-failover.ts); absent in reports before it. */
  controllerFailover?: ControllerFailoverRow[]
  /** Per event kind: time until the first / last live node removed (or added) the peer. */
  events: KindSummary[]
  eventList: EventResult[]
  /** Removals of peers that were up and reachable; `duringJoin` before the first full mesh, `afterJoin` from then on. */
  falseRemovals: { count: number, duringJoin: number, afterJoin: number, list: FalseRemoval[] }
  /**
   * Per healed partition: from the heal until the reachability samples stayed whole (every sampled pair
   * answered in every sample from then on; null if they never did), and the false removals after the heal.
   */
  heals: Array<{ fromMs: number, toMs: number, reachableMs: number | null, removalsAfterHeal: number }>
  reachability: {
    samples: ReachSample[]
    sampledMinFraction: number | null
    /**
     * The all-pairs pass at the end, begun at `tMs`. `failed`: still unanswered after RETRY_PAIRS_MS of retries;
     * `lateOk`: pairs that failed the first pass and answered on a retry (a tunnel that dropped its first packets).
     */
    final: { tMs: number, total: number, ok: number, lateOk: number, failed: Array<[number, number]> }
  }
  resources: {
    samples: ResourceSample[]
    /** Per node at the end: daemon RSS p50 + wireguard-go RSS p50. */
    perNodeKb: { daemonP50: number, daemonMax: number, wireguardP50: number, wireguardMax: number, totalP50: number }
    /** Machine MemAvailable drop from before the world to the joined mesh, divided by N (includes kernel: namespaces, sockets). */
    machinePerNodeKb: number
    controllerRssKbMax: number
    controllerCpuPctMax: number
    daemonCpuPctSumMax: number
    /** CPU time this process spent taking the samples, ms: the sampler's own load (samplers.ts resourceIntervalMs). */
    samplerCpuMs: number
  }
  intent: { down: DownInterval[], partitions: PartitionInterval[], losses: LossInterval[], outages: OutageInterval[] }
  /** passMs: how long one read of every device took; timings are no finer than this. readMs: one device's read. */
  observer: { passes: number, readErrors: number, readTimeouts: number, changes: number, passMs: Stats, readMs: Stats }
  logs: LogCounts
  timeline: { tMs: number[], health: number[][] }
  /** Where the daemons' and controller's logs were kept (--keep), else null. */
  runDir: string | null
  /** Per kind: every observer's reaction time (sorted), for the CDF plot. */
  cdf: Record<string, number[]>
}

/** Inputs of buildReport. */
export interface BuildInput {
  opts: SimRunOptions
  ctx: ScenarioContext
  observer: PeerObserver
  intent: Intent
  timeline: { tMs: number[], health: number[][] }
  setup: {
    worldMs: number
    daemonsUpMs: number
    fullMeshMs: number
    firstDaemonMs: number
    batches: BatchTimes[]
    inotifyBefore: number
    inotifyAfter: number
    cpuS: CpuLedger
  }
  memKb: { before: number, joined: number }
  loadAvgStart: number
  reach: ReachSample[]
  finalPairs: { tMs: number, total: number, failed: Array<[number, number]>, failedFirst: Array<[number, number]> }
  resources: ResourceSample[]
  samplerCpuMs: number
  logs: LogCounts
  endMs: number
  runDir: string | null
  prefix: string
  autogroup: AutogroupState
}

/** Builds the report from a finished run's records. */
export function buildReport (b: BuildInput): Report {
  const { opts, ctx, observer, intent } = b
  const results = timeEvents(ctx.measures, observer, intent, b.endMs)
  const keyToNode = new Map<string, number>()
  for (const m of ctx.measures) if (m.key !== undefined) keyToNode.set(m.key, m.target)
  for (const [i, k] of observer.keyOf) keyToNode.set(k, i)
  const falses = falseRemovals(observer, intent, opts.graceMs, keyToNode)
  const last = b.resources[b.resources.length - 1]
  const max = (f: (s: ResourceSample) => number): number => Math.max(0, ...b.resources.map(f))
  const cdf: Record<string, number[]> = {}
  for (const r of results) (cdf[r.kind] ??= []).push(...r.timesMs)
  for (const k of Object.keys(cdf)) cdf[k]!.sort((x, y) => x - y)
  const fractions = b.reach.filter(s => s.total > 0).map(s => s.ok / s.total)
  return {
    version: REPORT_VERSION,
    prefix: b.prefix,
    startedAt: new Date(opts.clock.now() - b.endMs).toISOString(),
    durationMs: b.endMs,
    params: {
      nodes: opts.nodes,
      scenario: opts.scenario.name,
      scenarioSummary: opts.scenario.summary,
      seed: opts.seed,
      count: opts.params.count,
      lossPercent: opts.params.lossPercent,
      durationMs: opts.params.durationMs,
      tickMs: opts.tickMs,
      batchSize: opts.batchSize,
      graceMs: opts.graceMs,
      daemonNodeFlags: opts.daemonNodeFlags,
      daemonArgs: opts.daemonArgs,
      daemonEnv: opts.daemonEnv,
      daemonNice: opts.daemonNice,
      autogroup: b.autogroup
    },
    machine: {
      cores: cpus().length,
      memTotalMb: Math.round(totalmem() / 1048576),
      kernel: release(),
      node: process.version,
      loadAvg: { start: b.loadAvgStart, end: Math.round(loadavg()[0]! * 100) / 100 }
    },
    setup: {
      worldMs: b.setup.worldMs,
      daemonsUpMs: b.setup.daemonsUpMs,
      fullMeshMs: b.setup.fullMeshMs,
      joinToFullMeshMs: b.setup.fullMeshMs - b.setup.firstDaemonMs,
      batches: b.setup.batches,
      inotify: { before: b.setup.inotifyBefore, after: b.setup.inotifyAfter },
      cpuS: b.setup.cpuS
    },
    phases: ctx.phases,
    notes: ctx.notes,
    failover: ctx.failover,
    policy: ctx.policy,
    controllerFailover: ctx.controllerFailover,
    events: summariseKinds(results, ctx.measures),
    eventList: results,
    falseRemovals: {
      count: falses.length,
      duringJoin: falses.filter(f => f.tMs < b.setup.fullMeshMs).length,
      afterJoin: falses.filter(f => f.tMs >= b.setup.fullMeshMs).length,
      list: falses.slice(0, 100)
    },
    heals: intent.partitions.flatMap(p => p.toMs === null
      ? []
      : [{
          fromMs: p.fromMs,
          toMs: p.toMs,
          reachableMs: wholeFrom(b.reach, p.toMs),
          removalsAfterHeal: falses.filter(f => f.tMs >= p.toMs!).length
        }]),
    reachability: {
      samples: b.reach,
      sampledMinFraction: fractions.length === 0 ? null : Math.min(...fractions),
      final: {
        tMs: b.finalPairs.tMs,
        total: b.finalPairs.total,
        ok: b.finalPairs.total - b.finalPairs.failed.length,
        lateOk: b.finalPairs.failedFirst.length - b.finalPairs.failed.length,
        failed: b.finalPairs.failed.slice(0, 100)
      }
    },
    resources: {
      samples: b.resources,
      perNodeKb: {
        daemonP50: last?.daemons.rssKbP50 ?? 0,
        daemonMax: last?.daemons.rssKbMax ?? 0,
        wireguardP50: last?.wireguard.rssKbP50 ?? 0,
        wireguardMax: last?.wireguard.rssKbMax ?? 0,
        totalP50: (last?.daemons.rssKbP50 ?? 0) + (last?.wireguard.rssKbP50 ?? 0)
      },
      machinePerNodeKb: Math.round(Math.max(0, b.memKb.before - b.memKb.joined) / opts.nodes),
      controllerRssKbMax: max(s => s.controller.rssKbMax),
      controllerCpuPctMax: max(s => s.controller.cpuPctSum),
      daemonCpuPctSumMax: max(s => s.daemons.cpuPctSum),
      samplerCpuMs: Math.round(b.samplerCpuMs)
    },
    intent: { down: intent.down, partitions: intent.partitions, losses: intent.losses, outages: intent.outages },
    observer: {
      passes: observer.passes,
      readErrors: observer.readErrors,
      readTimeouts: observer.readTimeouts,
      changes: observer.changes.length,
      passMs: stats(observer.passMs),
      readMs: stats(observer.readMs)
    },
    logs: b.logs,
    timeline: b.timeline,
    runDir: b.runDir,
    cdf
  }
}

/** Re-exported for summary.ts and html.ts. */
export type { Stats, KindSummary }
/** Distribution of an arbitrary list (for callers that only have report.json). */
export { stats }

/** Time after `fromMs` from which every reachability sample was whole, or null when the last one was not. */
export function wholeFrom (samples: readonly ReachSample[], fromMs: number): number | null {
  const after = samples.filter(x => x.tMs >= fromMs && x.total > 0)
  if (after.length === 0 || after.at(-1)!.ok < after.at(-1)!.total) return null
  let i = after.length - 1
  while (i > 0 && after[i - 1]!.ok === after[i - 1]!.total) i--
  return after[i]!.tMs - fromMs
}
