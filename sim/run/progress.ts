/**
 * A progress display for `weft sim run` on stderr: on a terminal one line redrawn in place (a bar for steps
 * with a known total, the phase name and elapsed time); otherwise one line per phase and per quarter of a
 * step count, so CI logs stay short.
 */

/** Where progress goes; `isTTY` decides between the redrawn line and plain lines. */
export interface ProgressSink { write (s: string): unknown, isTTY?: boolean }

/** Progress of one run. */
export class Progress {
  private phaseName = ''
  private phaseStart = 0
  private lastQuarter = -1
  private live = false

  constructor (private readonly out: ProgressSink, private readonly now: () => number = Date.now) {}

  /** Starts a new phase (ends the previous line). */
  phase (name: string): void {
    this.endLine()
    this.phaseName = name
    this.phaseStart = this.now()
    this.lastQuarter = -1
    if (this.out.isTTY === true) this.draw(name)
    else this.out.write(`[sim] ${name}\n`)
  }

  /** Reports `done` of `total` steps in the current phase. */
  step (done: number, total: number, what = ''): void {
    const frac = total <= 0 ? 1 : Math.min(1, done / total)
    if (this.out.isTTY === true) {
      const width = 24
      const full = Math.round(frac * width)
      this.draw(`${this.phaseName} [${'#'.repeat(full)}${'-'.repeat(width - full)}] ${done}/${total} ${what}`)
      return
    }
    const q = Math.floor(frac * 4)
    if (q > this.lastQuarter) {
      this.lastQuarter = q
      this.out.write(`[sim]   ${this.phaseName}: ${done}/${total} ${what}\n`)
    }
  }

  /** A one-off message on a line of its own. */
  note (text: string): void {
    this.endLine()
    this.out.write(`[sim] ${text}\n`)
  }

  /** Ends the redrawn line, if any. */
  endLine (): void {
    if (this.live) this.out.write('\n')
    this.live = false
  }

  private draw (text: string): void {
    const secs = ((this.now() - this.phaseStart) / 1000).toFixed(1)
    this.out.write(`\r\x1b[2K[sim] ${text} (${secs}s)`)
    this.live = true
  }
}
