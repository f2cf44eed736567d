/**
 * The JSON the page reads from `/v1`: the controller's own types (lib/wire/api.ts), imported for their shapes only
 * (nothing of lib/ is bundled), under the names the page uses.
 */
import type {
  ControllerInfo, ErrorBody, EventsResponse, HealthChange, HistoryResponse, MeshEvent, MeshEventType, MeshMatrix, NodeHistory, NodeListResponse, NodeRouting,
  NodeStatus, SessionInfo
} from '../../lib/wire/api.js'
import type { NodeHealth } from '../../lib/wire/netmap.js'

export type { ControllerInfo, ErrorBody, HealthChange, MeshMatrix, NodeHistory, NodeRouting, NodeStatus, SessionInfo }

/** Fused health of a node; `removed` appears in history after an admin removes a node. */
export type Health = NodeHealth

/** What the signed-in key may do. */
export type Role = SessionInfo['role']

/** The controller half of a node's fused health. */
export type ControlHalf = NodeStatus['control']

/** The mesh half: how many fresh peers' SWIM reports hold the node alive, suspect or dead. */
export type MeshHalf = NodeStatus['mesh']

/** `GET /v1/nodes`. */
export type NodeList = NodeListResponse

/** A node as the mesh matrix names it. */
export type MeshNode = MeshMatrix['nodes'][number]

/** The kinds of event the controller records. */
export type EventType = MeshEventType

/** One entry of the controller's event log. */
export type WeftEvent = MeshEvent

/** `GET /v1/events`. */
export type EventPage = EventsResponse

/** `GET /v1/history`. */
export type History = HistoryResponse
