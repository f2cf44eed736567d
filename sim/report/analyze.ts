/**
 * Turns what was observed from outside (UAPI peer histories) and what was done (the Intent) into figures:
 * per event, how long until the first and the last live node removed (or added) the peer; false removals;
 * per-node health. Pure functions over the recorded data.
 */
import type { Intent } from '../run/intent.js'
import type { PeerObserver } from '../run/observer.js'
import { isRemoval, type Measure, type MeasureKind } from '../run/measure.js'

/** Distribution summary in ms (null fields when there are no values). */
export interface Stats { count: number, p50: number | null, p90: number | null, p99: number | null, max: number | null, mean: number | null }

/** Nearest-rank percentiles of `values`. */
export function stats (values: readonly number[]): Stats {
  const v = [...values].sort((a, b) => a - b)
  const at = (q: number): number | null => v.length === 0 ? null : v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))]!
  return {
    count: v.length,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: v.length === 0 ? null : v[v.length - 1]!,
    mean: v.length === 0 ? null : Math.round(v.reduce((a, b) => a + b, 0) / v.length)
  }
}

/** One measured event's outcome. */
export interface EventResult {
  kind: MeasureKind
  target: number
  fromMs: number
  /** Observers that were live through the event (the ones that should react). */
  observers: number
  /** ms until the first / the last of them reacted; null when none / not all did. */
  firstMs: number | null
  lastMs: number | null
  /** Observers that never reacted before the event's window closed. */
  missed: number
  /** Per-observer reaction times in ms. */
  timesMs: number[]
}

/** Aggregate per event kind. */
export interface KindSummary {
  kind: MeasureKind
  expect: 'removed' | 'added'
  events: number
  observers: number
  /** Time until the first live node reacted, per event. */
  first: Stats
  /** Time until every live node reacted ("removed everywhere" / "added everywhere"), per event that completed. */
  last: Stats
  /** Every observer's reaction time. */
  all: Stats
  missed: number
}

/** Times each measure against the observer's history; an event's window closes at the target's next opposite event or at `endMs`. */
export function timeEvents (measures: readonly Measure[], observer: PeerObserver, intent: Intent, endMs: number): EventResult[] {
  return measures.map(m => {
    const key = m.key ?? observer.keyOf.get(m.target)
    const next = measures.find(o => o.target === m.target && o.fromMs > m.fromMs && isRemoval(o.kind) !== isRemoval(m.kind))
    const untilMs = next?.fromMs ?? endMs
    const times: number[] = []
    let missed = 0
    let counted = 0
    for (const obs of m.observers) {
      const from = m.fromByObserver?.[obs] ?? m.fromMs
      const present = m.expect === 'added'
      if (key === undefined) { counted++; missed++; continue }
      // Already in the expected state when the event began: for an addition it counts as 0 ms; for a removal
      // the observer never had the peer, so it has nothing to remove and is left out.
      if (observer.presentAt(obs, key, from) === present) {
        if (present) { counted++; times.push(0) }
        continue
      }
      const t = observer.firstAfter(obs, key, from, present)
      const reacted = t !== null && t <= untilMs
      // An observer that itself went down before reacting is not a live node for this event.
      if (intent.downDuring(obs, from, reacted ? t : untilMs)) continue
      counted++
      if (reacted) times.push(t - from)
      else missed++
    }
    return {
      kind: m.kind,
      target: m.target,
      fromMs: m.fromMs,
      observers: counted,
      firstMs: times.length === 0 ? null : Math.min(...times),
      lastMs: missed > 0 || times.length === 0 ? null : Math.max(...times),
      missed,
      timesMs: times
    }
  })
}

/** Groups event results by kind. */
export function summariseKinds (results: readonly EventResult[], measures: readonly Measure[]): KindSummary[] {
  const kinds = [...new Set(results.map(r => r.kind))]
  return kinds.map(kind => {
    const rs = results.filter(r => r.kind === kind)
    const expect = measures.find(m => m.kind === kind)?.expect ?? 'removed'
    return {
      kind,
      expect,
      events: rs.length,
      observers: rs.reduce((a, r) => a + r.observers, 0),
      first: stats(rs.map(r => r.firstMs).filter((v): v is number => v !== null)),
      last: stats(rs.map(r => r.lastMs).filter((v): v is number => v !== null)),
      all: stats(rs.flatMap(r => r.timesMs)),
      missed: rs.reduce((a, r) => a + r.missed, 0)
    }
  })
}

/** A removal the world gave no reason for. */
export interface FalseRemoval { tMs: number, observer: number, target: number | null, key: string }

/**
 * Removals of a peer that was up, on the same side, and not within `graceMs` of being down or cut off
 * (a detection in flight when a fault ends is not false). Removals of retired keys (a node that left and
 * came back as a new identity) are expected.
 */
export function falseRemovals (observer: PeerObserver, intent: Intent, graceMs: number, keyToNode: ReadonlyMap<string, number>): FalseRemoval[] {
  const out: FalseRemoval[] = []
  for (const c of observer.changes) {
    if (c.present || c.deviceGone || intent.retiredKeys.has(c.key)) continue
    const from = c.tMs - graceMs
    if (intent.downDuring(c.observer, from, c.tMs)) continue
    const target = keyToNode.get(c.key)
    if (target !== undefined && (intent.downDuring(target, from, c.tMs) || intent.splitDuring(c.observer, target, from, c.tMs))) continue
    out.push({ tMs: c.tMs, observer: c.observer, target: target ?? null, key: c.key })
  }
  return out
}

/**
 * Health of every node at tMs, one number each: -1 = down on purpose, otherwise the Jaccard agreement
 * (0..1) between the peers its device has and the peers it should have.
 */
export function healthColumn (intent: Intent, observer: PeerObserver, tMs: number): number[] {
  const col: number[] = []
  for (let i = 0; i < intent.nodes; i++) {
    if (!intent.isUp(i, tMs)) { col.push(-1); continue }
    const cur = observer.current.get(i)
    if (cur === undefined) { col.push(0); continue }
    const want = new Set<string>()
    for (const j of intent.intendedPeers(i, tMs)) { const k = observer.keyOf.get(j); if (k !== undefined) want.add(k) }
    let both = 0
    for (const k of cur) if (want.has(k)) both++
    const union = want.size + cur.size - both
    col.push(union === 0 ? 1 : Math.round(100 * both / union) / 100)
  }
  return col
}
