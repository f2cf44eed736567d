/**
 * Marks on the report's time axes: every fault the scenario injected and every end of one (crash, restart,
 * vanish, return, leave, rejoin, cut, heal, loss on and off, controller stop and start), read from the run's
 * ground truth, plus when the mesh first formed. Faults that last (a partition, loss, a controller outage) are
 * also bands. Every time-axis chart draws the same marks.
 */
import type { Report } from './build.js'
import type { DownKind } from '../run/intent.js'
import { nodeName } from './health.js'

/** How a mark reads: a fault injected, the end of one, or a milestone of the run. */
export type MarkKind = 'fault' | 'recovery' | 'milestone'

/** A vertical line at `tMs` (run time) with its label. */
export interface TimeMark { tMs: number, kind: MarkKind, label: string }

/** A stretch of run time while a lasting fault was in force. */
export interface TimeBand { fromMs: number, toMs: number, label: string }

/** Names listed in a mark's label before it gives a count instead. */
const MAX_NAMED = 3

function nodesText (nodes: readonly number[]): string {
  return nodes.length <= MAX_NAMED ? nodes.map(nodeName).join(', ') : `${nodes.length} nodes`
}

function downVerbs (kind: DownKind): [string, string] {
  switch (kind) {
    case 'crash': return ['crash', 'restart']
    case 'vanish': return ['vanish', 'return']
    case 'left': return ['leave', 'rejoin']
    default: { const never: never = kind; return never }
  }
}

/** One mark per (time, verb): nodes hit by one action together share a line. */
function grouped (events: ReadonlyArray<{ tMs: number, kind: MarkKind, verb: string, node: number }>): TimeMark[] {
  const by = new Map<string, { tMs: number, kind: MarkKind, verb: string, nodes: number[] }>()
  for (const e of events) {
    const k = `${e.tMs} ${e.verb}`
    const g = by.get(k) ?? { tMs: e.tMs, kind: e.kind, verb: e.verb, nodes: [] }
    g.nodes.push(e.node)
    by.set(k, g)
  }
  return [...by.values()].map(g => ({ tMs: g.tMs, kind: g.kind, label: `${g.verb} ${nodesText([...g.nodes].sort((a, b) => a - b))}` }))
}

/** Marks and bands of every fault in `intent`, in time order; an open fault's band runs to `endMs`. */
export function faultMarks (intent: Report['intent'], nodes: number, endMs: number): { marks: TimeMark[], bands: TimeBand[] } {
  const nodeEvents: Array<{ tMs: number, kind: MarkKind, verb: string, node: number }> = []
  for (const d of intent.down) {
    const [down, up] = downVerbs(d.kind)
    nodeEvents.push({ tMs: d.fromMs, kind: 'fault', verb: down, node: d.node })
    if (d.toMs !== null) nodeEvents.push({ tMs: d.toMs, kind: 'recovery', verb: up, node: d.node })
  }
  const marks = grouped(nodeEvents)
  const bands: TimeBand[] = []
  for (const p of intent.partitions) {
    marks.push({ tMs: p.fromMs, kind: 'fault', label: `cut ${p.sides[0].length} | ${p.sides[1].length}` })
    if (p.toMs !== null) marks.push({ tMs: p.toMs, kind: 'recovery', label: 'heal' })
    bands.push({ fromMs: p.fromMs, toMs: p.toMs ?? endMs, label: 'partition' })
  }
  for (const l of intent.losses) {
    const where = l.nodes.length === nodes ? 'every node' : nodesText(l.nodes)
    marks.push({ tMs: l.fromMs, kind: 'fault', label: `${l.percent} % loss on ${where}` })
    // A loss replaced by another at the same time is a change, not an end.
    if (l.toMs !== null && !intent.losses.some(o => o.fromMs === l.toMs)) marks.push({ tMs: l.toMs, kind: 'recovery', label: 'loss off' })
    bands.push({ fromMs: l.fromMs, toMs: l.toMs ?? endMs, label: `${l.percent} % loss` })
  }
  for (const o of intent.outages) {
    marks.push({ tMs: o.fromMs, kind: 'fault', label: 'controller stop' })
    if (o.toMs !== null) marks.push({ tMs: o.toMs, kind: 'recovery', label: 'controller start' })
    bands.push({ fromMs: o.fromMs, toMs: o.toMs ?? endMs, label: 'controller down' })
  }
  marks.sort((a, b) => a.tMs - b.tMs)
  bands.sort((a, b) => a.fromMs - b.fromMs)
  return { marks, bands }
}

/** What every time-axis chart of `r` marks: its faults and the first full mesh. */
export function timeMarks (r: Report): { marks: TimeMark[], bands: TimeBand[] } {
  const f = faultMarks(r.intent, r.params.nodes, r.durationMs)
  const marks = [{ tMs: r.setup.fullMeshMs, kind: 'milestone' as const, label: 'full mesh' }, ...f.marks].sort((a, b) => a.tMs - b.tMs)
  return { marks, bands: f.bands }
}
