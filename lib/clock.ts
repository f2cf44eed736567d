/**
 * The one clock: wall time and timers, injected so tests and the simulator control both. Nothing else in lib/
 * calls `Date.now`, `setTimeout` or `setInterval`; a module that waits takes a `Clock` and asks it.
 */

/** A scheduled callback. `cancel` is idempotent and safe after the callback ran. */
export interface Timer {
  cancel(): void
}

/** Options for a timer of the real clock. */
export interface TimerOptions {
  /** The timer does not keep the process alive (Node's `unref`). Default: false. */
  unref?: boolean
}

/** Wall-clock milliseconds and the timers that run on them. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number
  /**
   * Milliseconds from an arbitrary origin that never step back when the wall clock is set, and advance at the
   * pace of this clock's timers: for pacing and intervals (how long since X), never for timestamps.
   */
  monotonic(): number
  /** Runs `fn` once, `ms` (at least 0) from now. */
  setTimeout(fn: () => void, ms: number, opts?: TimerOptions): Timer
  /** Runs `fn` every `ms` (at least 1) until cancelled; the first run is `ms` from now. */
  setInterval(fn: () => void, ms: number, opts?: TimerOptions): Timer
  /** Resolves `ms` from now, or at once when `signal` aborts (never rejects). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

function sleepOn (clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    if (signal?.aborted === true) { resolve(); return }
    const done = (): void => { timer.cancel(); signal?.removeEventListener('abort', done); resolve() }
    const timer = clock.setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/** The real clock: `Date.now` and Node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout (fn, ms, opts) {
    const t = setTimeout(fn, Math.max(0, ms))
    if (opts?.unref === true) t.unref()
    return { cancel: () => clearTimeout(t) }
  },
  setInterval (fn, ms, opts) {
    const t = setInterval(fn, Math.max(1, ms))
    if (opts?.unref === true) t.unref()
    return { cancel: () => clearInterval(t) }
  },
  sleep (ms, signal) { return sleepOn(systemClock, ms, signal) }
}

interface Pending { at: number, seq: number, fn: () => void, everyMs: number | null, live: boolean }

/**
 * A clock that moves only when told to, and fires its timers as it passes their deadlines, in deadline order
 * (ties in the order they were set), with `now()` equal to each timer's deadline while it runs. For tests.
 */
export class ManualClock implements Clock {
  private readonly pending: Pending[] = []
  private seq = 0
  /** Monotonic time: moves with every step forward of `t`, and not when `set` moves `t` back. */
  private mono = 0

  constructor (private t = 1_700_000_000_000) {}

  now (): number { return this.t }

  monotonic (): number { return this.mono }

  setTimeout (fn: () => void, ms: number): Timer {
    return this.add(fn, Math.max(0, ms), null)
  }

  setInterval (fn: () => void, ms: number): Timer {
    const every = Math.max(1, ms)
    return this.add(fn, every, every)
  }

  sleep (ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal)
  }

  /** Timers set and not yet fired or cancelled. */
  get timers (): number {
    return this.pending.filter(p => p.live).length
  }

  /** The earliest deadline of a live timer, or undefined when none is set. */
  nextAt (): number | undefined {
    this.prune()
    return this.pending[0]?.at
  }

  /** Moves time forward by `ms`, firing every timer whose deadline it passes (timers a callback sets too). */
  advance (ms: number): void {
    this.runUntil(this.t + ms)
  }

  /** Moves time to `t` (not backwards past a timer: timers due at or before `t` fire first). */
  set (t: number): void {
    if (t >= this.t) this.runUntil(t)
    else this.t = t
  }

  private moveTo (t: number): void {
    if (t > this.t) this.mono += t - this.t
    this.t = t
  }

  /**
   * Like `advance`, letting promise continuations run after each timer: for code that awaits `sleep` or does
   * async work between timers. Resolves once time is `this.now() + ms` and no microtask is left.
   */
  async advanceAsync (ms: number): Promise<void> {
    const until = this.t + ms
    await flush()
    for (;;) {
      const at = this.nextAt()
      if (at === undefined || at > until) break
      this.fireNext()
      await flush()
    }
    this.moveTo(until)
    await flush()
  }

  private add (fn: () => void, ms: number, everyMs: number | null): Timer {
    const p: Pending = { at: this.t + ms, seq: this.seq++, fn, everyMs, live: true }
    this.insert(p)
    return { cancel: () => { p.live = false } }
  }

  private insert (p: Pending): void {
    let i = this.pending.length
    while (i > 0 && (this.pending[i - 1]!.at > p.at || (this.pending[i - 1]!.at === p.at && this.pending[i - 1]!.seq > p.seq))) i--
    this.pending.splice(i, 0, p)
  }

  private prune (): void {
    while (this.pending.length > 0 && !this.pending[0]!.live) this.pending.shift()
  }

  private runUntil (until: number): void {
    for (;;) {
      const at = this.nextAt()
      if (at === undefined || at > until) break
      this.fireNext()
    }
    this.moveTo(until)
  }

  private fireNext (): void {
    const p = this.pending.shift()!
    this.moveTo(Math.max(this.t, p.at))
    if (p.everyMs !== null) {
      p.at += p.everyMs
      p.seq = this.seq++
      this.insert(p)
    } else {
      p.live = false
    }
    p.fn()
  }
}

/** Lets every queued promise continuation run (a macrotask turn). */
function flush (): Promise<void> {
  return new Promise(resolve => setImmediate(resolve))
}
