/**
 * The controller's durable state behind a small interface, so that a replicated store (etcd, raft) can
 * replace LevelDB later without touching the registry. Everything durable is one of four record kinds;
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

/** Everything read back at start-up. */
export interface StoredState {
  nodes: StoredNode[]
  tokens: StoredToken[]
  nonces: Array<{ nonce: string, expiresAt: number }>
  meta: Map<string, string>
}

/** The durable store. */
export interface ControlStore {
  /** Reads every record. Called once, after open. */
  load (): Promise<StoredState>
  /** Applies `ops` atomically. With `sync`, resolves only after the batch is on stable storage. */
  write (ops: StoreOp[], opts: { sync: boolean }): Promise<void>
  close (): Promise<void>
}
