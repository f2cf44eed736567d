import type { NodeHealth, NodeRecord } from './netmap.js'

/**
 * Request and response bodies of the controller's HTTP API (`/v1`), shared by controller and daemon.
 * docs/api.md documents each route; lib/wire/schemas.ts holds the JSON schemas fastify validates with.
 */

/** The API version: the first path segment of every route (`/v1/...`). */
export const API_VERSION = 'v1'

/** `GET /v1/info` (no auth): what a node needs before it can register. */
export interface ControllerInfo {
  /** Controller's X25519 public key, base64; the proof of possession is keyed by DH with it. */
  publicKey: string
  cidr: string
  epoch: string
  version: number
  heartbeatIntervalMs: number
  /** What the controller speaks (lib/wire/compat.ts); absent from controllers that predate it. */
  protocols?: ControllerProtocols
}

/** The versions a node must match to register and follow a controller, and the controller's release. */
export interface ControllerProtocols {
  /** The API's path prefix, `v1`. */
  api: string
  /** The registration proof's version (lib/wire/proof.ts). */
  registrationProof: string
  /** The controller's Weft release, for the operator. */
  weft: string
}

/** `POST /v1/register`. Needs `token`, or a node credential (Authorization: Bearer) for the same key. */
export interface RegisterRequest {
  publicKey: string
  /** Ed25519 key the node signs its SWIM claims with, base64 (lib/wire/keys.ts SigningKey); bound by the proof. */
  signingKey: string
  hostname: string
  endpoints: string[]
  /** WireGuard listen port; with the request's source address it forms the observed endpoint. */
  listenPort: number
  swimPort: number
  /** ms since epoch, when the proof was made. */
  timestamp: number
  /** 16 random bytes, base64; never accepted twice. */
  nonce: string
  /** HMAC over the canonical message (lib/wire/proof.ts), base64. */
  proof: string
  token?: string
  /**
   * The mesh IP this key held before, asked for again: sent by a daemon that registers from saved state
   * after the controller lost its record. Given when no other key holds it. Bound by the proof.
   */
  meshIp?: string
}

export interface RegisterResponse {
  nodeId: string
  meshIp: string
  cidr: string
  /** New node credential; present on first registration and when a token re-registers a known key. Shown once. */
  credential?: string
  controllerPublicKey: string
  heartbeatIntervalMs: number
}

/** What a daemon's SWIM agent currently believes about others. */
export interface SwimReport {
  /** The reporter's own incarnation. */
  incarnation: number
  suspect: Array<{ id: string, incarnation: number }>
  dead: Array<{ id: string, incarnation: number }>
}

/** `POST /v1/heartbeat` (node auth). */
export interface HeartbeatRequest {
  endpoints: string[]
  listenPort: number
  /** The netmap version the daemon has applied. */
  netmapVersion?: number
  /** Daemon software version. */
  agentVersion?: string
  swim?: SwimReport
}

export interface HeartbeatResponse {
  epoch: string
  version: number
  heartbeatIntervalMs: number
}

/** `POST /v1/tokens` (admin). */
export interface CreateTokenRequest {
  reusable?: boolean
  /** Lifetime in ms. Default 24 h. */
  ttlMs?: number
  /** What the token is for, shown by `weft token list`; not secret. */
  description?: string
  /** Nodes this token admits expire this long after their registration, ms. Default: never. */
  nodeTtlMs?: number
  /**
   * Tags every node this token admits gets, replacing the node's own (lib/wire/tags.ts); with a policy set, each
   * must be declared in its `tagOwners`. Default: none, and a node keeps the tags it has.
   */
  tags?: string[]
  /**
   * A viewer key instead of a join token: it signs in to the dashboard and reads the read-only routes
   * (docs/dashboard.md), and admits no node. Not with `reusable`, `nodeTtlMs` or `tags`. Default: false.
   */
  viewer?: boolean
}

export interface CreateTokenResponse {
  /** The secret, shown once. */
  token: string
  /** Stable, non-secret id: what `weft token list` shows and `weft token revoke` takes. */
  id: string
  reusable: boolean
  expiresAt: number
  description: string | null
  nodeTtlMs: number | null
  /** Tags the nodes it admits get, sorted; empty: none. */
  tags: string[]
  /** A viewer key (`wv_...`), not a join token. */
  viewer: boolean
}

