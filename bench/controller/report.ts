import { formatTable } from '../../cmd/cli.js'
import type { Census } from './setup.js'
import type { SizeFigures } from './summary.js'

/**
 * The human-readable report: one column per run, a size's LevelDB run beside its etcd run. Figures of several
 * controllers are their sum, with each one's on the row below ("a / b / c", controller 0 first).
 */

const f = (x: number | null | undefined, unit = ''): string => (x === null || x === undefined ? '-' : `${x}${unit}`)

/** Values of each controller (or member), "a / b / c". */
const each = (xs: ReadonlyArray<number | null>, unit = ''): string => xs.map(x => f(x)).join(' / ') + unit

/** The fewest nodes any controller counts online, and connected (on one controller, its own count). */
const fewest = (cs: readonly Census[]): string =>
  `${Math.min(...cs.map(c => c.health.online ?? 0))} / ${Math.min(...cs.map(c => c.connected))}`

const ETCD_NOTE = 'etcd Kc/Mm: K controllers on one prefix of an M-member etcd cluster, node i at controller i mod K, joins and policy ' +
  'changes through controller 0, "all" = every channel on every controller; CPU and RSS summed over the controllers (or members), ' +
  'each controller on the row below\n'

/** What the report's header says about the run. */
export interface ReportMeta { command: string, joins: number, policyChanges: number, steadyMs: number }

/** The report: a header, then one row per figure and one column per run. */
export function formatReport (runs: SizeFigures[], meta: ReportMeta): string {
  // Rows marked true are per controller or per etcd, shown only when some run is on etcd.
  const rows: Array<[string, (s: SizeFigures) => string, true?]> = [
    ['heartbeat interval', s => f(s.heartbeatIntervalMs, ' ms')],
    ['online / connected at joins', s => fewest(s.census.atJoins)],
    ['online / connected at end', s => fewest(s.census.atEnd)],
    ['register N: rate', s => f(s.setup.registerPerSecond, ' /s')],
    ['register N: p50 / p99', s => `${f(s.setup.registerP50Ms)} / ${f(s.setup.registerP99Ms, ' ms')}`],
    ['open N channels', s => f(s.setup.openChannelsMs, ' ms')],
    ['fan-out time-to-all p50', s => f(s.fanout.timeToAllP50Ms, ' ms')],
    ['fan-out time-to-all p99', s => f(s.fanout.timeToAllP99Ms, ' ms')],
    ['fan-out time-to-all max', s => f(s.fanout.timeToAllMaxMs, ' ms')],
    ['  to-all p50, each controller', s => each(s.fanout.timeToAllP50MsByController, ' ms'), true],
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
    ['  last channel p50, each controller', s => each(s.policy.timeToAllP50MsByController, ' ms'), true],
    ['policy: per-channel latency p50 / max', s => `${f(s.policy.perChannelP50Ms)} / ${f(s.policy.perChannelMaxMs, ' ms')}`],
    ['policy: changes reaching all / missing', s => `${s.policy.changesReachedAll}/${s.policy.changes} / ${s.policy.missingDeliveries}`],
    ['policy: PUT answer p50', s => f(s.policy.putAckP50Ms, ' ms')],
    ['policy: delta line / document', s => `${f(s.policy.deltaLineBytes)} / ${f(s.policy.documentBytes, ' B')}`],
    ['controller CPU per policy change', s => `${f(s.policy.controllerCpuMsPerChange)} (max ${f(s.policy.controllerCpuMsMax)}) ms`],
    ['controller CPU, joins', s => f(s.joinPhase.controllerCpuPct, ' %')],
    ['  each controller', s => each(s.joinPhase.controllerCpuPctEach, ' %'), true],
    ['controller CPU, steady p50', s => f(s.steady.controllerCpuMedianPct, ' %')],
    ['  each controller', s => each(s.steady.perController.map(c => c.cpuMedianPct), ' %'), true],
    ['controller CPU, steady max', s => f(s.steady.controllerCpuMaxPct, ' %')],
    ['controller CPU per heartbeat', s => f(s.steady.controllerCpuUsPerHeartbeat, ' us')],
    ['controller RSS, steady p50', s => f(s.steady.controllerRssMedianMiB, ' MiB')],
    ['  each controller', s => each(s.steady.perController.map(c => c.rssMedianMiB), ' MiB'), true],
    ['controller RSS, peak', s => f(s.steady.controllerPeakRssMiB, ' MiB')],
    ['etcd CPU, joins / steady p50', s => `${f(s.joinPhase.etcdCpuPct, ' %')} / ${f(s.steady.etcd?.cpuMedianPct, ' %')}`, true],
    ['etcd RSS, steady p50 / peak', s => `${f(s.steady.etcd?.rssMedianMiB)} / ${f(s.steady.etcd?.peakRssMiB, ' MiB')}`, true],
    ['heartbeats /s (steady)', s => f(s.steady.heartbeats.perSecond)],
    ['heartbeat p50 / p99', s => `${f(s.steady.heartbeats.p50Ms)} / ${f(s.steady.heartbeats.p99Ms, ' ms')}`],
    ['heartbeats failed / skipped', s => `${Object.values(s.steady.heartbeats.failed).reduce((a, b) => a + b, 0)} / ${s.steady.heartbeats.skipped}`],
    ['deltas during steady', s => f(s.steady.deltaLinesDuringSteady)],
    ['bench CPU, joins / steady', s => `${f(s.joinPhase.benchCpuPct, ' %')} / ${f(s.steady.benchCpuPct, ' %')}`],
    ['host load avg 1m, joins / end', s => `${f(s.hostLoad1m.beforeJoins)} / ${f(s.hostLoad1m.afterSteady)}`],
    ['version gaps / malformed / closed', s => `${s.integrity.versionGaps} / ${s.integrity.malformedLines} / ${s.integrity.channelsClosed}`]
  ]
  const etcd = runs.some(s => s.store === 'etcd')
  const header = ['figure', ...runs.map(s => `N=${s.nodes} ${s.label}`)]
  const table = formatTable(header, rows.filter(([, , etcdOnly]) => etcd || etcdOnly !== true).map(([name, fn]) => [name, ...runs.map(fn)]))
  return `controller bench: ${meta.command}\n` +
    `joins=${meta.joins} (t0 = just before the register request is sent), policy changes=${meta.policyChanges} (t0 = just before the PUT is sent), ` +
    `steady=${meta.steadyMs / 1000} s, CPU in % of one core\n` +
    (etcd ? ETCD_NOTE : '') + '\n' +
    table
}
