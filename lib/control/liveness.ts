import type { Clock } from '../clock.js'
import type { NodeStatus, SwimReport } from '../wire/api.js'
import { fuseHealth, type HealthEvidence, type HealthVerdict } from './health.js'
import { DeadlineWheel } from './deadline-wheel.js'

/** Control-side facts and the last SWIM report of one node; in memory only. */
interface Evidence {
  lastSeenAt: number | null
  /** Evidence counts as fresh until at least this time even without a heartbeat (registration, controller start). */
  freshUntil: number
  streams: number
  closedAt: number | null
  /** When its update channels here went from none to one; null while none is open. */
  connectedSince: number | null
  /** The node's own SWIM incarnation, from its heartbeats. */
  incarnation: number
  left: boolean
  /** The report the fusion counts: from this node's heartbeats here, or (`remote`) from another controller's live key. */
  report: { at: number, suspect: Map<string, number>, dead: Map<string, number>, remote: boolean } | null
  /** Other controllers that hold this node (their live keys, etcd-session.ts), with the report each had. */
  holders: Map<string, SwimReport | null>
  verdict: HealthVerdict
}

/** Options of Liveness. Times in ms. */
export interface LivenessOptions {
  clock: Clock
  controlStaleMs: number
  streamGraceMs: number
  reportFreshMs: number
  /** Called whenever a node's fused health changes. */
  onVerdict: (id: string, from: HealthVerdict, to: HealthVerdict) => void
  /** Called with the number of new suspicions in a report (for the metric). */
  onSuspicions: (n: number) => void
  /** Called after this controller's own evidence of a node (heartbeat, channel, a deadline) was looked at again. */
  onLocal?: (id: string) => void
}

/**
 * Collects liveness evidence (heartbeats, update channels, SWIM reports) and re-fuses a node's health
 * whenever evidence about it changes: on heartbeat, on report, on channel open/close, and when a deadline
 * in the one timer table passes. Work per event is proportional to the nodes it can affect.
 */
export class Liveness {
  private readonly nodes = new Map<string, Evidence>()
  /** target id -> reporters whose last report lists it as suspect or dead. */
  private readonly reverse = new Map<string, Set<string>>()
  private readonly freshReporters = new Set<string>()
  /** The one deadline wheel; the owner calls `sweep()` from a timer on its clock. */
  readonly timers = new DeadlineWheel()

  constructor (private readonly o: LivenessOptions) {}

  /** Starts tracking `id`; its control evidence counts as fresh until `controlStaleMs` from now. */
  add (id: string, opts: { left: boolean, seen: boolean }): HealthVerdict {
    const now = this.o.clock.now()
    const e: Evidence = {
      lastSeenAt: opts.seen ? now : null,
      freshUntil: now + this.o.controlStaleMs,
      streams: 0,
      closedAt: null,
      connectedSince: null,
      incarnation: 0,
      left: opts.left,
      report: null,
      holders: new Map(),
      verdict: { health: 'online', reason: 'just registered' }
    }
    this.nodes.set(id, e)
    e.verdict = fuseHealth(this.evidence(id)!)
    this.arm(id)
    if (opts.seen) this.o.onLocal?.(id)
    return e.verdict
  }

  /** Stops tracking `id` (removed); its report no longer counts. */
  delete (id: string): void {
    const e = this.nodes.get(id)
    if (e === undefined) return
    this.setReport(id, e, null)
    this.nodes.delete(id)
    this.timers.delete(id)
    this.reverse.delete(id)
    this.refreshReporter(id)
  }

  /** The current verdict of `id`. */
  verdict (id: string): HealthVerdict | undefined { return this.nodes.get(id)?.verdict }

  /** Last heartbeat or registration, ms since epoch, or null. */
  lastSeen (id: string): number | null { return this.nodes.get(id)?.lastSeenAt ?? null }

  /** A heartbeat (or re-registration) arrived now, with an optional SWIM report. */
  heartbeat (id: string, report?: SwimReport): void {
    const e = this.nodes.get(id)
    if (e === undefined) return
    const now = this.o.clock.now()
    e.lastSeenAt = now
    e.freshUntil = now + this.o.controlStaleMs
    if (report !== undefined) {
      e.incarnation = report.incarnation
      this.setReport(id, e, reportOf(id, report, now, false))
    }
    this.refreshReporter(id)
    this.evaluate(id)
    this.arm(id)
    this.o.onLocal?.(id)
  }

