import type { Clock } from '../clock.js'
import type { NodeRecord } from '../wire/netmap.js'
import type { ControlHint, MemberInfo } from '../swim/types.js'
import { DataPlaneWatch } from './dataplane-watch.js'
import { controlHint } from './membership.js'
import type { WireGuardDevice } from './wg/device.js'

/**
 * Default period of the data-plane watch while some member is suspect: the `mesh` preset's probe interval.
 * Several samples fit in the shortest suspicion (4 probe intervals at least), and each one reads the whole
 * device, so slower presets watch at their own probe interval (EvidenceOptions.periodMs).
 */
export const WATCH_PERIOD_MS = 200

/** What Evidence needs from the daemon. */
export interface EvidenceOptions {
  swim: { members (): MemberInfo[], setControlHint (now: number, id: string, hint: ControlHint): void }
  device: WireGuardDevice
  clock: Clock
  selfId: string
  /** The current netmap's nodes. */
  nodes: () => readonly NodeRecord[]
  /** Whether our update channel to the controller is open (its health reports are current). */
  linkUp: () => boolean
  /** Drains SWIM's outputs after hints changed. */
  pump: () => void
  /** Watch period while some member is suspect. Default: WATCH_PERIOD_MS; the daemon passes its SWIM probe interval. */
  periodMs?: number
}

/**
 * Gives SWIM the best outside evidence about each member (docs/daemon.md, "Evidence from outside SWIM"):
 * a data plane that still answers (the member is suspect but its tunnel replies) beats everything; otherwise
 * the controller's fused health while our link to it is up; otherwise nothing.
 *
 * While any member is suspect it samples WireGuard rx counters and probes the suspects' data plane every
 * WATCH_PERIOD_MS. The first sample is taken at once, so the baseline exists before the probe's answer
 * arrives: the evidence must be in before the shortest suspicion (about a second at small N) expires.
 */
export class Evidence {
  private readonly watch = new DataPlaneWatch()
  private readonly hints = new Map<string, ControlHint>()
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor (private readonly o: EvidenceOptions) {}

  /** Binds the probe socket to the mesh IP. */
  async start (meshIp: string): Promise<void> {
    await this.watch.start(meshIp)
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.watch.stop()
  }

  /** Recomputes every member's hint and tells SWIM about the ones that changed. */
  refresh (now = this.o.clock.now()): void {
    const linkUp = this.o.linkUp()
    for (const n of this.o.nodes()) {
      if (n.id === this.o.selfId) continue
      const hint: ControlHint = this.watch.fresh(n.publicKey, now) ? 'fresh' : linkUp ? controlHint(n) : null
      if (this.hints.get(n.id) === hint) continue
      this.hints.set(n.id, hint)
      this.o.swim.setControlHint(now, n.id, hint)
    }
    this.o.pump()
  }

  /** A member just turned suspect: start watching the data plane at once. */
  onSuspect (): void {
    this.schedule(0)
  }

  private schedule (delayMs = this.o.periodMs ?? WATCH_PERIOD_MS): void {
    if (this.timer !== undefined || this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.tick()
    }, delayMs)
  }

  private async tick (): Promise<void> {
    const suspects = this.o.swim.members().filter(m => m.state === 'suspect')
    if (suspects.length === 0 || this.stopped) return
    try {
      const peers = (await this.o.device.get()).peers
      this.watch.observe(this.o.clock.now(), peers)
      this.watch.retain(new Set(peers.map(p => p.publicKey)))
      this.refresh()
      const byId = new Map(this.o.nodes().map(n => [n.id, n]))
      for (const m of suspects) { const n = byId.get(m.id); if (n !== undefined) this.watch.provoke(n.meshIp) }
    } catch { /* the device is unreadable: no evidence either way this tick */ }
    this.schedule()
  }
}
