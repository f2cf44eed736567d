import { createHash } from 'node:crypto'
import { Level } from 'level'
import { DataDirError } from '../errors.js'
import { checkStoredPolicy, type ControlStore, type StoreOp, type StoredNode, type StoredPolicy, type StoredState, type StoredToken } from './store.js'

/** The key of the one policy record. */
const POLICY_KEY = 'policy:current'

/**
 * ControlStore on LevelDB. Keys are `<kind>:<id>` with JSON values (the policy is the one record
 * `policy:current`); one `db.batch` per write, so a batch is all-or-nothing across a crash. A synced batch
 * has been fsynced when its promise resolves.
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

  /** Every record, parsed, plus a digest of each `node:`, `token:` and `policy:` record (see `trackedChanges`). */
  async readAll (): Promise<{ state: StoredState, records: Map<string, string> }> {
    const state: StoredState = { nodes: [], tokens: [], nonces: [], meta: new Map(), policy: null }
    const records = new Map<string, string>()
    try {
      for await (const [key, value] of this.db.iterator()) {
        const sep = key.indexOf(':')
        const kind = key.slice(0, sep)
        const id = key.slice(sep + 1)
        if (kind === 'meta') state.meta.set(id, value)
        else if (kind === 'node') state.nodes.push(parse<StoredNode>(key, value))
        else if (kind === 'token') state.tokens.push(parse<StoredToken>(key, value))
        else if (kind === 'nonce') state.nonces.push({ nonce: id, expiresAt: Number(value) })
        else if (key === POLICY_KEY) state.policy = policyRecord(value)
        if (kind === 'node' || kind === 'token' || key === POLICY_KEY) records.set(key, digest(value))
      }
    } catch (err) {
      if (err instanceof DataDirError) throw err
      throw new DataDirError(`cannot read the controller database: ${(err as Error).message}; restore the data directory from a backup`, { cause: err })
    }
    return { state, records }
  }

  async write (ops: StoreOp[], opts: { sync: boolean }): Promise<void> {
    if (ops.length === 0) return
    await this.db.batch(ops.map(toBatch), { sync: opts.sync })
  }

  async close (): Promise<void> {
    await this.db.close()
  }
}

function toBatch (op: StoreOp): { type: 'put', key: string, value: string } | { type: 'del', key: string } {
  switch (op.kind) {
    case 'node': return { type: 'put', key: `node:${op.node.id}`, value: JSON.stringify(op.node) }
    case 'del-node': return { type: 'del', key: `node:${op.id}` }
    case 'token': return { type: 'put', key: `token:${op.token.hash}`, value: JSON.stringify(op.token) }
    case 'del-token': return { type: 'del', key: `token:${op.hash}` }
    case 'nonce': return { type: 'put', key: `nonce:${op.nonce}`, value: String(op.expiresAt) }
    case 'del-nonce': return { type: 'del', key: `nonce:${op.nonce}` }
    case 'meta': return { type: 'put', key: `meta:${op.key}`, value: op.value }
    case 'policy': return { type: 'put', key: POLICY_KEY, value: JSON.stringify(op.policy) }
    default: { const never: never = op; throw new Error(`unknown store op ${String(never)}`) }
  }
}

/**
 * What `ops` do to the records that are checked after a reopen (`node:`, `token:` and the policy): each key
 * with the digest of its new value, or null when deleted. Nonces and meta are not tracked: nonces expire
 * within minutes and meta is checked through `meta:seq`.
 */
export function trackedChanges (ops: StoreOp[]): Array<[string, string | null]> {
  const out: Array<[string, string | null]> = []
  for (const op of ops) {
    if (op.kind === 'nonce' || op.kind === 'del-nonce' || op.kind === 'meta') continue
    const b = toBatch(op)
    out.push([b.key, b.type === 'put' ? digest(b.value) : null])
  }
  return out
}

function digest (value: string): string {
  return createHash('sha1').update(value).digest('base64')
}

function parse<T> (key: string, value: string): T {
  try {
    return JSON.parse(value) as T
  } catch (err) {
    throw new DataDirError(`record ${key} in the controller database is not valid JSON; restore the data directory from a backup`, { cause: err })
  }
}

/** The policy record, checked: a damaged one (a text that does not match its sha256) is refused like bad JSON. */
function policyRecord (value: string): StoredPolicy {
  const p = checkStoredPolicy(parse<unknown>(POLICY_KEY, value))
  if ('damage' in p) {
    throw new DataDirError(`record ${POLICY_KEY} in the controller database is damaged: ${p.damage}; restore the data directory from a backup`)
  }
  return p
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
