import { createHash } from 'node:crypto'
import type { HealthChange } from '../wire/api.js'

/**
 * The controller's durable state behind a small interface, so that a replicated store (etcd, raft) can
 * replace LevelDB later without touching the registry. Everything durable is one of five record kinds;
 * heartbeat times and SWIM reports are not durable (they are rebuilt within seconds of a restart).
 */

/** Lifecycle of a stored node. `removed` records stay so the IP quarantine survives restarts. */
export type StoredNodeState = 'active' | 'left' | 'removed'

/** A node as persisted. Holds the sha256 of its credential, never the credential. */
export interface StoredNode {
  id: string
  publicKey: string
  /** Ed25519 key for the node's signed SWIM claims; absent for records stored before signed claims existed. */
  signingKey?: string
  hostname: string
  /**
   * Its DNS label, unique among active and left nodes (docs/dns.md): given at the first registration, changed only
   * by `weft nodes rename`. Absent on records stored before names existed, until the controller's start names them.
   */
  name?: string
  meshIp: string
  endpoints: string[]
  listenPort: number
  swimPort: number
  /** Hex sha256 of the node credential. */
  credentialHash: string
  state: StoredNodeState
  createdAt: number
  updatedAt: number
  /** When it was removed (by an admin or by its expiry); drives the IP quarantine. */
  removedAt?: number
  /** Why it was removed: `admin` (`weft nodes remove`) or `expired` (its `expiresAt` passed). Absent on older records: admin. */
  removedReason?: RemovalReason
  /** When its credential stops working and the controller removes it; absent: never. */
  expiresAt?: number
  /** Id of the join token its first registration (or the last one with a token) used; absent on older records. */
  tokenId?: string
  /** What it advertises and what an admin approved (docs/routes.md); absent: it never advertised a route. */
  routing?: StoredRouting
  /** Tags an admin put on it (`weft nodes tag`, or a token made with `--tag`), sorted; absent: none. */
  tags?: string[]
  /**
   * On a store shared by several controllers: where its last registration came from (`ip:listenPort`), so that
   * every controller publishes the same observed endpoint from the start; absent on a store of its own.
   */
  observedEndpoint?: string
}

/** A node's routes as stored: what the node advertises, and what an admin (or an auto-approve prefix) approved. */
export interface StoredRouting {
  /** Subnet routes the node advertises, canonical CIDRs, sorted. */
  advertised: string[]
  /** Whether it advertises itself as an exit node. */
  exit: boolean
  priority: number
  /** Approved subnet routes, sorted; an approval outlives a pause in the advertisement. */
  approved: string[]
  exitApproved: boolean
}

/** Why a node was removed. */
export type RemovalReason = 'admin' | 'expired'

/** A join token as persisted, keyed by the hex sha256 of the token. */
export interface StoredToken {
  hash: string
  reusable: boolean
  createdAt: number
  expiresAt: number
  /** Set when a single-use token was spent; a reusable token counts its uses instead. */
  usedAt?: number
  uses: number
  /** Last registration it admitted, ms since epoch. */
  lastUsedAt?: number
  /** When an admin revoked it; a revoked token admits nobody. */
  revokedAt?: number
  /** What the operator said it is for (`--description`); not secret. */
  description?: string
  /** Nodes it admits expire this long after their registration with it (`--node-ttl`); absent: never. */
  nodeTtlMs?: number
  /** Tags every node it admits gets, replacing the node's own (`--tag`), sorted; absent: the node keeps its tags. */
  tags?: string[]
  /** A viewer key (`--viewer`): it signs in to the dashboard and admits no node. Absent: a join token. */
  viewer?: true
}

/** The access policy as persisted (docs/policy.md): one record, replaced whole by each change. */
export interface StoredPolicy {
  /** Counts the policy's changes: 1 for the first policy ever set. */
  version: number
  /** The document as the admin sent it. */
  text: string
  /** When this version was set, ms since epoch. */
  updatedAt: number
  /** Hex sha256 of `text` (UTF-8); checked when the record is read, so a damaged record is caught at start. */
  sha256: string
}

