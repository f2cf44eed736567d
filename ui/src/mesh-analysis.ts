import type { MeshMatrix } from './api-types.js'

/** A matrix cell as the heatmap's value dimension: alive, suspect, dead, itself, no report. */
export const CELL_VALUES: Record<string, number> = { a: 0, s: 1, d: 2, '-': 3, '?': 4 }

/** Labels of the cell values, by value. */
export const CELL_LABELS = ['alive', 'suspect', 'dead', 'itself', 'no report'] as const

/** How many cells of the matrix hold `ch` (`d` for dead). */
export function countCells (rows: readonly string[], ch: string): number {
  let count = 0
  for (const row of rows) {
    for (let i = row.indexOf(ch); i >= 0; i = row.indexOf(ch, i + 1)) count++
  }
  return count
}

/** The heatmap's data: `[target, reporter, value]` for every cell but those holding `skip`, reporters as rows. */
export function heatmapData (rows: readonly string[], skip = ''): Array<[number, number, number]> {
  const data: Array<[number, number, number]> = []
  for (let y = 0; y < rows.length; y++) {
    const row = rows[y]!
    for (let x = 0; x < row.length; x++) {
      if (row[x] !== skip) data.push([x, y, CELL_VALUES[row[x]!] ?? 4])
    }
  }
  return data
}

/** What one cell says, in words: `web-3 holds db-5 dead`. */
export function cellSentence (rows: readonly string[], names: readonly string[], reporter: number, target: number): string {
  const c = rows[reporter]?.[target]
  const r = names[reporter] ?? '?'
  const t = names[target] ?? '?'
  if (c === '-') return `${r} (itself)`
  if (c === '?' || c === undefined) return `no fresh report from ${r} about ${t}`
  return `${r} holds ${t} ${CELL_LABELS[CELL_VALUES[c] ?? 4]}`
}

/** What the reporters that have a fresh report say about one target. */
export interface TargetView {
  /** The target's index in `nodes`. */
  index: number
  alive: number
  suspect: number
  dead: number
}

/** Counts, per target column, the reporters holding it alive, suspect and dead (itself and no report are left out). */
export function columnCounts (m: MeshMatrix): TargetView[] {
  const out = m.nodes.map((_, index) => ({ index, alive: 0, suspect: 0, dead: 0 }))
  for (const row of m.rows) {
    for (let x = 0; x < row.length && x < out.length; x++) {
      const c = row[x]
      const v = out[x]!
      if (c === 'a') v.alive++
      else if (c === 's') v.suspect++
      else if (c === 'd') v.dead++
    }
  }
  return out
}

/**
 * Half-broken nodes: some reporters hold them dead or suspect while others hold them alive, the pattern of a
 * one-sided link or a partial partition. Worst first (most dead, then most suspect).
 */
export function halfBroken (m: MeshMatrix): TargetView[] {
  return columnCounts(m)
    .filter((v) => v.alive > 0 && v.dead + v.suspect > 0)
    .sort((a, b) => b.dead - a.dead || b.suspect - a.suspect || a.index - b.index)
}
