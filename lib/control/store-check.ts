import { droppedBytes } from './leveldb-log.js'
import type { StoreGuard } from './store-guard.js'

/**
 * Pure decisions about whether the database still holds what the controller acknowledged: once at start
 * (database against the store guard) and after a failed write (the reopened database against what this
 * process acknowledged). IO lives in store-open.ts and durable-store.ts.
 */

/** What the database says about itself, read right after opening it. */
export interface DbFacts {
  /** `meta:storeId`, if any. */
  storeId: string | undefined
  /** `meta:seq`, the sequence number of its last synced batch; 0 when absent. */
  seq: number
  /** Node records of any state. */
  nodes: number
  /** True when it holds no record at all. */
  empty: boolean
}

/** Everything the start-up check looks at. */
export interface StartFacts {
  guard: StoreGuard | null
  db: DbFacts
  /** `controller.key` exists, so the data directory has been started before. */
  controllerKeyExists: boolean
  /** LevelDB's LOG lines of this open about dropped bytes or corruption. */
  drops: string[]
}

/** What a database behind its guard lost, as far as the guard can tell (null: unknown). */
export interface Loss {
  /** Acknowledged synced batches missing. */
  writes: number | null
  /** Node records missing. */
  nodes: number | null
  /** Node records the guard counted. */
  nodesBefore: number | null
  /** Node records the database holds. */
  nodesNow: number
}

/** The start-up verdict: serve, serve after writing a first guard, or refuse (unless the loss is accepted). */
export type StartVerdict =
  | { kind: 'first-start' }
  | { kind: 'intact' }
  | { kind: 'unguarded' }
  | { kind: 'behind', why: string, loss: Loss }

/**
 * Compares the database with its guard. `behind` when it provably lost acknowledged writes (fewer writes or
 * node records than the guard counted, another database's id, an empty database in a directory that was
 * set up before) or when LevelDB dropped data and no guard can show that nothing acknowledged was in it.
 * `unguarded` when the database has data but no guard (a data directory from before guards, or a deleted guard).
 */
export function checkStart (f: StartFacts): StartVerdict {
  const { guard, db } = f
  const loss = (writes: number | null, nodes: number | null): Loss => ({ writes, nodes, nodesBefore: guard?.nodes ?? null, nodesNow: db.nodes })
  if (guard === null) {
    if (db.empty) {
      return f.controllerKeyExists
        ? {
            kind: 'behind',
            why: 'the database is empty and there is no store guard, but controller.key shows that this data directory was set up before',
            loss: loss(null, null)
          }
        : { kind: 'first-start' }
    }
    if (f.drops.length > 0) {
      return {
        kind: 'behind',
        why: `LevelDB dropped ${droppedBytes(f.drops)} bytes of its write-ahead log while opening, and there is no store guard to show that nothing ` +
          'acknowledged was in them',
        loss: loss(null, null)
      }
    }
    return { kind: 'unguarded' }
  }
  if (db.storeId !== undefined && db.storeId !== guard.storeId) {
    return {
      kind: 'behind',
      why: `the database has store id ${db.storeId} but the store guard belongs to ${guard.storeId}: it is another data directory's database`,
      loss: loss(null, null)
    }
  }
  if (db.seq < guard.seq) {
    return {
      kind: 'behind',
      why: `the database ends at write ${db.seq} but write ${guard.seq} was acknowledged (${guard.nodes} node records then, ${db.nodes} now)`,
      loss: loss(guard.seq - db.seq, Math.max(0, guard.nodes - db.nodes))
    }
  }
  if (db.seq === guard.seq && db.nodes < guard.nodes) {
    return { kind: 'behind', why: `the database holds ${db.nodes} node records where ${guard.nodes} were acknowledged`, loss: loss(0, guard.nodes - db.nodes) }
  }
  return { kind: 'intact' }
}

/** What a reopen after a failed write is judged on. Record maps hold a digest per `node:`, `token:` and policy key. */
export interface ReopenFacts {
  /** Sequence number of the last acknowledged synced batch. */
  ackedSeq: number
  /** Sequence number of the synced batch that failed, if one did: it may have reached the disk after all. */
  failedSeq: number | null
  /** `meta:seq` of the reopened database. */
  dbSeq: number
  /** Records as acknowledged. */
  expected: ReadonlyMap<string, string>
  /** Records in the reopened database. */
  found: ReadonlyMap<string, string>
  /** Keys written by failed batches: either state is acceptable. */
  inDoubt: ReadonlySet<string>
}

/**
 * The reopen verdict. `resume`: the database holds exactly what was acknowledged. `restart`: it holds more
 * (a batch reported as failed reached the disk), so this process's memory is behind it and only a restart,
 * which rebuilds memory from the database, is safe. `lost`: acknowledged records are missing or changed.
 */
export type ReopenVerdict =
  | { kind: 'resume' }
  | { kind: 'restart', why: string }
  | { kind: 'lost', why: string, missing: number, changed: number }

/** Judges a reopened database against what this process acknowledged. */
export function judgeReopen (f: ReopenFacts): ReopenVerdict {
  if (f.failedSeq !== null && f.dbSeq === f.failedSeq) return { kind: 'restart', why: `write ${f.failedSeq} was reported as failed but is in the database` }
  if (f.dbSeq > f.ackedSeq) return { kind: 'restart', why: `the database is at write ${f.dbSeq}, past the last acknowledged ${f.ackedSeq}` }
  let missing = 0
  let changed = 0
  let unexpected = 0
  for (const [key, digest] of f.expected) {
    if (f.inDoubt.has(key)) continue
    const got = f.found.get(key)
    if (got === undefined) missing++
    else if (got !== digest) changed++
  }
  for (const key of f.found.keys()) if (!f.expected.has(key) && !f.inDoubt.has(key)) unexpected++
  if (f.dbSeq < f.ackedSeq || missing > 0 || changed > 0) {
    return {
      kind: 'lost',
      why: `the reopened database is at write ${f.dbSeq} of ${f.ackedSeq} acknowledged; ${missing} acknowledged records missing, ${changed} changed`,
      missing,
      changed
    }
  }
  if (unexpected > 0) return { kind: 'restart', why: `the reopened database holds ${unexpected} records this process never wrote` }
  return { kind: 'resume' }
}
