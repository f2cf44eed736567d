import type { SetCounters } from './channel-set.js'
import { storeLabel, type StoreSetup } from './deployment.js'
import type { HeartbeatFigures } from './heartbeats.js'
import type { JoinResult } from './joins.js'
import type { PolicyChangeResult } from './policy-changes.js'
import { cpuFraction, sumSamples, type ProcSample } from './procstat.js'
import type { Census, RegisterFigures } from './setup.js'
import { max, mean, median, percentile, round } from './stats.js'
import { seriesMedians, type ProcSeries, type SteadyResult } from './steady.js'

/**
 * Turns raw measurements of one run (one size, one store) into its figures: rounded, NaN as null, times in
 * ms, sizes in bytes, CPU in % of one core. Controllers' CPU and RSS are summed over the controllers, with
 * each one's beside; the etcd members' likewise.
 */

/** Everything one run measured, before summarising. Per-process samples are in controller (or member) order. */
export interface RawRun {
  n: number
  setup: StoreSetup
  heartbeatIntervalMs: number
  register: RegisterFigures
  afterRegister: ProcSample[]
  openMs: number
  settleMs: number | null
  afterSetup: ProcSample[]
  joins: JoinResult[]
  joinPhase: {
    controllers: [ProcSample[], ProcSample[]]
    /** null on LevelDB. */
    etcd: [ProcSample[], ProcSample[]] | null
    benchCpuMs: number
    channels: SetCounters
    channelCount: number
    heartbeats: HeartbeatFigures
  }
  policyChanges: PolicyChangeResult[]
  steady: SteadyResult
  integrity: SetCounters
  /** 1-minute load average of the host before the joins and after the steady window (other work competes for the cores). */
  hostLoad: [number, number]
  /** Each controller's own view (GET /v1/nodes) before the joins and after the steady window. */
  census: { atJoins: Census[], atEnd: Census[] }
}

const MiB = 1024 * 1024

/** The figures of one run, as printed and as emitted in JSON. */
export type SizeFigures = ReturnType<typeof summarize>

function hbSummary (h: HeartbeatFigures, wallMs: number) {
  return {
    perSecond: round((h.sent * 1000) / wallMs, 1),
    ok: h.ok,
    failed: h.failed,
    skipped: h.skipped,
    p50Ms: round(percentile(h.latenciesMs, 50), 2),
    p99Ms: round(percentile(h.latenciesMs, 99), 2)
  }
}

/** Steady-window figures of one process, or of a group summed. */
function procSummary (s: ProcSeries) {
  const m = seriesMedians(s)
  return {
    cpuMedianPct: round(100 * m.cpu, 1),
    cpuMaxPct: round(100 * max(s.cpuPerSecond), 1),
    rssMedianMiB: round(m.rssBytes / MiB, 1),
    peakRssMiB: round(s.peakRssBytes / MiB, 1)
  }
}

/** Per controller k: the p50, over the changes, of t0 -> the last channel at k. */
function toAllP50ByController (changes: ReadonlyArray<{ timeToAllByControllerMs: Array<number | null> }>, controllers: number): Array<number | null> {
  return Array.from({ length: controllers }, (_, k) =>
    round(median(changes.map(c => c.timeToAllByControllerMs[k] ?? null).filter((ms): ms is number => ms !== null)), 1))
}

