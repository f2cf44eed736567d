/**
 * Backups of the controller's store (docs/operations.md, "Back up and restore"): every record, read at one
 * moment while the controller runs (DurableStore.dump), as one JSON document; and a restore of such a document
 * into an empty data directory, with its store guard, for a controller to start on. The controller and admin
 * keys are not in it: they stay files of mode 0600, copied with the backup by the operator.
 */
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import type { Clock } from '../clock.js'
import { ConfigError, InvalidInputError } from '../errors.js'
import type { Logger } from '../log.js'
import { resolve } from './config.js'
import { ensureDataDir } from './data-dir.js'
import { DurableStore } from './durable-store.js'
import { openStore, storeBackend } from './store-open.js'
import { RecordReader, recordOps } from './store-records.js'
import type { StoreOp, StoredState } from './store.js'

/** What a backup file says it is. */
export const BACKUP_FORMAT = 'weft-controller-backup-v1'

/** A backup: the records, and when and from which store they were read. */
export interface Backup {
  format: typeof BACKUP_FORMAT
  createdAt: string
  storeId: string
  records: Array<[string, string]>
}

/** What a backup holds, counted. */
export interface BackupSummary { nodes: number, tokens: number, policyVersion: number | null, cidr: string | null }

/** The backup of `records`, read from store `storeId` at `now`. */
export function makeBackup (records: Array<[string, string]>, storeId: string, now: number): Backup {
  return { format: BACKUP_FORMAT, createdAt: new Date(now).toISOString(), storeId, records }
}

/** A backup whose shape and records were checked, with the state its records make and what they hold, counted. */
export interface CheckedBackup { backup: Backup, state: StoredState, summary: BackupSummary }

/** `text` as a backup; InvalidInputError saying what is wrong when it is not JSON, not a backup, or holds a damaged record. */
export function parseBackup (text: string, source: string): CheckedBackup {
  let v: unknown
  try { v = JSON.parse(text) } catch (err) { throw new InvalidInputError(`${source} is not JSON: ${(err as Error).message}`) }
  return checkBackup(v, source)
}

/** `v` as a backup; InvalidInputError saying what is wrong when it is not one, or holds a damaged record. */
export function checkBackup (v: unknown, source: string): CheckedBackup {
  const b = v as Partial<Backup> | null
  if (typeof b !== 'object' || b === null || b.format !== BACKUP_FORMAT) {
    throw new InvalidInputError(`${source} is not a Weft controller backup (its "format" is not "${BACKUP_FORMAT}")`)
  }
  if (!Array.isArray(b.records) || !b.records.every(r => Array.isArray(r) && r.length === 2 && typeof r[0] === 'string' && typeof r[1] === 'string')) {
    throw new InvalidInputError(`${source}: "records" must be a list of [key, value] string pairs`)
  }
  if (typeof b.storeId !== 'string' || typeof b.createdAt !== 'string') throw new InvalidInputError(`${source}: "storeId" and "createdAt" must be strings`)
  const reader = new RecordReader()
  try {
    for (const [key, value] of b.records) reader.add(key, value)
  } catch (err) {
    throw new InvalidInputError(`${source} holds a damaged record: ${(err as Error).message}`)
  }
  const s = reader.state
  const summary = { nodes: s.nodes.length, tokens: s.tokens.length, policyVersion: s.policy?.version ?? null, cidr: s.meta.get('cidr') ?? null }
  return { backup: b as Backup, state: s, summary }
}

/**
 * Writes the checked `backup` into the empty data directory `dataDir` as a LevelDB store with its guard, for
 * `weft controller` to start on. Refuses a directory that already holds a store. The records are written in
 * one synced batch, as they were read: nodes with their ids, IPs and credentials' hashes, tokens, nonces, the
 * policy and the meta records (the IPAM high-water mark among them).
 */
export async function restoreBackup (o: { dataDir: string, backup: CheckedBackup, clock: Clock, log: Logger }): Promise<BackupSummary> {
  const { state: s, summary } = o.backup
  if (summary.cidr === null) throw new InvalidInputError('the backup holds no controller store (no meta:cidr record)')
  if (await exists(join(o.dataDir, 'db'))) {
    throw new ConfigError(`${o.dataDir} already holds a controller store (db/); restore into an empty data directory`)
  }
  const config = resolve({ dataDir: o.dataDir, cidr: summary.cidr })
  await ensureDataDir(config.dataDir)
  const opened = await openStore(config, { clock: o.clock, log: o.log })
  const highWater = Number(s.meta.get('ipHighWater') ?? 0)
  const store = new DurableStore({
    ...storeBackend(config, o.clock),
    dataDir: config.dataDir,
    cidr: config.cidr,
    clock: o.clock,
    log: o.log,
    ipHighWater: () => highWater
  }, opened.base)
  try {
    const ops: StoreOp[] = [
      ...recordOps(s),
      // The store id and sequence are this store's own; the rest (keys' hashes, CIDR, orphans) are the backup's.
      ...[...s.meta].filter(([k]) => k !== 'seq' && k !== 'storeId' && k !== 'ipHighWater').map(([key, value]) => ({ kind: 'meta' as const, key, value })),
      ...opened.meta
    ]
    await store.write(ops, { sync: true })
  } finally {
    await store.close()
  }
  return summary
}

async function exists (path: string): Promise<boolean> {
  try { await access(path); return true } catch { return false }
}
