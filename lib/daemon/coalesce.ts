/**
 * Runs an async job on request, one run at a time: requests that arrive while it runs make exactly one more
 * run after it, however many there were. For work whose input is "the latest state", such as a reconcile.
 */
export class CoalescedJob {
  private running = false
  private again = false

  /** `run` resolves false to end a run of repeats early (nothing to do); it must not reject. */
  constructor (private readonly run: () => Promise<boolean>) {}

  /** Whether a run is under way. */
  get busy (): boolean { return this.running }

  /** Starts a run, or queues one more after the current run. */
  request (): void {
    if (this.running) { this.again = true; return }
    this.running = true
    void (async () => {
      do {
        this.again = false
        if (!await this.run()) break
      } while (this.again)
      this.running = false
    })()
  }
}