/** The policy changes' figures; t0 = just before the PUT is sent. */
function policySummary (changes: PolicyChangeResult[], controllers: number) {
  const reached = changes.filter(c => c.timeToAllMs !== null).map(c => c.timeToAllMs!)
  const first = changes.filter(c => c.firstMs !== null).map(c => c.firstMs!)
  const perChannel = changes.flatMap(c => c.perChannelMs)
  const cpu = changes.map(c => c.controllerCpuMs)
  return {
    changes: changes.length,
    changesReachedAll: reached.length,
    firstChannelP50Ms: round(median(first), 1),
    firstChannelMaxMs: round(max(first), 1),
    /** t0 -> the last channel. */
    timeToAllP50Ms: round(median(reached), 1),
    timeToAllMaxMs: round(max(reached), 1),
    timeToAllP50MsByController: toAllP50ByController(changes, controllers),
    perChannelP50Ms: round(median(perChannel), 1),
    perChannelMaxMs: round(max(perChannel), 1),
    putAckP50Ms: round(median(changes.map(c => c.putMs)), 1),
    missingDeliveries: changes.reduce((a, c) => a + c.missing, 0),
    viaFullMap: changes.reduce((a, c) => a + c.viaFull, 0),
    changesWithoutQuietStart: changes.filter(c => c.settleMs === null).length,
    /** The NDJSON line carrying the new version, per channel: must not grow with N. */
    deltaLineBytes: round(median(changes.map(c => c.lineBytes)), 0),
    documentBytes: round(median(changes.map(c => c.documentBytes)), 0),
    /** CPU of all controllers from the PUT until every channel had it, heartbeats meanwhile included; ticks are 10 ms. */
    controllerCpuMsPerChange: round(mean(cpu), 1),
    controllerCpuMsMax: round(max(cpu), 0)
  }
}

/** CPU over [a, b], % of one core: the group summed, and each process. */
function phaseCpu ([a, b]: [ProcSample[], ProcSample[]]) {
  return {
    sumPct: round(100 * cpuFraction(sumSamples(a), sumSamples(b)), 1),
    eachPct: a.map((s, i) => round(100 * cpuFraction(s, b[i]!), 1))
  }
}