/**
 * What a join token can do now, in this order of precedence: `revoked` (an admin revoked it), `spent` (a
 * single-use token admitted its node), `expired` (its lifetime ended), `active` (it admits nodes).
 */
export type TokenState = 'active' | 'spent' | 'expired' | 'revoked'

/** Every TokenState value, for schemas. */
export const TOKEN_STATES: readonly TokenState[] = ['active', 'spent', 'expired', 'revoked']

/** One row of `GET /v1/tokens` (admin). Carries no secret and no hash. */
export interface TokenInfo {
  id: string
  description: string | null
  reusable: boolean
  createdAt: number
  expiresAt: number
  /** Registrations it admitted. */
  uses: number
  lastUsedAt: number | null
  revokedAt: number | null
  nodeTtlMs: number | null
  /** Tags the nodes it admits get, sorted; empty: none. */
  tags: string[]
  /** A viewer key: it reads, it admits no node. */
  viewer: boolean
  state: TokenState
}

export interface TokenListResponse { tokens: TokenInfo[] }

/**
 * `PUT /v1/nodes/:id/expiry` (admin): exactly one of `expiresAt` (ms since epoch, in the future; null: never
 * expires) and `ttlMs` (from now on the controller's clock).
 */
export interface NodeExpiryRequest {
  expiresAt?: number | null
  ttlMs?: number
}

/** One row of `GET /v1/nodes` (admin): the netmap record plus control-side facts. */
export interface NodeStatus extends NodeRecord {
  /** Last heartbeat or update-channel activity, ms since epoch; null if never. */
  lastSeenAt: number | null
  /** Whether its update channel is open now. */
  connected: boolean
  /** Netmap version the daemon last said it applied. */
  netmapVersion: number | null
  agentVersion: string | null
  /** Why the health is what it is, in words. */
  healthReason: string
  /** When its credential stops working and the controller removes it; null: never. */
  expiresAt: number | null
  /** The join token it registered with, when known. */
  tokenId: string | null
  /** What it advertises and what is approved. */
  routing: NodeRouting
  /** Its tags, sorted; empty: none (the netmap record then has no `tags`). */
  tags: string[]
  /** Its name with the mesh's domain (`web-2.weft.internal`), as every daemon's resolver answers for it; null: it has no name yet. */
  dnsName: string | null
  /** The controller's half of the fused health (docs/controller.md, "Health fusion"). */
  control: {
    /** Its heartbeats are fresh and its update channel is not gone past the grace period (here, or at another controller). */
    fresh: boolean
    /** An update channel of it is open (to this controller, or to another one of the store). */
    channelOpen: boolean
    /** When its update channel to this controller opened; null while none is open here. */
    connectedSince: number | null
  }
  /** The mesh's half: how many peers with fresh reports hold it alive, suspect or dead. */
  mesh: { reporters: number, alive: number, suspect: number, dead: number }
}

/** `POST /v1/session`: the admin key or a viewer key. */
export interface SignInRequest { key: string }

/** A dashboard session (`POST` and `GET /v1/session`); the session itself is in an HttpOnly cookie. */
export interface SessionInfo {
  role: 'admin' | 'viewer'
  /** Sent back in the `X-Weft-CSRF` header with every change made with the session. */
  csrf: string
  expiresAt: number
}

/** What an event of the timeline is about. */
export type MeshEventType = 'health' | 'join' | 'leave' | 'remove' | 'rename' | 'tags' | 'routes' | 'policy' | 'expiry'

/** Every MeshEventType, for schemas. */
export const MESH_EVENT_TYPES: readonly MeshEventType[] = ['health', 'join', 'leave', 'remove', 'rename', 'tags', 'routes', 'policy', 'expiry']

/** One event of the controller's timeline (`GET /v1/events`, `GET /v1/events/stream`). */
export interface MeshEvent {
  /** Numbers events from 1 per controller start. */
  seq: number
  at: number
  type: MeshEventType
  nodeId?: string
  /** The node's DNS name, else its hostname. */
  name?: string
  from?: string
  to?: string
  /** Why, in words (a health change's evidence, who changed what). */
  reason: string
}

/** `GET /v1/events`. */
export interface EventsResponse { events: MeshEvent[], last: number }

