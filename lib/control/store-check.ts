/**
 * Pure decisions about whether the database still holds what the controller acknowledged: after a failed
 * write, the reopened database against what this process acknowledged. IO lives in durable-store.ts.
 */

/** What a reopen after a failed write is judged on. Record maps hold a digest per `node:` and `token:` key. */
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
    return { kind: 'lost', why: `the reopened database is at write ${f.dbSeq} of ${f.ackedSeq} acknowledged; ${missing} acknowledged records missing, ${changed} changed`, missing, changed }
  }
  if (unexpected > 0) return { kind: 'restart', why: `the reopened database holds ${unexpected} records this process never wrote` }
  return { kind: 'resume' }
}
