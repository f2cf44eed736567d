import { formatTable } from '../../cmd/cli.js'
import type { SetCounters } from './channel-set.js'
import type { HeartbeatFigures } from './heartbeats.js'
import type { JoinResult } from './joins.js'
import type { PolicyChangeResult } from './policy-changes.js'
import { cpuFraction, type ProcSample } from './procstat.js'
import type { Census, RegisterFigures } from './setup.js'
import { max, mean, median, percentile, round } from './stats.js'
import { steadyMedians, type SteadyResult } from './steady.js'

/**
 * Turns raw measurements of one run into the printed figures: one table row per size, and the same
 * numbers as a JSON object (rounded, NaN as null) for notes and CI logs.
 */

/** Everything one run measured, before summarising. */
export interface RawRun {
  n: number
  heartbeatIntervalMs: number
  register: RegisterFigures
  afterRegister: ProcSample
  openMs: number
  settleMs: number | null
  afterSetup: ProcSample
  joins: JoinResult[]
  joinPhase: {
    controller: [ProcSample, ProcSample]
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
  /** The controller's own view (GET /v1/nodes) before the joins and after the steady window. */
  census: { atJoins: Census, atEnd: Census }
}

const MiB = 1024 * 1024

/** The figures of one size, as printed and as emitted in JSON. Times in ms, sizes in bytes, CPU as % of one core. */
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

/** The policy changes' figures; t0 = just before the PUT is sent. Times in ms, sizes in bytes. */
function policySummary (changes: PolicyChangeResult[]) {
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
    perChannelP50Ms: round(median(perChannel), 1),
    perChannelMaxMs: round(max(perChannel), 1),
    putAckP50Ms: round(median(changes.map(c => c.putMs)), 1),
    missingDeliveries: changes.reduce((a, c) => a + c.missing, 0),
    viaFullMap: changes.reduce((a, c) => a + c.viaFull, 0),
    changesWithoutQuietStart: changes.filter(c => c.settleMs === null).length,
    /** The NDJSON line carrying the new version, per channel: must not grow with N. */
    deltaLineBytes: round(median(changes.map(c => c.lineBytes)), 0),
    documentBytes: round(median(changes.map(c => c.documentBytes)), 0),
    /** Controller CPU from the PUT until every channel had it, heartbeats meanwhile included; ticks are 10 ms. */
    controllerCpuMsPerChange: round(mean(cpu), 1),
    controllerCpuMsMax: round(max(cpu), 0)
  }
}

