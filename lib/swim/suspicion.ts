import { suspicionTimeoutMs } from './math.js'

/** Confirmer id used for the controller's 'stale' hint; cannot collide with a node id (ids never start with '@'). */
export const CONTROLLER_CONFIRMER = '@controller'

/**
 * One live suspicion of one member: when it started, who has independently suspected it, and so when it
 * expires. It only computes deadlines; the core owns the timer table and acts on expiry.
 */
export class Suspicion {
  private readonly confirmers = new Set<string>()
  /** When true (controller hint 'fresh'), confirmations do not shorten the timeout: it stays at maxMs. */
  holdMax = false
  /**
   * Set when the suspicion ran out and the core made its last call (a direct ping carrying the suspicion): the
   * member is declared dead only after this, whatever confirmations arrive meanwhile.
   */
  lastCallEndsMs: number | undefined = undefined

  /**
   * `from` is the first suspector (not counted as a confirmation), `k` the expected confirmations,
   * `minMs`/`maxMs` the Lifeguard bounds for the current membership size.
   */
  constructor (
    readonly startMs: number,
    readonly from: string,
    readonly k: number,
    readonly minMs: number,
    readonly maxMs: number
  ) {
    this.confirmers.add(from)
  }

  /** Independent confirmations so far (distinct suspectors other than the first). */
  get confirmations (): number { return this.confirmers.size - 1 }

  /** Records a suspector; true when it is new (the timeout shrank), false for a repeat or once k is reached. */
  confirm (from: string): boolean {
    if (this.confirmations >= this.k || this.confirmers.has(from)) return false
    this.confirmers.add(from)
    return true
  }

  /** Absolute time at which the suspicion runs out (then the last call, if not made yet). */
  deadlineMs (): number {
    const timeout = this.holdMax ? this.maxMs : suspicionTimeoutMs(this.confirmations, this.k, this.minMs, this.maxMs)
    return Math.max(this.startMs + timeout, this.lastCallEndsMs ?? -Infinity)
  }

  /** Time left at `nowMs` (negative when overdue). */
  remainingMs (nowMs: number): number {
    return this.deadlineMs() - nowMs
  }
}