/**
 * `GET /v1/mesh`: who holds whom alive, suspect or dead. `rows[i]` is what `nodes[i]` reports of every node, one
 * character each in the order of `nodes`: `a` alive, `s` suspect, `d` dead, `-` itself, `?` no fresh report.
 */
export interface MeshMatrix {
  at: number
  nodes: Array<{ id: string, hostname: string, dnsName: string | null, meshIp: string, health: NodeHealth }>
  rows: string[]
}

/** One change of a node's fused health, as the history keeps it. */
export interface HealthChange { at: number, health: NodeHealth, reason: string }

/** One node's health history (`GET /v1/nodes/:id/history`): from `from` to `to`, the first entry the health it had at `from`. */
export interface NodeHistory { id: string, hostname: string, dnsName: string | null, changes: HealthChange[] }

/** `GET /v1/history`. */
export interface HistoryResponse { from: number, to: number, nodes: NodeHistory[] }

/** `PUT /v1/nodes/:id/tags` (admin): the node's tags from now on, replacing its own; an empty list clears them. */
export interface NodeTagsRequest { tags: string[] }

/** `PUT /v1/nodes/:id/name` (admin): the node's DNS label from now on (docs/dns.md); its name is `<name>.<domain>`. */
export interface NodeRenameRequest { name: string }

/**
 * `PUT /v1/node/routes` (node): what this node advertises, in full; it replaces the previous advertisement.
 * Routes are IPv4 CIDRs in canonical form (docs/routes.md).
 */
export interface AdvertiseRequest {
  routes: string[]
  exitNode: boolean
  priority: number
}

/** A node's routes: advertised by it, approved by an admin, and enabled (both: what the netmap carries). */
export interface NodeRouting {
  advertised: string[]
  approved: string[]
  enabled: string[]
  exitNode: { advertised: boolean, approved: boolean }
  priority: number
}

/** `POST /v1/nodes/:id/routes` (admin): routes to approve and to reject, each a CIDR or `exit`. */
export interface RouteDecisionRequest {
  approve?: string[]
  reject?: string[]
}

export interface NodeListResponse { nodes: NodeStatus[] }

/** `GET /v1/policy` (admin): the access policy as stored. */
export interface PolicyInfo {
  /** Counts the policy's changes, from 1; it outlives controller restarts. */
  version: number
  /** The document, exactly as it was set. */
  text: string
  /** When this version was set, ms since epoch. */
  updatedAt: number
  /** Hex sha256 of `text` (UTF-8). */
  sha256: string
}

/** `PUT /v1/policy` (admin): a new policy document. */
export interface SetPolicyRequest {
  text: string
  /** Compare-and-set: refused (409) unless the current version is this one; 0 means no policy is set. */
  ifVersion?: number
}

/** The answer to `PUT /v1/policy`: the version now in force; `changed` false when the text was the current one. */
export interface SetPolicyResponse {
  version: number
  updatedAt: number
  sha256: string
  changed: boolean
}

/** `POST /v1/policy/test` (admin): may `src` reach `dst`? */
export interface PolicyTestRequest {
  /** `*`, a node's hostname or mesh IP, `group:x`, `tag:x`, a host of the policy, an IPv4 address or CIDR. */
  src: string
  /** The same, with `:PORT` (optional for ICMP). */
  dst: string
  /** Default: tcp. */
  proto?: 'tcp' | 'udp' | 'icmp'
}

/** The policy's answer for one pair of endpoints `src` and `dst` stand for. */
export interface PolicyFlow {
  /** The source endpoint: a node as `hostname (mesh IP)`, or the name as given. */
  src: string
  dst: string
  accept: boolean
  /** Index in `acls` of the rule that accepts; null when none does (or no policy is set). */
  rule: number | null
  /** Line of that rule in the document; null with it. */
  line: number | null
}

/** The answer to `POST /v1/policy/test`. */
export interface PolicyTestResponse {
  /** Version of the policy that answered; null when none is set, and every flow is accepted. */
  version: number | null
  proto: 'tcp' | 'udp' | 'icmp'
  port: number
  /** True when every flow is accepted. */
  accept: boolean
  flows: PolicyFlow[]
  /** Said when no policy is set. */
  note?: string
}

/** Error body of every 4xx/5xx. */
export interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
}

export type { NodeHealth }
