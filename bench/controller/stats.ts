/**
 * Small statistics for bench figures: nearest-rank percentiles and medians over plain arrays.
 * Nearest rank (not interpolation) so every printed figure is a value that was actually measured.
 */

/** The p-th percentile (0 < p <= 100) of `values` by nearest rank; NaN for an empty array. Does not modify `values`. */
export function percentile (values: readonly number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

/** The median (p50 by nearest rank); NaN for an empty array. */
export function median (values: readonly number[]): number {
  return percentile(values, 50)
}

/** Largest value, or NaN for an empty array. */
export function max (values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => (b > a ? b : a), -Infinity)
}

/** Arithmetic mean, or NaN for an empty array. */
export function mean (values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length
}

/** Rounds to `digits` decimals for printing and JSON; keeps NaN as null so JSON stays valid. */
export function round (x: number, digits = 1): number | null {
  if (!Number.isFinite(x)) return null
  const f = 10 ** digits
  return Math.round(x * f) / f
}
