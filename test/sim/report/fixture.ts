/**
 * A small report for the report tests: 4 nodes joining at 2 s, node 3 crashed at 20 s and restarted at 30 s,
 * reachability sampled each second from 10 s with a dip at its last samples, every pair pinged at 36 s, the
 * run over at 40 s. Everything a test does not set is plausible and fixed.
 */
import type { Report } from '../../../sim/report/build.js'
import type { ResourceSample, GroupSample } from '../../../sim/run/resources.js'

const NODES = 4
const END_MS = 40_000

function group (count: number, rssKb: number, cpuPct: number): GroupSample {
  return { count, rssKbP50: rssKb, rssKbMax: rssKb, rssKbSum: rssKb * count, cpuPctSum: cpuPct }
}

const stats = { count: 0, p50: null, p90: null, p99: null, max: null, mean: null }

/** Health of node i at tMs in the fixture's story: -1 before its start and while crashed, else 1 (0.5 for the others while node 3 is gone). */
function health (i: number, tMs: number): number {
  if (tMs < 2000) return -1
  if (tMs < 6000) return 0
  if (i === 3 && tMs >= 20_000 && tMs < 30_000) return -1
  if (i !== 3 && tMs >= 20_000 && tMs < 22_000) return 0.75
  return 1
}

/** The fixture report; `patch` replaces top-level fields. */
export function sampleReport (patch: Partial<Report> = {}): Report {
  const ticks = Array.from({ length: END_MS / 1000 }, (_, k) => k * 1000)
  const resources: ResourceSample[] = ticks.filter(t => t >= 2000).map(t => ({
    tMs: t,
    controller: group(1, 80_000, 2),
    daemons: group(t >= 20_000 && t < 30_000 ? 3 : 4, 60_000, 40),
    wireguard: group(t >= 20_000 && t < 30_000 ? 3 : 4, 6_000, 10),
    machineCpuPct: t === 2000 ? 0 : 150
  }))
  return {
    version: 1,
    prefix: 'wftest',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: END_MS,
    params: {
      nodes: NODES,
      scenario: 'restart',
      scenarioSummary: 'crash K nodes, then start them again',
      seed: 1,
      count: 1,
      lossPercent: 5,
      durationMs: 30_000,
      tickMs: 1000,
      batchSize: 25,
      graceMs: 10_000,
      daemonNodeFlags: [],
      daemonArgs: [],
      daemonEnv: {},
      daemonNice: 0,
      autogroup: 'disabled'
    },
    machine: { cores: 2, memTotalMb: 4096, kernel: '6.0', node: 'v20.0.0', loadAvg: { start: 1, end: 1 } },
    setup: {
      worldMs: 1500,
      daemonsUpMs: 5000,
      fullMeshMs: 6000,
      joinToFullMeshMs: 4000,
      batches: [{ nodes: NODES, startMs: 2000, answeringMs: 5000, meshMs: 6000 }],
      inotify: { before: 128, after: 128 },
      cpuS: { machine: 10, controller: 1, daemons: 4, wireguard: 1, harness: 1 }
    },
    phases: [{ name: 'crashing 1 node(s): 3', fromMs: 20_000 }, { name: 'restarting them', fromMs: 30_000 }],
    notes: [],
    events: [],
    eventList: [],
    falseRemovals: { count: 0, duringJoin: 0, afterJoin: 0, list: [] },
    heals: [],
    reachability: {
      samples: ticks.filter(t => t >= 10_000 && t <= 33_000).map(t => ({ tMs: t, ok: t >= 31_000 ? 6 : 8, total: 8 })),
      sampledMinFraction: 0.75,
      final: { tMs: 36_000, total: 12, ok: 12, lateOk: 0, failed: [] }
    },
    resources: {
      samples: resources,
      perNodeKb: { daemonP50: 60_000, daemonMax: 60_000, wireguardP50: 6_000, wireguardMax: 6_000, totalP50: 66_000 },
      machinePerNodeKb: 0,
      controllerRssKbMax: 80_000,
      controllerCpuPctMax: 2,
      daemonCpuPctSumMax: 40,
      samplerCpuMs: 20
    },
    intent: { down: [{ node: 3, kind: 'crash', fromMs: 20_000, toMs: 30_000 }], partitions: [], losses: [], outages: [] },
    observer: { passes: ticks.length, readErrors: 0, readTimeouts: 0, changes: 0, passMs: stats, readMs: stats },
    logs: { daemons: {}, controller: {}, unreadableLines: 0 },
    timeline: { tMs: ticks, health: Array.from({ length: NODES }, (_, i) => ticks.map(t => health(i, t))) },
    runDir: null,
    cdf: { crash: [1200, 1500, 1800], restart: [300, 400, 700] },
    ...patch
  }
}
