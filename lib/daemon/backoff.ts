/**
 * Exponential backoff with full jitter for reconnecting to the controller: after the k-th consecutive failure
 * wait a uniform random time in [0, min(maxMs, baseMs * 2^k)]. Full jitter spreads a fleet's reconnects after a
 * controller restart instead of having every daemon knock at the same instant.
 */
export class Backoff {
  private failures = 0

  /**
   * @param baseMs first ceiling. Default: 500 ms — a controller blip heals before anyone notices.
   * @param maxMs largest ceiling. Default: 30 s — bounds the wait after a long outage; 10k daemons at 30 s
   *   average 333 reconnects/s, well within one controller.
   * @param random source of uniform [0,1) numbers, injected for tests.
   */
  constructor (private readonly baseMs = 500, private readonly maxMs = 30_000, private readonly random: () => number = Math.random) {}

  /** The delay before the next attempt; counts one more failure. */
  next (): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.failures, 30))
    this.failures++
    return Math.floor(this.random() * ceiling)
  }

  /** Call after a success: the next failure starts from the base again. */
  reset (): void { this.failures = 0 }

  /** Consecutive failures so far. */
  get attempts (): number { return this.failures }
}