/** Summarises one run. */
export function summarize (r: RawRun) {
  const reached = r.joins.filter(j => j.timeToAllMs !== null).map(j => j.timeToAllMs!)
  const perChannel = r.joins.flatMap(j => j.perChannelMs)
  const [c0, c1] = r.joinPhase.controller
  const joinWallMs = c1.atMs - c0.atMs
  const jc = r.joinPhase.channels
  const perChannelJoin = r.joinPhase.channelCount * Math.max(1, r.joins.length)
  const steadyMed = steadyMedians(r.steady)
  const fulls = r.joins.map(j => j.fullMapBytes).filter((b): b is number => b !== null)
  return {
    nodes: r.n,
    heartbeatIntervalMs: r.heartbeatIntervalMs,
    setup: {
      registerWallMs: round(r.register.wallMs, 0),
      registerPerSecond: round((r.register.nodes * 1000) / r.register.wallMs, 1),
      registerP50Ms: round(percentile(r.register.latenciesMs, 50), 2),
      registerP99Ms: round(percentile(r.register.latenciesMs, 99), 2),
      registerRetried: r.register.retried,
      rssAfterRegisterMiB: round(r.afterRegister.rssBytes / MiB, 1),
      openChannelsMs: round(r.openMs, 0),
      settleMs: r.settleMs === null ? null : round(r.settleMs, 0),
      rssAfterSetupMiB: round(r.afterSetup.rssBytes / MiB, 1)
    },
    fanout: {
      joins: r.joins.length,
      joinsReachedAll: reached.length,
      /** t0 = just before the register request is sent. */
      timeToAllP50Ms: round(percentile(reached, 50), 1),
      timeToAllP99Ms: round(percentile(reached, 99), 1),
      timeToAllMaxMs: round(max(reached), 1),
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
      upsertsPerDelta: round(mean(r.joins.map(j => j.upserts)), 2),
      /** Everything the channels read during the join phase (all deltas, pings, HTTP chunk framing) / (channels x joins). */
      wirePerChannelPerJoin: round(jc.wireBytes / perChannelJoin, 0),
      deltaBodyPerChannelPerJoin: round(jc.bytes.delta / perChannelJoin, 0),
      deltaLinesPerChannelPerJoin: round(jc.lines.delta / perChannelJoin, 2),
      /** The full map a newly joined node received on its own first channel. */
      fullMapForNewNode: fulls.length === 0 ? null : round(median(fulls), 0)
    },
    policy: policySummary(r.policyChanges),
    joinPhase: {
      controllerCpuPct: round(100 * cpuFraction(c0, c1), 1),
      benchCpuPct: round((100 * r.joinPhase.benchCpuMs) / joinWallMs, 1),
      heartbeats: hbSummary(r.joinPhase.heartbeats, joinWallMs)
    },
    steady: {
      seconds: round(r.steady.wallMs / 1000, 1),
      controllerCpuMedianPct: round(100 * steadyMed.cpu, 1),
      controllerCpuMaxPct: round(100 * max(r.steady.cpuPerSecond), 1),
      /** Controller CPU per answered heartbeat (the whole steady CPU charged to heartbeats, which dominate it): the capacity figure. */
      controllerCpuUsPerHeartbeat: round((r.steady.controllerCpuMs * 1000) / Math.max(1, r.steady.heartbeats.ok), 0),
      controllerRssMedianMiB: round(steadyMed.rssBytes / MiB, 1),
      controllerPeakRssMiB: round(r.steady.peakRssBytes / MiB, 1),
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

const f = (x: number | null | undefined, unit = ''): string => (x === null || x === undefined ? '-' : `${x}${unit}`)

/** The human-readable report: one column per size. */
export function formatReport (runs: SizeFigures[], meta: { command: string, joins: number, policyChanges: number, steadyMs: number }): string {
  const rows: Array<[string, (s: SizeFigures) => string]> = [
    ['heartbeat interval', s => f(s.heartbeatIntervalMs, ' ms')],
    ['online / connected at joins', s => `${s.census.atJoins.health.online ?? 0} / ${s.census.atJoins.connected}`],
    ['online / connected at end', s => `${s.census.atEnd.health.online ?? 0} / ${s.census.atEnd.connected}`],
    ['register N: rate', s => f(s.setup.registerPerSecond, ' /s')],
    ['register N: p50 / p99', s => `${f(s.setup.registerP50Ms)} / ${f(s.setup.registerP99Ms, ' ms')}`],
    ['open N channels', s => f(s.setup.openChannelsMs, ' ms')],
    ['fan-out time-to-all p50', s => f(s.fanout.timeToAllP50Ms, ' ms')],
    ['fan-out time-to-all p99', s => f(s.fanout.timeToAllP99Ms, ' ms')],
    ['fan-out time-to-all max', s => f(s.fanout.timeToAllMaxMs, ' ms')],
    ['t0 -> first channel p50', s => f(s.fanout.firstChannelP50Ms, ' ms')],
    ['first -> last channel p50', s => f(s.fanout.spreadP50Ms, ' ms')],
    ['per-channel latency p50', s => f(s.fanout.perChannelP50Ms, ' ms')],
    ['per-channel latency p99', s => f(s.fanout.perChannelP99Ms, ' ms')],
    ['joins reaching all / missing', s => `${s.fanout.joinsReachedAll}/${s.fanout.joins} / ${s.fanout.missingDeliveries}`],
    ['join register ack p50', s => f(s.fanout.registerAckP50Ms, ' ms')],
    ['bytes per change (delta line)', s => f(s.bytes.deltaLinePerChange, ' B')],
    ['wire bytes /channel /join', s => f(s.bytes.wirePerChannelPerJoin, ' B')],
    ['upserts per join delta', s => f(s.bytes.upsertsPerDelta)],
    ['full map for a new node', s => f(s.bytes.fullMapForNewNode, ' B')],
    ['policy: PUT -> first channel p50 / max', s => `${f(s.policy.firstChannelP50Ms)} / ${f(s.policy.firstChannelMaxMs, ' ms')}`],
    ['policy: PUT -> last channel p50 / max', s => `${f(s.policy.timeToAllP50Ms)} / ${f(s.policy.timeToAllMaxMs, ' ms')}`],
    ['policy: per-channel latency p50 / max', s => `${f(s.policy.perChannelP50Ms)} / ${f(s.policy.perChannelMaxMs, ' ms')}`],
    ['policy: changes reaching all / missing', s => `${s.policy.changesReachedAll}/${s.policy.changes} / ${s.policy.missingDeliveries}`],
    ['policy: PUT answer p50', s => f(s.policy.putAckP50Ms, ' ms')],
    ['policy: delta line / document', s => `${f(s.policy.deltaLineBytes)} / ${f(s.policy.documentBytes, ' B')}`],
    ['controller CPU per policy change', s => `${f(s.policy.controllerCpuMsPerChange)} (max ${f(s.policy.controllerCpuMsMax)}) ms`],
    ['controller CPU, joins', s => f(s.joinPhase.controllerCpuPct, ' %')],
    ['controller CPU, steady p50', s => f(s.steady.controllerCpuMedianPct, ' %')],
    ['controller CPU, steady max', s => f(s.steady.controllerCpuMaxPct, ' %')],
    ['controller CPU per heartbeat', s => f(s.steady.controllerCpuUsPerHeartbeat, ' us')],
    ['controller RSS, steady p50', s => f(s.steady.controllerRssMedianMiB, ' MiB')],
    ['controller RSS, peak', s => f(s.steady.controllerPeakRssMiB, ' MiB')],
    ['heartbeats /s (steady)', s => f(s.steady.heartbeats.perSecond)],
    ['heartbeat p50 / p99', s => `${f(s.steady.heartbeats.p50Ms)} / ${f(s.steady.heartbeats.p99Ms, ' ms')}`],
    ['heartbeats failed / skipped', s => `${Object.values(s.steady.heartbeats.failed).reduce((a, b) => a + b, 0)} / ${s.steady.heartbeats.skipped}`],
    ['deltas during steady', s => f(s.steady.deltaLinesDuringSteady)],
    ['bench CPU, joins / steady', s => `${f(s.joinPhase.benchCpuPct, ' %')} / ${f(s.steady.benchCpuPct, ' %')}`],
    ['host load avg 1m, joins / end', s => `${f(s.hostLoad1m.beforeJoins)} / ${f(s.hostLoad1m.afterSteady)}`],
    ['version gaps / malformed / closed', s => `${s.integrity.versionGaps} / ${s.integrity.malformedLines} / ${s.integrity.channelsClosed}`]
  ]
  const header = ['figure', ...runs.map(s => `N=${s.nodes}`)]
  const table = formatTable(header, rows.map(([name, fn]) => [name, ...runs.map(fn)]))
  return `controller bench: ${meta.command}\n` +
    `joins=${meta.joins} (t0 = just before the register request is sent), policy changes=${meta.policyChanges} (t0 = just before the PUT is sent), ` +
    `steady=${meta.steadyMs / 1000} s, CPU in % of one core\n\n` +
    table
}
