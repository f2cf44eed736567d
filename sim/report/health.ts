/**
 * The per-node health timeline as named states: each read pass's number (healthColumn in analyze.ts: -1 down
 * on purpose, else the Jaccard agreement between the peers a device has and the peers it should have) becomes
 * a state, and runs of one state become segments, one bar each on the report's chart.
 */
import type { DownInterval, DownKind } from '../run/intent.js'

/** What a node was doing at one read pass. */
export type HealthState = 'in-sync' | 'partly' | 'out-of-sync' | 'not-started' | 'crashed' | 'vanished' | 'left'

/** Every state, in legend order, with its legend text. */
export const HEALTH_STATES: ReadonlyArray<{ state: HealthState, label: string }> = [
  { state: 'in-sync', label: 'in sync: exactly the right peers' },
  { state: 'partly', label: 'partly in sync: 50-99 % right' },
  { state: 'out-of-sync', label: 'out of sync: under 50 % right' },
  { state: 'not-started', label: 'not started yet' },
  { state: 'crashed', label: 'crashed (on purpose)' },
  { state: 'vanished', label: 'vanished (on purpose)' },
  { state: 'left', label: 'left (on purpose)' }
]

/** One node in one state from `fromMs` to `toMs` (run times). */
export interface HealthSegment { node: number, state: HealthState, fromMs: number, toMs: number }

/** The hostname node i's daemon registers with (sim/cluster.ts starts it with `--hostname node-<i>`). */
export function nodeName (i: number): string {
  return `node-${i}`
}

function downState (kind: DownKind): HealthState {
  switch (kind) {
    case 'crash': return 'crashed'
    case 'vanish': return 'vanished'
    case 'left': return 'left'
    default: { const never: never = kind; return never }
  }
}

/** The state of node i at tMs with health value `v`; a down node's reason comes from `down` (none: not started yet). */
export function healthState (v: number, i: number, tMs: number, down: readonly DownInterval[]): HealthState {
  if (v >= 0.999) return 'in-sync'
  if (v >= 0.5) return 'partly'
  if (v >= 0) return 'out-of-sync'
  const d = down.find(d => d.node === i && d.fromMs <= tMs && (d.toMs === null || d.toMs > tMs))
  return d === undefined ? 'not-started' : downState(d.kind)
}

/**
 * Segments of every node's timeline. A column lasts until the next one (the last: one `tickMs`). Above
 * `maxCells` node-columns, every k-th column is used, so the page stays small at N=200.
 */
export function healthSegments (timeline: { tMs: readonly number[], health: ReadonlyArray<readonly number[]> }, down: readonly DownInterval[],
  tickMs: number, maxCells = 40_000): HealthSegment[] {
  const cols = timeline.tMs.length
  const nodes = timeline.health.length
  const step = Math.max(1, Math.ceil(cols * nodes / maxCells))
  const out: HealthSegment[] = []
  for (let i = 0; i < nodes; i++) {
    let open: HealthSegment | null = null
    for (let c = 0; c < cols; c += step) {
      const t = timeline.tMs[c]!
      const end = c + step < cols ? timeline.tMs[c + step]! : t + tickMs * step
      const state = healthState(timeline.health[i]![c]!, i, t, down)
      if (open !== null && open.state === state) { open.toMs = end; continue }
      open = { node: i, state, fromMs: t, toMs: end }
      out.push(open)
    }
  }
  return out
}
