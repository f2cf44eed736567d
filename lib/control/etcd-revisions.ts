/**
 * What a controller on a shared etcd knows of each record: the revision it was last written at and its value,
 * and which of its own writes are under way. A write is decided on memory; it may reach etcd only if none of
 * the records it writes changed since that memory was current, so each write carries, per key, the revision
 * its decision saw (a Capture), and the transaction compares them. Pure: no IO, no clock.
 */
import type { StoreCapture } from './store.js'

/** A record as last seen: the revision that wrote it (or deleted it: value null). */
export interface Known { rev: number, value: string | null }

/**
 * One of this controller's writes: once it succeeded, the revision of each key it was decided on as the write
 * left it (written by it, or as it found it); `failed` once it did not apply.
 */
export class Ticket {
  revs: Map<string, number> | null = null
  failed = false
}

/** The revisions a write's decision saw, per key: a revision, or an earlier write of this controller still under way. */
export class Capture implements StoreCapture {
  constructor (readonly ticket: Ticket, readonly expect: ReadonlyMap<string, number | Ticket>) {}
}

export class Revisions {
  private readonly known = new Map<string, Known>()
  /** Per key, the latest own write touching it that has not finished. */
  private readonly pending = new Map<string, Ticket>()

  /** The record at `key` as last seen, if ever. */
  get (key: string): Known | undefined {
    return this.known.get(key)
  }

  /** Value of `key` now, null when absent. */
  value (key: string): string | null {
    return this.known.get(key)?.value ?? null
  }

  /**
   * Takes in a record read from etcd at `rev` (start-up, the watch, or a refused transaction). Returns false
   * when it is not newer than what is known (an own write coming back through the watch, say).
   */
  observe (key: string, value: string | null, rev: number): boolean {
    const k = this.known.get(key)
    if (k !== undefined && k.rev >= rev) return false
    if (k === undefined && value === null) return false
    this.known.set(key, { rev, value })
    return true
  }

  /** Notes that a write of `keys` is decided now; its transaction must find them as this decision saw them. */
  capture (keys: Iterable<string>): Capture {
    const ticket = new Ticket()
    const expect = new Map<string, number | Ticket>()
    for (const key of keys) {
      const k = this.known.get(key)
      expect.set(key, this.pending.get(key) ?? (k === undefined || k.value === null ? 0 : k.rev))
      this.pending.set(key, ticket)
    }
    return new Capture(ticket, expect)
  }

  /**
   * The mod revision each key must have for the batch of `captures` (in the order they were decided) to
   * apply: 0 for a key that must be absent, -1 for one whose decision followed an own write that failed (it
   * can never apply). A key first touched by an earlier write of the same batch needs no compare of its own.
   */
  expected (captures: readonly Capture[]): Map<string, number> {
    const inBatch = new Set(captures.map(c => c.ticket))
    const out = new Map<string, number>()
    for (const c of captures) {
      for (const [key, e] of c.expect) {
        if (out.has(key)) continue
        if (!(e instanceof Ticket)) { out.set(key, e); continue }
        if (inBatch.has(e)) continue
        out.set(key, e.failed ? -1 : e.revs?.get(key) ?? -1)
      }
    }
    return out
  }

  /** The batch of `captures` wrote `writes` (value null: deleted) at revision `rev`. */
  wrote (captures: readonly Capture[], writes: ReadonlyMap<string, string | null>, rev: number): void {
    for (const [key, value] of writes) this.known.set(key, { rev, value })
    for (const c of captures) {
      const revs = new Map<string, number>()
      for (const key of c.expect.keys()) {
        const k = this.known.get(key)
        revs.set(key, k === undefined || k.value === null ? 0 : k.rev)
      }
      c.ticket.revs = revs
    }
    this.settle(captures)
  }

  /** The batch of `captures` was not written (refused, or its outcome is unknown and the watch will tell). */
  failed (captures: readonly Capture[]): void {
    for (const c of captures) c.ticket.failed = true
    this.settle(captures)
  }

  private settle (captures: readonly Capture[]): void {
    for (const c of captures) {
      for (const key of c.expect.keys()) if (this.pending.get(key) === c.ticket) this.pending.delete(key)
    }
  }
}
