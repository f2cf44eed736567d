import type { Clock, Timer } from '../clock.js'
import type { NodeRecord } from '../wire/netmap.js'
import type { ControlHint, MemberInfo } from '../swim/types.js'
import { DataPlaneWatch } from './dataplane-watch.js'
import { controlHint } from './membership.js'

/**
 * Default period of the data-plane probes while some member is suspect: the `mesh` preset's probe interval.
 * Several probes fit in the shortest suspicion (4 probe intervals at least); slower presets probe at their own
 * probe interval (EvidenceOptions.periodMs).
 */
export const WATCH_PERIOD_MS = 200

/** What Evidence needs from the daemon. */
export interface EvidenceOptions {
  swim: { members (): MemberInfo[], setControlHint (now: number, id: string, hint: ControlHint): void }
  clock: Clock
  selfId: string
  /** The current netmap's nodes. */
  nodes: () => readonly NodeRecord[]
  /** One node of the current netmap by id (the daemon keeps them indexed). */
  node: (id: string) => NodeRecord | undefined
  /** Whether our update channel to the controller is open (its health reports are current). */
  linkUp: () => boolean
  /** Drains SWIM's outputs after hints changed. */
  pump: () => void
  /** Probe period while some member is suspect. Default: WATCH_PERIOD_MS; the daemon passes its SWIM probe interval. */
  periodMs?: number
}

/**
 * Gives SWIM the best outside evidence about each member (docs/daemon-swim.md, "Evidence from outside SWIM"):
 * a data plane that still answers (the member is suspect but its tunnel replies) beats everything; otherwise
 * the controller's fused health while our link to it is up; otherwise nothing.
 *
 * While any member is suspect it probes each suspect's data plane every WATCH_PERIOD_MS, the first time at
 * once: the evidence must be in before the shortest suspicion (about a second at small N) expires. An answer
 * updates the hints as it arrives.
 */
export class Evidence {
  private readonly watch: DataPlaneWatch
  private readonly hints = new Map<string, ControlHint>()
  /** The members being probed, by mesh IP (set each tick). */
  private probed = new Map<string, NodeRecord>()
  private timer: Timer | null = null
  private stopped = false

  constructor (private readonly o: EvidenceOptions) {
    this.watch = new DataPlaneWatch(o.clock, meshIp => this.onAnswer(meshIp))
  }

  /** Probes leave from the mesh IP, through the WireGuard interface. */
  start (meshIp: string): void {
    this.watch.start(meshIp)
  }

  stop (): void {
    this.stopped = true
    this.timer?.cancel()
    this.timer = null
    this.watch.stop()
  }

  /** Recomputes every member's hint and tells SWIM about the ones that changed. */
  refresh (now = this.o.clock.now()): void {
    const linkUp = this.o.linkUp()
    for (const n of this.o.nodes()) {
      if (n.id !== this.o.selfId) this.update(n, now, linkUp)
    }
    this.o.pump()
  }

  /** A probed member answered: its hint turns fresh now, not at the next tick (only its own; O(1)). */
  private onAnswer (meshIp: string): void {
    const n = this.probed.get(meshIp)
    if (this.stopped || n === undefined) return
    this.update(n, this.o.clock.now(), this.o.linkUp())
    this.o.pump()
  }

  private update (n: NodeRecord, now: number, linkUp: boolean): void {
    const hint: ControlHint = this.watch.fresh(n.meshIp) ? 'fresh' : linkUp ? controlHint(n) : null
    if (this.hints.get(n.id) === hint) return
    this.hints.set(n.id, hint)
    this.o.swim.setControlHint(now, n.id, hint)
  }

  /** A member just turned suspect: start watching the data plane at once. */
  onSuspect (): void {
    this.schedule(0)
  }

  private schedule (delayMs = this.o.periodMs ?? WATCH_PERIOD_MS): void {
    if (this.timer !== null || this.stopped) return
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null
      this.tick()
    }, delayMs)
  }

  private tick (): void {
    if (this.stopped) return
    const suspects = this.o.swim.members().filter(m => m.state === 'suspect')
    this.probed = new Map()
    for (const m of suspects) {
      const n = this.o.node(m.id)
      if (n === undefined) continue
      this.probed.set(n.meshIp, n)
      this.watch.provoke(n.meshIp)
    }
    this.watch.retain(new Set(this.probed.keys()))
    this.refresh()
    if (this.probed.size > 0) this.schedule()
  }
}
