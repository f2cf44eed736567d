/** Small pure helpers for the simulator's report. */

/** The q-quantile (0..1) of `xs` by nearest rank; undefined for an empty list. */
export function quantile (xs: readonly number[], q: number): number | undefined {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil(q * s.length))
  return s[Math.min(s.length, rank) - 1]
}

/** p50, p99 and max of `xs` in ms, or nulls when empty. */
export interface Spread { p50: number | null, p99: number | null, max: number | null, count: number }

/** Summarises a list of durations. */
export function spread (xs: readonly number[]): Spread {
  return {
    p50: quantile(xs, 0.5) ?? null,
    p99: quantile(xs, 0.99) ?? null,
    max: xs.length === 0 ? null : Math.max(...xs),
    count: xs.length
  }
}
