/**
 * The JSON the page reads from `/v1`, as the dashboard contract describes it. The page keeps its own copy of
 * these shapes rather than importing lib/wire: it is built for the browser and reads only what it shows.
 */

/** Fused health of a node; `removed` appears in history after an admin removes a node. */
export type Health = 'online' | 'offline' | 'control-lost' | 'mesh-lost' | 'left' | 'removed'

/** What the signed-in key may do. */
export type Role = 'admin' | 'viewer'

/** `GET|POST /v1/session`. */
export interface SessionInfo {
  role: Role
  csrf: string
  expiresAt: number
}

/** The controller half of a node's fused health. */
export interface ControlHalf {
  fresh: boolean
  channelOpen: boolean
  /** When its current update channel opened; null while none is open. */
  connectedSince: number | null
}

/** The mesh half: how many fresh peers' SWIM reports hold the node alive, suspect or dead. */
export interface MeshHalf {
  reporters: number
  alive: number
  suspect: number
  dead: number
}

/** What a node advertises and what an admin approved. */
export interface NodeRouting {
  advertised: string[]
  approved: string[]
  enabled: string[]
  exitNode: { advertised: boolean, approved: boolean }
  priority: number
}

/** One row of `GET /v1/nodes`. */
export interface NodeStatus {
  id: string
  hostname: string
  dnsName: string | null
  meshIp: string
  tags: string[]
  endpoints: string[]
  observedEndpoint: string | null
  health: Health
  healthReason: string
  lastSeenAt: number | null
  agentVersion: string | null
  routing: NodeRouting
  control: ControlHalf
  mesh: MeshHalf
}

/** `GET /v1/nodes`. */
export interface NodeList { nodes: NodeStatus[] }

/** A node as the mesh matrix names it. */
export interface MeshNode {
  id: string
  hostname: string
  dnsName: string | null
  meshIp: string
  health: Health
}

/** `GET /v1/mesh`: `rows[i][j]` is what `nodes[i]` reports about `nodes[j]`: `a`, `s`, `d`, `-` (itself), `?` (no fresh report). */
export interface MeshMatrix {
  at: number
  nodes: MeshNode[]
  rows: string[]
}

/** The kinds of event the controller records. */
export type EventType = 'health' | 'join' | 'leave' | 'remove' | 'rename' | 'tags' | 'routes' | 'policy' | 'expiry'

/** One entry of the controller's event log. */
export interface WeftEvent {
  seq: number
  at: number
  type: EventType
  nodeId?: string
  name?: string
  from?: string
  to?: string
  reason: string
}

/** `GET /v1/events`. */
export interface EventPage {
  events: WeftEvent[]
  last: number
}

/** One change of a node's health. */
export interface HealthChange {
  at: number
  health: Health
  reason: string
}

/** One node's health changes in `GET /v1/history`, oldest first. */
export interface NodeHistory {
  id: string
  hostname: string
  dnsName: string | null
  changes: HealthChange[]
}

/** `GET /v1/history`. */
export interface History {
  from: number
  to: number
  nodes: NodeHistory[]
}

/** `GET /v1/info` (the fields the page shows). */
export interface ControllerInfo {
  cidr: string
  protocols?: { weft: string }
}

/** Error body of every 4xx/5xx. */
export interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
}
