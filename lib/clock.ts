/** Wall-clock milliseconds, injected so tests and the simulator control time. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() }

/** A clock that only moves when told to; for tests. */
export class ManualClock implements Clock {
  constructor (private t = 1_700_000_000_000) {}
  now (): number { return this.t }
  /** Moves time forward by `ms`. */
  advance (ms: number): void { this.t += ms }
  set (t: number): void { this.t = t }
}
