import type { MeshEvent, MeshEventType } from '../wire/api.js'

/** Events kept for `GET /v1/events` and for a stream that reconnects: a few minutes of a busy mesh. */
export const EVENTS_KEPT = 1000

/**
 * The controller's timeline of what happened to the mesh (docs/dashboard.md, "Routes"): health changes with
 * their reason, joins, leaves, removals, renames, tag, route and policy changes. In memory, numbered from 1 per
 * controller start; the last EVENTS_KEPT are kept, and every new one goes to the open streams at once. The
 * durable record of health is the history (history.ts); this is what the dashboard shows live.
 */
export class EventLog {
  private readonly kept: MeshEvent[] = []
  private seq = 0
  private readonly listeners = new Set<(e: MeshEvent) => void>()

  constructor (private readonly now: () => number) {}

  /** Records an event and hands it to every listener. */
  emit (type: MeshEventType, e: Omit<MeshEvent, 'seq' | 'at' | 'type'>): void {
    const event: MeshEvent = { seq: ++this.seq, at: this.now(), type, ...e }
    this.kept.push(event)
    if (this.kept.length > EVENTS_KEPT) this.kept.splice(0, this.kept.length - EVENTS_KEPT)
    for (const l of this.listeners) l(event)
  }

  /** The kept events after `since`, oldest first, at most `limit` (the newest ones). */
  after (since: number, limit = EVENTS_KEPT): MeshEvent[] {
    const first = this.kept.findIndex(e => e.seq > since)
    if (first < 0) return []
    const out = this.kept.slice(first)
    return out.length > limit ? out.slice(out.length - limit) : out
  }

  /** The number of the newest event (0: none yet). */
  get last (): number { return this.seq }

  /** Calls `fn` with every new event until the returned function is called. */
  subscribe (fn: (e: MeshEvent) => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }
}
