import type { Logger } from '../log.js'
import { MAX_INCARNATION } from '../swim/incarnation.js'

/**
 * How far ahead of the incarnation being signed the saved bound is set: one synced write per 1024
 * refutations, not per refutation, so a member flooding us with claims at our incarnation costs a write per
 * 1024 packets; a restart skips at most 1024 numbers of a 2^48 range.
 */
export const LEASE_STEP = 1024

/**
 * Keeps the saved incarnation bound (StateDir.reserveIncarnation) above every incarnation this node signs.
 * Peers only believe claims about us at incarnations we signed, and we ignore claims above our own, so a
 * restart that started below a signed incarnation would never refute the deaths others hold at it.
 */
export class IncarnationLease {
  private failed = false

  /** `bound` is the bound saved by the previous run (null when none). */
  constructor (private readonly o: { bound: number | null, save: (bound: number) => void, log: Logger }) {}

  /** Saves a new bound before `incarnation` is signed, when the saved one does not cover it. Never throws. */
  cover (incarnation: number): void {
    if (this.o.bound !== null && incarnation <= this.o.bound) return
    const next = Math.min(MAX_INCARNATION, incarnation + LEASE_STEP)
    try {
      this.o.save(next)
      this.o.bound = next
      this.failed = false
    } catch (err) {
      // SWIM must go on; a restart then falls back on the wall clock (restartIncarnation).
      if (!this.failed) {
        this.o.log.error({ event: 'state.save.failed', reason: (err as Error).message, incarnation },
          'cannot save the SWIM incarnation bound; a restart may start below it')
      }
      this.failed = true
    }
  }
}