  /**
   * Another controller holds `id` (`holds`), with the report it last had (null: none), or no longer does
   * (`holds` false): its live key came or went. While some controller holds a node, its control evidence is
   * fresh everywhere, and its report counts here as it would where it arrived.
   */
  remote (id: string, controller: string, holds: boolean, report: SwimReport | null): void {
    const e = this.nodes.get(id)
    if (e === undefined) return
    const now = this.o.clock.now()
    if (holds) e.holders.set(controller, report)
    else e.holders.delete(controller)
    const localReport = e.report !== null && !e.report.remote && now < e.report.at + this.o.reportFreshMs
    if (!localReport) {
      const held = [...e.holders.values()].find(r => r !== null) ?? null
      if (held !== null) e.incarnation = Math.max(e.incarnation, held.incarnation)
      this.setReport(id, e, held === null ? null : reportOf(id, held, now, true))
    }
    if (!holds && e.holders.size === 0) e.freshUntil = Math.max(e.freshUntil, Math.min(now + this.o.streamGraceMs, now + this.o.controlStaleMs))
    this.refreshReporter(id)
    this.evaluate(id)
    this.arm(id)
  }

  /**
   * Whether this controller itself hears from `id`, by the rule its own control evidence follows: a heartbeat
   * (or an update channel opening) within `controlStaleMs`, unless its channel closed more than
   * `streamGraceMs` ago. What its live key says (etcd-session.ts); the grace a start or a registration gives a
   * node here is not hearing from it.
   */
  holds (id: string): boolean {
    const e = this.nodes.get(id)
    if (e === undefined || e.lastSeenAt === null) return false
    const now = this.o.clock.now()
    return now < e.lastSeenAt + this.o.controlStaleMs && !this.channelGone(e, now)
  }

  /** Whether another controller holds `id` now (its live key is there). */
  heldElsewhere (id: string): boolean {
    return (this.nodes.get(id)?.holders.size ?? 0) > 0
  }

  /** `id`'s SWIM report as this controller had it from its heartbeats, while fresh; null otherwise. */
  localReport (id: string): SwimReport | null {
    const e = this.nodes.get(id)
    const r = e?.report
    if (e === undefined || r == null || r.remote || this.o.clock.now() >= r.at + this.o.reportFreshMs) return null
    const list = (m: Map<string, number>): Array<{ id: string, incarnation: number }> => [...m].map(([id, incarnation]) => ({ id, incarnation }))
    return { incarnation: e.incarnation, suspect: list(r.suspect), dead: list(r.dead) }
  }

  /** The number of open update channels of `id` changed to `open`. */
  streams (id: string, open: number): void {
    const e = this.nodes.get(id)
    if (e === undefined) return
    const now = this.o.clock.now()
    if (open > 0) {
      if (e.streams === 0) e.connectedSince = now
      e.closedAt = null
      e.lastSeenAt = now
      e.freshUntil = Math.max(e.freshUntil, now + this.o.controlStaleMs)
    } else if (e.streams > 0) {
      e.closedAt = now
      e.connectedSince = null
    }
    e.streams = open
    this.refreshReporter(id)
    this.evaluate(id)
    this.arm(id)
    this.o.onLocal?.(id)
  }

  /** Marks `id` as left (or back, after re-registration). */
  setLeft (id: string, left: boolean): void {
    const e = this.nodes.get(id)
    if (e === undefined) return
    e.left = left
    if (!left) e.freshUntil = Math.max(e.freshUntil, this.o.clock.now() + this.o.controlStaleMs)
    this.refreshReporter(id)
    this.evaluate(id)
  }

  /** Processes every deadline that has passed; returns how many nodes were re-evaluated. */
  sweep (): number {
    const due = this.timers.due(this.o.clock.now())
    for (const id of due) {
      this.refreshReporter(id)
      this.evaluate(id)
      this.arm(id)
      this.o.onLocal?.(id)
    }
    return due.length
  }

  /** The two halves of `id`'s fused health as `GET /v1/nodes` shows them (NodeStatus `control` and `mesh`). */
  halves (id: string): Pick<NodeStatus, 'control' | 'mesh'> | undefined {
    const e = this.nodes.get(id)
    const ev = this.evidence(id)
    if (e === undefined || ev === undefined) return undefined
    return {
      control: { fresh: ev.controlFresh, channelOpen: e.streams > 0 || e.holders.size > 0, connectedSince: e.connectedSince },
      mesh: { reporters: ev.reporters, alive: ev.reporters - ev.deadVotes - ev.suspectVotes, suspect: ev.suspectVotes, dead: ev.deadVotes }
    }
  }

  /**
   * What each of `ids` reports of each of them (MeshMatrix rows): `a`, `s` or `d` as its fresh SWIM report holds
   * the other (at or above that one's incarnation, as the fusion counts it), `-` for itself, `?` throughout when
   * its report or its control evidence is not fresh.
   */
  matrix (ids: readonly string[]): string[] {
    return ids.map(r => {
      const rep = this.nodes.get(r)?.report
      if (!this.freshReporters.has(r) || rep == null) return '?'.repeat(ids.length)
      let row = ''
      for (const t of ids) {
        const inc = this.nodes.get(t)?.incarnation ?? 0
        const d = rep.dead.get(t)
        const sus = rep.suspect.get(t)
        row += t === r ? '-' : d !== undefined && d >= inc ? 'd' : sus !== undefined && sus >= inc ? 's' : 'a'
      }
      return row
    })
  }

