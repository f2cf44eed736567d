/**
 * The controller's records as keys and values, the same on every backend: `<kind>:<id>` with a JSON value
 * (`node:`, `token:`, `history:`), the expiry time (`nonce:`), text (`meta:`), and the one `policy:current` record.
 * LevelDB stores these keys as they are; etcd under its prefix (`/weft/node:n1...`).
 */
import { createHash } from 'node:crypto'
import { DataDirError } from '../errors.js'
import type { HealthChange } from '../wire/api.js'
import { NODE_HEALTHS } from '../wire/netmap.js'
import { checkStoredPolicy, type StoreOp, type StoredNode, type StoredPolicy, type StoredState, type StoredToken } from './store.js'

/** The key of the one policy record. */
export const POLICY_KEY = 'policy:current'

/** One write of a batch: a put of `value` at `key`, or a delete of `key`. */
export type RecordWrite = { type: 'put', key: string, value: string } | { type: 'del', key: string }

/** The key and value `op` writes. */
export function recordWrite (op: StoreOp): RecordWrite {
  switch (op.kind) {
    case 'node': return { type: 'put', key: `node:${op.node.id}`, value: JSON.stringify(op.node) }
    case 'del-node': return { type: 'del', key: `node:${op.id}` }
    case 'token': return { type: 'put', key: `token:${op.token.hash}`, value: JSON.stringify(op.token) }
    case 'del-token': return { type: 'del', key: `token:${op.hash}` }
    case 'nonce': return { type: 'put', key: `nonce:${op.nonce}`, value: String(op.expiresAt) }
    case 'del-nonce': return { type: 'del', key: `nonce:${op.nonce}` }
    case 'meta': return { type: 'put', key: `meta:${op.key}`, value: op.value }
    case 'del-meta': return { type: 'del', key: `meta:${op.key}` }
    case 'policy': return { type: 'put', key: POLICY_KEY, value: JSON.stringify(op.policy) }
    case 'history': return { type: 'put', key: `history:${op.nodeId}`, value: JSON.stringify(op.changes) }
    case 'del-history': return { type: 'del', key: `history:${op.nodeId}` }
    default: { const never: never = op; throw new Error(`unknown store op ${String(never)}`) }
  }
}

/** The writes that put every record of `state` back, meta records left out (each copy decides which it keeps). */
export function recordOps (state: StoredState): StoreOp[] {
  return [
    ...state.nodes.map(node => ({ kind: 'node' as const, node })),
    ...state.tokens.map(token => ({ kind: 'token' as const, token })),
    ...state.nonces.map(n => ({ kind: 'nonce' as const, ...n })),
    ...(state.policy !== null ? [{ kind: 'policy' as const, policy: state.policy }] : []),
    ...[...state.history].map(([nodeId, changes]) => ({ kind: 'history' as const, nodeId, changes }))
  ]
}

/** Reads records one at a time into a StoredState, with a digest of each tracked one (see trackedChanges). */
export class RecordReader {
  readonly state: StoredState = { nodes: [], tokens: [], nonces: [], meta: new Map(), policy: null, history: new Map() }
  readonly records = new Map<string, string>()

  /** Adds the record at `key`; throws DataDirError for one that is damaged. Keys of no known kind are skipped. */
  add (key: string, value: string): void {
    const sep = key.indexOf(':')
    const kind = key.slice(0, sep)
    const id = key.slice(sep + 1)
    if (kind === 'meta') this.state.meta.set(id, value)
    else if (kind === 'node') this.state.nodes.push(parse<StoredNode>(key, value))
    else if (kind === 'token') this.state.tokens.push(parse<StoredToken>(key, value))
    else if (kind === 'nonce') this.state.nonces.push({ nonce: id, expiresAt: Number(value) })
    else if (key === POLICY_KEY) this.state.policy = policyRecord(value)
    else if (kind === 'history') this.state.history.set(id, historyRecord(value))
    if (kind === 'node' || kind === 'token' || key === POLICY_KEY) this.records.set(key, digest(value))
  }
}

/**
 * What `ops` do to the records that are checked after a reopen (`node:`, `token:` and the policy): each key
 * with the digest of its new value, or null when deleted. Nonces, meta and history are not tracked: nonces expire
 * within minutes, meta is checked through `meta:seq`, and history is written unasked, in batches (history.ts).
 */
export function trackedChanges (ops: StoreOp[]): Array<[string, string | null]> {
  const out: Array<[string, string | null]> = []
  for (const op of ops) {
    if (op.kind === 'nonce' || op.kind === 'del-nonce' || op.kind === 'meta' || op.kind === 'del-meta' || op.kind === 'history' ||
      op.kind === 'del-history') continue
    const b = recordWrite(op)
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

/**
 * A history record: a list of health changes. A damaged one says nothing anyone was promised (history.ts), so it
 * is read as empty rather than stopping the start.
 */
function historyRecord (value: string): HealthChange[] {
  let v: unknown
  try { v = JSON.parse(value) } catch { return [] }
  if (!Array.isArray(v)) return []
  return v.filter((c): c is HealthChange => typeof c === 'object' && c !== null && Number.isSafeInteger(c.at) && NODE_HEALTHS.includes(c.health) &&
    typeof c.reason === 'string').map(c => ({ at: c.at, health: c.health, reason: c.reason }))
}
