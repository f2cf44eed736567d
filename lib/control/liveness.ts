import type { Clock } from '../clock.js'
import type { SwimReport } from '../wire/api.js'
import { fuseHealth, type HealthEvidence, type HealthVerdict } from './health.js'
import { DeadlineWheel } from './deadline-wheel.js'

/** Control-side facts and the last SWIM report of one node; in memory only. */
interface Evidence {
  lastSeenAt: number | null
  /** Evidence counts as fresh until at least this time even without a heartbeat (registration, controller start). */
  freshUntil: number
  streams: number
  closedAt: number | null
  /** The node's own SWIM incarnation, from its heartbeats. */
  incarnation: number
  left: boolean
  report: { at: number, suspect: Map<string, number>, dead: Map<string, number> } | null
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
      incarnation: 0,
      left: opts.left,
      report: null,
      verdict: { health: 'online', reason: 'just registered' }
    }
    this.nodes.set(id, e)
    e.verdict = fuseHealth(this.evidence(id)!)
    this.arm(id)
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
      this.setReport(id, e, {
        at: now,
        suspect: new Map(report.suspect.filter(s => s.id !== id).map(s => [s.id, s.incarnation])),
        dead: new Map(report.dead.filter(s => s.id !== id).map(s => [s.id, s.incarnation]))
      })
    }
    this.refreshReporter(id)
    this.evaluate(id)
    this.arm(id)
  }

  /** The number of open update channels of `id` changed to `open`. */
  streams (id: string, open: number): void {
    const e = this.nodes.get(id)
    if (e === undefined) return
    const now = this.o.clock.now()
    if (open > 0) {
      e.closedAt = null
      e.lastSeenAt = now
      e.freshUntil = Math.max(e.freshUntil, now + this.o.controlStaleMs)
    } else if (e.streams > 0) {
      e.closedAt = now
    }
    e.streams = open
    this.refreshReporter(id)
    this.evaluate(id)
    this.arm(id)
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
    }
    return due.length
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
    const now = this.o.clock.now()
    if (now >= e.freshUntil) return false
    return !(e.streams === 0 && e.closedAt !== null && now >= e.closedAt + this.o.streamGraceMs)
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
    const fresh = e !== undefined && !e.left && e.report !== null && now < e.report.at + this.o.reportFreshMs && this.controlFresh(e)
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
    if (e.report !== null) candidates.push(e.report.at + this.o.reportFreshMs)
    const future = candidates.filter(t => t > now)
    if (future.length === 0) this.timers.delete(id); else this.timers.set(id, Math.min(...future))
  }
}