  /** The evidence the fusion sees for `id` right now. */
  evidence (id: string): HealthEvidence | undefined {
    const e = this.nodes.get(id)
    if (e === undefined) return undefined
    let deadVotes = 0
    let suspectVotes = 0
    for (const r of this.reverse.get(id) ?? []) {
      if (!this.freshReporters.has(r)) continue
      const rep = this.nodes.get(r)?.report
      const d = rep?.dead.get(id)
      if (d !== undefined && d >= e.incarnation) { deadVotes++; continue }
      const s = rep?.suspect.get(id)
      if (s !== undefined && s >= e.incarnation) suspectVotes++
    }
    const reporters = this.freshReporters.size - (this.freshReporters.has(id) ? 1 : 0)
    return { removed: false, left: e.left, controlFresh: this.controlFresh(e), reporters, deadVotes, suspectVotes }
  }

  private controlFresh (e: Evidence): boolean {
    if (e.holders.size > 0) return true
    const now = this.o.clock.now()
    return now < e.freshUntil && !this.channelGone(e, now)
  }

  /** Whether `e`'s last update channel here closed more than `streamGraceMs` ago, none having opened since. */
  private channelGone (e: Evidence, now: number): boolean {
    return e.streams === 0 && e.closedAt !== null && now >= e.closedAt + this.o.streamGraceMs
  }

  private evaluate (id: string): void {
    const e = this.nodes.get(id)
    const ev = this.evidence(id)
    if (e === undefined || ev === undefined) return
    const next = fuseHealth(ev)
    const prev = e.verdict
    e.verdict = next
    if (next.health !== prev.health) this.o.onVerdict(id, prev, next)
  }

  /** Re-checks whether `id` counts as a reporter; when that changes, re-fuses the nodes it can affect. */
  private refreshReporter (id: string): void {
    const e = this.nodes.get(id)
    const now = this.o.clock.now()
    const fresh = e !== undefined && !e.left && e.report !== null && (e.report.remote || now < e.report.at + this.o.reportFreshMs) && this.controlFresh(e)
    if (fresh === this.freshReporters.has(id)) return
    const before = this.freshReporters.size
    if (fresh) this.freshReporters.add(id); else this.freshReporters.delete(id)
    // Reporter counts of 0..2 decide offline vs control-lost for every node; above that only voted-on nodes can change.
    const targets = Math.min(before, this.freshReporters.size) <= 2 ? [...this.nodes.keys()] : [...this.reverse.keys()]
    for (const t of targets) if (t !== id) this.evaluate(t)
  }

  private setReport (id: string, e: Evidence, report: Evidence['report']): void {
    const old = e.report
    const touched = new Set<string>()
    if (old !== null) {
      for (const t of [...old.suspect.keys(), ...old.dead.keys()]) {
        touched.add(t)
        const set = this.reverse.get(t)
        set?.delete(id)
        if (set?.size === 0) this.reverse.delete(t)
      }
    }
    e.report = report
    if (report !== null) {
      let newSuspicions = 0
      for (const t of [...report.suspect.keys(), ...report.dead.keys()]) {
        if (!this.nodes.has(t)) continue
        touched.add(t)
        let set = this.reverse.get(t)
        if (set === undefined) { set = new Set(); this.reverse.set(t, set) }
        set.add(id)
      }
      for (const t of report.suspect.keys()) if (old?.suspect.has(t) !== true) newSuspicions++
      if (newSuspicions > 0) this.o.onSuspicions(newSuspicions)
    }
    for (const t of touched) this.evaluate(t)
  }

  /** Arms the next deadline of `id`: control going stale, its channel grace ending, or its report expiring. */
  private arm (id: string): void {
    const e = this.nodes.get(id)
    if (e === undefined) return
    const now = this.o.clock.now()
    const candidates = [e.freshUntil]
    if (e.streams === 0 && e.closedAt !== null) candidates.push(e.closedAt + this.o.streamGraceMs)
    if (e.report !== null && !e.report.remote) candidates.push(e.report.at + this.o.reportFreshMs)
    if (e.lastSeenAt !== null) candidates.push(e.lastSeenAt + this.o.controlStaleMs)
    const future = candidates.filter(t => t > now)
    if (future.length === 0) this.timers.delete(id); else this.timers.set(id, Math.min(...future))
  }
}

/** A heartbeat's or a live key's report as the fusion keeps it, without the node itself. */
function reportOf (id: string, r: SwimReport, at: number, remote: boolean): NonNullable<Evidence['report']> {
  return {
    at,
    suspect: new Map(r.suspect.filter(s => s.id !== id).map(s => [s.id, s.incarnation])),
    dead: new Map(r.dead.filter(s => s.id !== id).map(s => [s.id, s.incarnation])),
    remote
  }
}