/** Summarises one run. */
export function summarize (r: RawRun) {
  const controllers = r.setup.store === 'etcd' ? r.setup.controllers : 1
  const reached = r.joins.filter(j => j.timeToAllMs !== null).map(j => j.timeToAllMs!)
  const perChannel = r.joins.flatMap(j => j.perChannelMs)
  const [c0, c1] = r.joinPhase.controllers.map(sumSamples) as [ProcSample, ProcSample]
  const joinWallMs = c1.atMs - c0.atMs
  const joinCpu = phaseCpu(r.joinPhase.controllers)
  const jc = r.joinPhase.channels
  const perChannelJoin = r.joinPhase.channelCount * Math.max(1, r.joins.length)
  const ctlSteady = procSummary(r.steady.controllers.sum)
  const fulls = r.joins.map(j => j.fullMapBytes).filter((b): b is number => b !== null)
  return {
    nodes: r.n,
    /** `leveldb`, or `etcd Kc/Mm`: K controllers on an etcd cluster of M members. */
    label: storeLabel(r.setup),
    store: r.setup.store,
    controllers,
    etcdMembers: r.setup.store === 'etcd' ? r.setup.members : 0,
    heartbeatIntervalMs: r.heartbeatIntervalMs,
    setup: {
      registerWallMs: round(r.register.wallMs, 0),
      registerPerSecond: round((r.register.nodes * 1000) / r.register.wallMs, 1),
      registerP50Ms: round(percentile(r.register.latenciesMs, 50), 2),
      registerP99Ms: round(percentile(r.register.latenciesMs, 99), 2),
      registerRetried: r.register.retried,
      rssAfterRegisterMiB: round(sumSamples(r.afterRegister).rssBytes / MiB, 1),
      openChannelsMs: round(r.openMs, 0),
      settleMs: r.settleMs === null ? null : round(r.settleMs, 0),
      rssAfterSetupMiB: round(sumSamples(r.afterSetup).rssBytes / MiB, 1)
    },
    fanout: {
      joins: r.joins.length,
      joinsReachedAll: reached.length,
      /** t0 = just before the register request is sent; "all" is every channel on every controller. */
      timeToAllP50Ms: round(percentile(reached, 50), 1),
      timeToAllP99Ms: round(percentile(reached, 99), 1),
      timeToAllMaxMs: round(max(reached), 1),
      /** t0 -> the last channel open at controller k, p50 over the joins, per controller. */
      timeToAllP50MsByController: toAllP50ByController(r.joins, controllers),
      /** t0 -> first channel: the join's path through the controller before fan-out starts. */
      firstChannelP50Ms: round(percentile(r.joins.filter(j => j.firstMs !== null).map(j => j.firstMs!), 50), 1),
      /** first -> last channel: the fan-out itself (controller writes plus bench reads). */
      spreadP50Ms: round(percentile(r.joins.filter(j => j.firstMs !== null && j.timeToAllMs !== null).map(j => j.timeToAllMs! - j.firstMs!), 50), 1),
      perChannelP50Ms: round(percentile(perChannel, 50), 1),
      perChannelP99Ms: round(percentile(perChannel, 99), 1),
      registerAckP50Ms: round(median(r.joins.map(j => j.registerMs)), 1),
      missingDeliveries: r.joins.reduce((a, j) => a + j.missing, 0),
      viaFullMap: r.joins.reduce((a, j) => a + j.viaFull, 0),
      joinsWithoutQuietStart: r.joins.filter(j => j.settleMs === null).length
    },
    bytes: {
      /** Size of the NDJSON line carrying one join, per channel: the cost of one change to one daemon. */
      deltaLinePerChange: round(median(r.joins.map(j => j.lineBytes)), 0),
      /** Joins whose delta came in a line too big to parse count for none. */
      upsertsPerDelta: round(mean(r.joins.map(j => j.upserts).filter(u => Number.isFinite(u))), 2),
      /** Everything the channels read during the join phase (all deltas, pings, HTTP chunk framing) / (channels x joins). */
      wirePerChannelPerJoin: round(jc.wireBytes / perChannelJoin, 0),
      deltaBodyPerChannelPerJoin: round(jc.bytes.delta / perChannelJoin, 0),
      deltaLinesPerChannelPerJoin: round(jc.lines.delta / perChannelJoin, 2),
      /** The full map a newly joined node received on its own first channel. */
      fullMapForNewNode: fulls.length === 0 ? null : round(median(fulls), 0)
    },
    policy: policySummary(r.policyChanges, controllers),
    joinPhase: {
      /** All controllers together, and each. */
      controllerCpuPct: joinCpu.sumPct,
      controllerCpuPctEach: joinCpu.eachPct,
      /** All etcd members together; null on LevelDB. */
      etcdCpuPct: r.joinPhase.etcd === null ? null : phaseCpu(r.joinPhase.etcd).sumPct,
      benchCpuPct: round((100 * r.joinPhase.benchCpuMs) / joinWallMs, 1),
      heartbeats: hbSummary(r.joinPhase.heartbeats, joinWallMs)
    },
    steady: {
      seconds: round(r.steady.wallMs / 1000, 1),
      /** All controllers together (CPU per second summed, RSS summed, each one's peak summed). */
      controllerCpuMedianPct: ctlSteady.cpuMedianPct,
      controllerCpuMaxPct: ctlSteady.cpuMaxPct,
      /** All controllers' CPU per answered heartbeat (the whole steady CPU charged to heartbeats, which dominate it): the capacity figure. */
      controllerCpuUsPerHeartbeat: round((r.steady.controllers.sum.cpuMs * 1000) / Math.max(1, r.steady.heartbeats.ok), 0),
      controllerRssMedianMiB: ctlSteady.rssMedianMiB,
      controllerPeakRssMiB: ctlSteady.peakRssMiB,
      perController: r.steady.controllers.each.map(procSummary),
      /** All etcd members together, and each; null on LevelDB. */
      etcd: r.steady.etcd === null ? null : { ...procSummary(r.steady.etcd.sum), perMember: r.steady.etcd.each.map(procSummary) },
      benchCpuPct: round(100 * r.steady.benchCpu, 1),
      heartbeats: hbSummary(r.steady.heartbeats, r.steady.wallMs),
      channelWireBytesPerChannelPerSecond: round((r.steady.channels.wireBytes * 1000) / r.steady.wallMs / Math.max(1, r.joinPhase.channelCount), 1),
      deltaLinesDuringSteady: r.steady.channels.lines.delta
    },
    census: r.census,
    hostLoad1m: { beforeJoins: round(r.hostLoad[0], 2), afterSteady: round(r.hostLoad[1], 2) },
    integrity: {
      versionGaps: r.integrity.gaps,
      malformedLines: r.integrity.malformed,
      channelsClosed: r.integrity.closed,
      fullMapsOnMeasuredChannels: r.integrity.lines.full
    }
  }
}
