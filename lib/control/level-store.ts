import { Level } from 'level'
import { DataDirError } from '../errors.js'
import type { ControlStore, StoreOp, StoredState } from './store.js'
import { RecordReader, recordWrite } from './store-records.js'

/**
 * ControlStore on LevelDB. Keys and values are the records of store-records.ts, as they are; one `db.batch`
 * per write, so a batch is all-or-nothing across a crash. A synced batch has been fsynced when its promise
 * resolves.
 */
export class LevelStore implements ControlStore {
  private constructor (private readonly db: Level<string, string>) {}

  /** Opens (creating if needed) the database at `dir`. Locked or corrupt databases throw DataDirError. */
  static async open (dir: string): Promise<LevelStore> {
    const db = new Level<string, string>(dir, { valueEncoding: 'utf8', keyEncoding: 'utf8' })
    try {
      await db.open({ createIfMissing: true })
    } catch (err) {
      throw openError(dir, err)
    }
    return new LevelStore(db)
  }

  async load (): Promise<StoredState> {
    return (await this.readAll()).state
  }

  /** Every record, parsed, plus a digest of each `node:`, `token:` and policy record (see `trackedChanges`). */
  async readAll (): Promise<{ state: StoredState, records: Map<string, string> }> {
    const reader = new RecordReader()
    try {
      for await (const [key, value] of this.db.iterator()) reader.add(key, value)
    } catch (err) {
      if (err instanceof DataDirError) throw err
      throw new DataDirError(`cannot read the controller database: ${(err as Error).message}; restore the data directory from a backup`, { cause: err })
    }
    return { state: reader.state, records: reader.records }
  }

  async dump (): Promise<Array<[string, string]>> {
    const out: Array<[string, string]> = []
    for await (const [key, value] of this.db.iterator()) out.push([key, value])
    return out
  }

  async write (ops: StoreOp[], opts: { sync: boolean }): Promise<void> {
    if (ops.length === 0) return
    await this.db.batch(ops.map(recordWrite), { sync: opts.sync })
  }

  async close (): Promise<void> {
    await this.db.close()
  }
}

function openError (dir: string, err: unknown): DataDirError {
  const cause = (err as { cause?: { code?: string, message?: string } }).cause
  const code = cause?.code ?? (err as { code?: string }).code
  if (code === 'LEVEL_LOCKED') {
    return new DataDirError(`data directory ${dir} is locked: another controller is using it; stop that one or pick another --data`, { cause: err })
  }
  if (code === 'LEVEL_CORRUPTION') {
    return new DataDirError(`data directory ${dir} holds a corrupt database; restore it from a backup`, { cause: err })
  }
  const detail = cause?.message ?? (err as Error).message
  return new DataDirError(`cannot open the database in ${dir}: ${detail}`, { cause: err })
}
