/**
 * Incarnation numbers: one width everywhere they travel or rest (SWIM packets, underlay announcements, the
 * controller's reports, the daemon's state dir). Only a member raises its own incarnation, by refuting a
 * claim at its current one or by restarting, and every value it announces is signed (claims.ts).
 */

/**
 * Largest incarnation anything accepts (2^48). Far above any real one (a restart starts at the wall-clock
 * second, about 2^31 today, and each refutation adds one), and `+ 1` stays an exact integer. Decoders drop
 * anything larger as malformed.
 */
export const MAX_INCARNATION = 2 ** 48

/** True for an integer in 0..MAX_INCARNATION. */
export function isIncarnation (x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= MAX_INCARNATION
}

/**
 * The incarnation a restarting daemon starts with: above `reserved`, the bound it persisted before signing
 * anything (so its alive claim beats every claim others hold about it, none of which can be above what it
 * signed), and at least the wall-clock second, so a node that lost its saved bound still starts above what it
 * said before as long as it refuted less than once a second on average.
 */
export function restartIncarnation (reserved: number | null, wallClockMs: number): number {
  return Math.min(MAX_INCARNATION, Math.max(reserved === null ? 0 : reserved + 1, Math.floor(wallClockMs / 1000)))
}
