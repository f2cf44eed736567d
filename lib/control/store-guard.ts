import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DataDirError } from '../errors.js'
import { writeSecretFile } from './data-dir.js'

/**
 * The store guard: a small record in the data directory, beside the database and outside it, that says how
 * far the database had got when it last acknowledged a write. Every synced batch stores its sequence number
 * in the database (`meta:seq`); the guard is rewritten after the batch is durable, so after any crash the
 * guard is at or behind the database. A database behind its guard lost acknowledged writes.
 */
export interface StoreGuard {
  /** Format of this record; 1. */
  format: 1
  /** Random id of the database; the database holds the same one as `meta:storeId`. */
  storeId: string
  /** Sequence number of the last synced batch known to be durable. */
  seq: number
  /** Node records (active, left or removed) in the database after that batch. */
  nodes: number
  /** Highest IPAM offset ever handed out (1 is the CIDR's first host address). */
  ipHighWater: number
  /** The mesh CIDR the offsets count from. */
  cidr: string
  /** When the record was written, ms since the epoch. */
  writtenAt: number
}

/** File name of the guard in the data directory. */
export const GUARD_FILE = 'store-guard.json'

/** Reads `DIR/store-guard.json`: null when absent; a DataDirError saying what to do when it is not a guard. */
export async function readGuard (dataDir: string): Promise<StoreGuard | null> {
  const path = join(dataDir, GUARD_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new DataDirError(`cannot read ${path}: ${(err as Error).message}`, { cause: err })
  }
  const g = parseGuard(text)
  if (g === null) {
    throw new DataDirError(`${path} is not a valid store guard; restore it from a backup, or delete it and the controller writes a new one from the ` +
      'database (it then cannot tell whether the database lost anything)')
  }
  return g
}

/** Writes the guard atomically (temp file, fsync, rename, fsync of the directory), mode 0600. */
export async function writeGuard (dataDir: string, guard: StoreGuard): Promise<void> {
  await writeSecretFile(join(dataDir, GUARD_FILE), JSON.stringify(guard) + '\n')
}

/** The guard in `text`, or null when it is not one. */
export function parseGuard (text: string): StoreGuard | null {
  let v: Partial<StoreGuard>
  try { v = JSON.parse(text) as Partial<StoreGuard> } catch { return null }
  const count = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
  if (v === null || typeof v !== 'object' || v.format !== 1 || typeof v.storeId !== 'string' || v.storeId === '' || typeof v.cidr !== 'string' ||
    !count(v.seq) || !count(v.nodes) || !count(v.ipHighWater) || !count(v.writtenAt)) return null
  return { format: 1, storeId: v.storeId, seq: v.seq!, nodes: v.nodes!, ipHighWater: v.ipHighWater!, cidr: v.cidr, writtenAt: v.writtenAt! }
}
