import type { Clock } from '../clock.js'
import type { Logger } from '../log.js'
import type { HealthChange } from '../wire/api.js'
import type { GroupCommit } from './group-commit.js'
import type { StoreOp } from './store.js'

/** How far back a node's health history goes: long enough for "was it flapping last night", and last week. */
export const HISTORY_KEEP_MS = 7 * 86_400_000

/** Most changes kept per node: a node flapping every few seconds still costs a bounded record (about 40 KiB). */
export const HISTORY_MAX_CHANGES = 500

/** How often the changes of the last interval are written, in one batch: a flapping mesh costs one write per interval. */
export const HISTORY_FLUSH_MS = 5000

/** What HealthHistory needs. */
export interface HealthHistoryDeps {
  clock: Clock
  log: Logger
  commit: GroupCommit
  /**
   * Whether this controller writes node `id`'s history. On a store of its own, always; on one shared by several
   * controllers, only the one that hears the node does, so that one record has one writer.
   */
  writes: (id: string) => boolean
}

/**
 * Every node's fused-health changes over the last HISTORY_KEEP_MS (at most HISTORY_MAX_CHANGES each), kept in
 * the store as one record per node (`history:<id>`) and in memory for `GET /v1/history` (docs/dashboard.md,
 * "History in the store"). Changes are written in batches every HISTORY_FLUSH_MS: history is what an operator looks back on,
 * not something acknowledged to anyone, so a crash may lose the last few seconds of it and nothing else.
 */
export class HealthHistory {
  private readonly byNode = new Map<string, HealthChange[]>()
  private readonly dirty = new Set<string>()
  private readonly gone = new Set<string>()

  constructor (private readonly d: HealthHistoryDeps) {}

  /** Loads a node's stored history at start-up. */
  restore (id: string, changes: readonly HealthChange[]): void {
    this.byNode.set(id, trim(sorted(changes), this.d.clock.now()))
  }

  /** Records that node `id` turned `health` now, for `reason`. */
  record (id: string, health: HealthChange['health'], reason: string): void {
    const list = this.byNode.get(id) ?? []
    list.push({ at: this.d.clock.now(), health, reason })
    this.byNode.set(id, trim(list, this.d.clock.now()))
    if (this.d.writes(id)) this.dirty.add(id)
  }

  /** Takes in node `id`'s record as another controller wrote it (null: deleted), keeping changes only this one saw. */
  applyStored (id: string, changes: readonly HealthChange[] | null): void {
    if (changes === null) { this.byNode.delete(id); return }
    const seen = new Set(changes.map(key))
    const mine = (this.byNode.get(id) ?? []).filter(c => !seen.has(key(c)))
    this.byNode.set(id, trim(sorted([...changes, ...mine]), this.d.clock.now()))
  }

  /** Node `id` is gone (removed, its record deleted): its history goes too, at the next flush. */
  forget (id: string): void {
    this.byNode.delete(id)
    this.dirty.delete(id)
    if (this.d.writes(id)) this.gone.add(id)
  }

  /**
   * Node `id`'s changes from `from` on, oldest first, the first being the health it had at `from` (a change at or
   * before it) when one is known.
   */
  since (id: string, from: number): HealthChange[] {
    const list = this.byNode.get(id) ?? []
    let first = list.findIndex(c => c.at > from)
    if (first < 0) first = list.length
    return list.slice(Math.max(0, first - 1))
  }

  /** Writes what changed since the last flush, in one batch; on failure it stays for the next one. */
  async flush (): Promise<void> {
    if (this.dirty.size === 0 && this.gone.size === 0) return
    const ops: StoreOp[] = [
      ...[...this.dirty].map(nodeId => ({ kind: 'history' as const, nodeId, changes: this.byNode.get(nodeId) ?? [] })),
      ...[...this.gone].map(nodeId => ({ kind: 'del-history' as const, nodeId }))
    ]
    this.dirty.clear()
    this.gone.clear()
    try {
      await this.d.commit.commit(ops)
    } catch (err) {
      for (const op of ops) {
        if (op.kind === 'history' && this.byNode.has(op.nodeId)) this.dirty.add(op.nodeId)
        else if (op.kind === 'del-history') this.gone.add(op.nodeId)
      }
      this.d.log.warn({ event: 'history.write_failed', nodes: ops.length, reason: (err as Error).message }, 'health history not written; tried again later')
    }
  }
}

function key (c: HealthChange): string {
  return `${c.at}/${c.health}`
}

function sorted (changes: readonly HealthChange[]): HealthChange[] {
  return [...changes].sort((a, b) => a.at - b.at)
}

/** `list` without what is older than HISTORY_KEEP_MS, except the last change before it (the health at the window's start). */
function trim (list: HealthChange[], now: number): HealthChange[] {
  const cutoff = now - HISTORY_KEEP_MS
  let first = list.findIndex(c => c.at >= cutoff)
  if (first < 0) first = list.length
  const kept = list.slice(Math.max(0, first - 1))
  return kept.length > HISTORY_MAX_CHANGES ? kept.slice(kept.length - HISTORY_MAX_CHANGES) : kept
}
