import { failedProbeHealthDelta, nextHealthScore, scaleByHealth } from './math.js'

/**
 * Lifeguard's local health multiplier (LHM). A node that misses acks, has to refute suspicions about
 * itself, or wakes up late for its own deadlines is more likely slow than surrounded by dead peers, so it
 * stretches its own probe interval and timeouts instead of accusing others. Score 0 is healthy; timeouts scale by score + 1.
 */
export class LocalHealth {
  private value = 0

  /** `max` is SwimConfig.awarenessMaxMultiplier. */
  constructor (private readonly max: number) {}

  /** The current score, 0..max-1. */
  get score (): number { return this.value }

  /** A probe was acked (directly or through a relay): one step healthier. */
  probeSucceeded (): void { this.value = nextHealthScore(this.value, -1, this.max) }

  /** A probe failed; relays that did not even nack count against us. */
  probeFailed (expectedNacks: number, nacksReceived: number): void {
    this.value = nextHealthScore(this.value, failedProbeHealthDelta(expectedNacks, nacksReceived), this.max)
  }

  /** Our own timer fired a probe timeout or more late: we are the slow one. */
  lateWakeup (): void { this.value = nextHealthScore(this.value, 1, this.max) }

  /** Someone suspected us and we had to refute: we were too slow to answer. */
  refuted (): void { this.value = nextHealthScore(this.value, 1, this.max) }

  /** `ms` stretched by the current score. */
  scale (ms: number): number { return scaleByHealth(ms, this.value) }
}
