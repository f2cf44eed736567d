import type { Clock } from '../clock.js'
import type { Logger } from '../log.js'
import type { DaemonConfig } from './config.js'
import { Daemon } from './daemon.js'

/**
 * Runs the daemon for `weft daemon`: starts it, and starts it again in the same process when it stops to
 * run on a new identity (it registered again after the controller lost its record; docs/daemon.md). The
 * WireGuard interface and its peers stay up across that restart, as across any daemon restart.
 */
export class DaemonRunner {
  private stopping = false
  /** Settles when the runner is over: `stopped` (stop()), `left` (weft leave), or a failed restart (rejects). */
  readonly done: Promise<'stopped' | 'left'>

  private constructor (
    private current: Daemon, private readonly cfg: DaemonConfig, private readonly deps: { clock: Clock, log: Logger, agentVersion: string }
  ) {
    this.done = this.loop()
  }

  /**
   * Starts the first daemon; rejects as Daemon.start does (a failed check, a refused join, a removed node), and
   * when `signal` aborts before it runs.
   */
  static async start (cfg: DaemonConfig, deps: { clock: Clock, log: Logger, agentVersion: string }, signal?: AbortSignal): Promise<DaemonRunner> {
    return new DaemonRunner(await Daemon.start(cfg, deps, signal), cfg, deps)
  }

  /** The daemon running now. */
  get daemon (): Daemon { return this.current }

  /** Stops the running daemon (the interface stays up) and ends the runner. */
  async stop (): Promise<void> {
    this.stopping = true
    await this.current.stop({ teardown: false })
    await this.done
  }

  private async loop (): Promise<'stopped' | 'left'> {
    for (;;) {
      const how = await this.current.stopped()
      if (how !== 'restart' || this.stopping) return how === 'left' ? 'left' : 'stopped'
      this.deps.log.info({ event: 'daemon.restart' }, 'starting again on the new identity')
      this.current = await Daemon.start(this.cfg, this.deps)
      if (this.stopping) await this.current.stop({ teardown: false })
    }
  }
}
