import type { History } from './api-types.js'
import { compareNames, nodeName } from './format.js'
import { HEALTHS, healthRank } from './health.js'

/** One bar: a node's health over `[start, end)`. */
export interface Bar {
  /** The node's row (0 is the top). */
  row: number
  start: number
  end: number
  health: string
  reason: string
}

/** The uptime chart's rows and bars. */
export interface Bars {
  names: string[]
  bars: Bar[]
}

/**
 * Turns `GET /v1/history` into bars: one row per node sorted by name, each change lasting until the next one (the
 * last until `to`), clipped to `[from, to]`. A first change before `from` says what the node was at `from`.
 */
export function historyBars (h: History): Bars {
  const nodes = [...h.nodes].sort((a, b) => compareNames(nodeName(a), nodeName(b)))
  const bars: Bar[] = []
  nodes.forEach((n, row) => {
    for (let i = 0; i < n.changes.length; i++) {
      const c = n.changes[i]!
      const start = Math.max(c.at, h.from)
      const end = Math.min(n.changes[i + 1]?.at ?? h.to, h.to)
      if (end > start) bars.push({ row, start, end, health: c.health, reason: c.reason })
    }
  })
  return { names: nodes.map(nodeName), bars }
}

/** The series value of a bar: `[start, end, health rank, row]`; the rank indexes HEALTHS. */
export function barValue (b: Bar): [number, number, number, number] {
  return [b.start, b.end, Math.min(healthRank(b.health), HEALTHS.length), b.row]
}