/** Hex sha256 of a policy document's UTF-8 bytes, as StoredPolicy keeps it. */
export function policySha256 (text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

/** `v` as a StoredPolicy, or what is wrong with it: a record of another shape, or a text that does not match its sha256. */
export function checkStoredPolicy (v: unknown): StoredPolicy | { damage: string } {
  const r = v as Partial<StoredPolicy> | null
  if (typeof r !== 'object' || r === null) return { damage: 'it is not an object' }
  if (!Number.isSafeInteger(r.version) || r.version! < 1) return { damage: 'its version is not a positive integer' }
  if (typeof r.text !== 'string') return { damage: 'it has no text' }
  if (!Number.isSafeInteger(r.updatedAt)) return { damage: 'its updatedAt is not a time' }
  if (typeof r.sha256 !== 'string' || r.sha256 !== policySha256(r.text)) return { damage: 'its text does not match its sha256' }
  return { version: r.version!, text: r.text, updatedAt: r.updatedAt!, sha256: r.sha256 }
}

/** One write in an atomic batch. */
export type StoreOp =
  | { kind: 'node', node: StoredNode }
  | { kind: 'del-node', id: string }
  | { kind: 'token', token: StoredToken }
  | { kind: 'del-token', hash: string }
  | { kind: 'nonce', nonce: string, expiresAt: number }
  | { kind: 'del-nonce', nonce: string }
  | { kind: 'meta', key: string, value: string }
  | { kind: 'del-meta', key: string }
  | { kind: 'policy', policy: StoredPolicy }
  | { kind: 'history', nodeId: string, changes: HealthChange[] }
  | { kind: 'del-history', nodeId: string }

/** Everything read back at start-up. */
export interface StoredState {
  nodes: StoredNode[]
  tokens: StoredToken[]
  nonces: Array<{ nonce: string, expiresAt: number }>
  meta: Map<string, string>
  /** The current access policy; null when none was ever set. */
  policy: StoredPolicy | null
  /** Each node's recent health changes (history.ts), by node id. */
  history: Map<string, HealthChange[]>
}

/** A backend a DurableStore runs on (LevelDB, etcd): the store, plus every record read back with its digest. */
export interface RawStore extends ControlStore {
  /** Every record, parsed, with a digest of each tracked one (store-records.ts). */
  readAll (): Promise<{ state: StoredState, records: Map<string, string> }>
  /**
   * Every record as key and value (store-records.ts), read at one moment: a LevelDB iterator's snapshot, one
   * etcd read at one revision. What a backup holds; etcd's claims and live keys are not records.
   */
  dump (): Promise<Array<[string, string]>>
}

/**
 * What a store shared by several controllers (etcd) notes when a write is decided, so that the write applies
 * only if the records it writes are still as the decision saw them. Opaque outside the store.
 */
export interface StoreCapture { readonly ticket: unknown }

/** How a write is made. */
export interface WriteOptions {
  /** Resolve only after the batch is on stable storage. */
  sync: boolean
  /** On a shared store: what each write of the batch saw when it was decided, in order (ControlStore.capture). */
  captures?: readonly StoreCapture[]
}

/** The durable store. */
export interface ControlStore {
  /** Reads every record. Called once, after open. */
  load (): Promise<StoredState>
  /** Most ops one write may carry (etcd limits a transaction); absent: no limit. GroupCommit keeps its batches within it. */
  readonly maxOps?: number
  /**
   * On a store shared by several controllers: notes the records `ops` write, and the records `reads` (keys of
   * store-records.ts) the decision depended on without writing them, as this controller knows them now (call
   * it in the same tick as the decision). Absent on a store only this controller writes.
   */
  capture? (ops: readonly StoreOp[], reads?: readonly string[]): StoreCapture | undefined
  /**
   * Applies `ops` atomically. With `sync`, resolves only after the batch is on stable storage. With captures,
   * rejects with StoreConflictError, writing nothing, when another controller changed one of their records.
   */
  write (ops: StoreOp[], opts: WriteOptions): Promise<void>
  close (): Promise<void>
}
