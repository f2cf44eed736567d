import { MAX_INCARNATION } from '../swim/incarnation.js'
import { NODE_HEALTHS } from './netmap.js'
import { TOKEN_STATES } from './api.js'
import { MAX_ROUTES, PRIORITY } from './routes.js'
import { MAX_TAGS } from './tags.js'
import { MESH_EVENT_TYPES } from './api.js'
import { MAX_POLICY_BYTES } from '../policy/document.js'

/**
 * JSON schemas of the controller API (fastify validates with them and @fastify/swagger serves them as
 * OpenAPI). They mirror the TypeScript shapes in api.ts and netmap.ts; change both together.
 */

const key = { type: 'string', pattern: '^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$', description: 'WireGuard public key, base64 (44 characters)' } as const
const endpoint = { type: 'string', minLength: 3, maxLength: 262, pattern: '^\\S+:\\d{1,5}$', description: 'host:port' } as const
const endpoints = { type: 'array', items: endpoint, maxItems: 32 } as const
const port = { type: 'integer', minimum: 1, maximum: 65535 } as const
const nodeId = { type: 'string', minLength: 1, maxLength: 64 } as const
const incarnation = { type: 'integer', minimum: 0, maximum: MAX_INCARNATION } as const
/** Free text an operator attaches to a token: no control characters. */
const description = {
  type: 'string',
  minLength: 1,
  maxLength: 200,
  pattern: '^[^\\u0000-\\u001f\\u007f]+$',
  description: 'what the token is for; shown by weft token list'
} as const
/** A list of tags; the controller checks each (lib/wire/tags.ts) and names the bad one. */
const tags = { type: 'array', items: { type: 'string', maxLength: 67 }, maxItems: MAX_TAGS } as const
const sortedTags = { type: 'array', items: { type: 'string' }, description: 'tags, sorted' } as const
const swimEntry = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'incarnation'],
  properties: { id: nodeId, incarnation }
} as const

/** Error body of every 4xx/5xx (ErrorBody). */
export const errorBody = {
  type: 'object',
  required: ['statusCode', 'code', 'error', 'message'],
  properties: { statusCode: { type: 'integer' }, code: { type: 'string' }, error: { type: 'string' }, message: { type: 'string' } }
} as const

/** NodeRecord. */
export const nodeRecord = {
  type: 'object',
  required: ['id', 'hostname', 'publicKey', 'meshIp', 'endpoints', 'observedEndpoint', 'swimPort', 'health', 'createdAt', 'updatedAt'],
  properties: {
    id: { type: 'string' },
    hostname: { type: 'string' },
    name: { type: 'string', description: 'DNS label, unique in the mesh; the node is <name>.<domain>' },
    publicKey: { type: 'string' },
    signingKey: { type: 'string' },
    meshIp: { type: 'string' },
    endpoints: { type: 'array', items: { type: 'string' } },
    observedEndpoint: { type: ['string', 'null'] },
    swimPort: { type: 'integer' },
    routes: { type: 'array', items: { type: 'string' } },
    exitNode: { type: 'boolean' },
    routePriority: { type: 'integer' },
    tags: sortedTags,
    health: { type: 'string', enum: [...NODE_HEALTHS] },
    createdAt: { type: 'integer' },
    updatedAt: { type: 'integer' }
  }
} as const

/** NetmapPolicy. */
const netmapPolicy = {
  type: 'object',
  required: ['version', 'text'],
  properties: { version: { type: 'integer' }, text: { type: 'string' } }
} as const

/** Netmap. */
export const netmap = {
  type: 'object',
  required: ['epoch', 'version', 'cidr', 'nodes'],
  properties: {
    epoch: { type: 'string' },
    version: { type: 'integer' },
    cidr: { type: 'string' },
    nodes: { type: 'array', items: nodeRecord },
    policy: netmapPolicy,
    dns: {
      type: 'object',
      required: ['domain'],
      properties: { domain: { type: 'string', description: 'the domain of the nodes\' names: each node is <name>.<domain>' } }
    }
  }
} as const

/** ControllerInfo. */
export const controllerInfo = {
  type: 'object',
  required: ['publicKey', 'cidr', 'epoch', 'version', 'heartbeatIntervalMs'],
  properties: {
    publicKey: { type: 'string' },
    cidr: { type: 'string' },
    epoch: { type: 'string' },
    version: { type: 'integer' },
    heartbeatIntervalMs: { type: 'integer' },
    protocols: {
      type: 'object',
      required: ['api', 'registrationProof', 'weft'],
      properties: { api: { type: 'string' }, registrationProof: { type: 'string' }, weft: { type: 'string' } }
    }
  }
} as const

/** RegisterRequest. */
export const registerRequest = {
  type: 'object',
  additionalProperties: false,
  required: ['publicKey', 'signingKey', 'hostname', 'endpoints', 'listenPort', 'swimPort', 'timestamp', 'nonce', 'proof'],
  properties: {
    publicKey: key,
    signingKey: { ...key, description: 'Ed25519 public key for signed SWIM claims, base64 (44 characters)' },
    hostname: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9._-]+$' },
    endpoints,
    listenPort: port,
    swimPort: port,
    timestamp: { type: 'integer', minimum: 0 },
    nonce: { type: 'string', pattern: '^[A-Za-z0-9+/]{22}==$', description: '16 random bytes, base64' },
    proof: { type: 'string', minLength: 44, maxLength: 44, description: 'HMAC-SHA256, base64' },
    token: { type: 'string', minLength: 1, maxLength: 256 },
    meshIp: {
      type: 'string',
      pattern: '^(0|[1-9][0-9]?|1[0-9]{2}|2[0-4][0-9]|25[0-5])(\\.(0|[1-9][0-9]?|1[0-9]{2}|2[0-4][0-9]|25[0-5])){3}$',
      description: 'mesh IP asked for (IPv4, dotted decimal)'
    }
  }
} as const

/** RegisterResponse. */
export const registerResponse = {
  type: 'object',
  required: ['nodeId', 'meshIp', 'cidr', 'controllerPublicKey', 'heartbeatIntervalMs'],
  properties: {
    nodeId: { type: 'string' },
    meshIp: { type: 'string' },
    cidr: { type: 'string' },
    credential: { type: 'string' },
    controllerPublicKey: { type: 'string' },
    heartbeatIntervalMs: { type: 'integer' }
  }
} as const

/** HeartbeatRequest. */
export const heartbeatRequest = {
  type: 'object',
  additionalProperties: false,
  required: ['endpoints', 'listenPort'],
  properties: {
    endpoints,
    listenPort: port,
    netmapVersion: { type: 'integer', minimum: 0 },
    agentVersion: { type: 'string', maxLength: 64 },
    swim: {
      type: 'object',
      additionalProperties: false,
      required: ['incarnation', 'suspect', 'dead'],
      properties: {
        incarnation,
        suspect: { type: 'array', items: swimEntry, maxItems: 100000 },
        dead: { type: 'array', items: swimEntry, maxItems: 100000 }
      }
    }
  }
} as const

/** HeartbeatResponse. */
export const heartbeatResponse = {
  type: 'object',
  required: ['epoch', 'version', 'heartbeatIntervalMs'],
  properties: { epoch: { type: 'string' }, version: { type: 'integer' }, heartbeatIntervalMs: { type: 'integer' } }
} as const

/** Query of `GET /v1/netmap/stream`. */
export const streamQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { epoch: { type: 'string', maxLength: 64 }, since: { type: 'integer', minimum: 0 } }
} as const

/** CreateTokenRequest. */
export const createTokenRequest = {
  type: 'object',
  additionalProperties: false,
  properties: {
    reusable: { type: 'boolean' },
    ttlMs: { type: 'integer', minimum: 1000, maximum: 365 * 86_400_000 },
    description,
    nodeTtlMs: {
      type: 'integer',
      minimum: 1000,
      maximum: 10 * 365 * 86_400_000,
      description: 'nodes this token admits expire this long after their registration, ms'
    },
    tags: { ...tags, description: 'tags every node this token admits gets, replacing its own' },
    viewer: { type: 'boolean', description: 'a viewer key for the dashboard and the read routes; admits no node' }
  }
} as const

/** CreateTokenResponse. */
export const createTokenResponse = {
  type: 'object',
  required: ['token', 'reusable', 'expiresAt'],
  properties: {
    token: { type: 'string' },
    reusable: { type: 'boolean' },
    expiresAt: { type: 'integer' },
    id: { type: 'string' },
    description: { type: ['string', 'null'] },
    nodeTtlMs: { type: ['integer', 'null'] },
    tags: sortedTags,
    viewer: { type: 'boolean' }
  }
} as const

/** NodeRouting. */
export const nodeRouting = {
  type: 'object',
  required: ['advertised', 'approved', 'enabled', 'exitNode', 'priority'],
  properties: {
    advertised: { type: 'array', items: { type: 'string' } },
    approved: { type: 'array', items: { type: 'string' } },
    enabled: { type: 'array', items: { type: 'string' } },
    exitNode: { type: 'object', required: ['advertised', 'approved'], properties: { advertised: { type: 'boolean' }, approved: { type: 'boolean' } } },
    priority: { type: 'integer' }
  }
} as const

/** NodeListResponse. */
export const nodeListResponse = {
  type: 'object',
  required: ['nodes'],
  properties: {
    nodes: {
      type: 'array',
      items: {
        type: 'object',
        required: [...nodeRecord.required, 'lastSeenAt', 'connected', 'netmapVersion', 'agentVersion', 'healthReason', 'routing', 'tags', 'dnsName',
          'control', 'mesh'],
        properties: {
          ...nodeRecord.properties,
          control: {
            type: 'object',
            required: ['fresh', 'channelOpen', 'connectedSince'],
            description: 'the controller\'s half of the fused health',
            properties: { fresh: { type: 'boolean' }, channelOpen: { type: 'boolean' }, connectedSince: { type: ['integer', 'null'] } }
          },
          mesh: {
            type: 'object',
            required: ['reporters', 'alive', 'suspect', 'dead'],
            description: 'the mesh\'s half: fresh peers holding it alive, suspect or dead',
            properties: { reporters: { type: 'integer' }, alive: { type: 'integer' }, suspect: { type: 'integer' }, dead: { type: 'integer' } }
          },
          dnsName: { type: ['string', 'null'], description: 'the node\'s name with the mesh\'s domain; null: no name yet' },
          lastSeenAt: { type: ['integer', 'null'] },
          connected: { type: 'boolean' },
          netmapVersion: { type: ['integer', 'null'] },
          agentVersion: { type: ['string', 'null'] },
          healthReason: { type: 'string' },
          expiresAt: { type: ['integer', 'null'] },
          tokenId: { type: ['string', 'null'] },
          routing: nodeRouting
        }
      }
    }
  }
} as const

/** AdvertiseRequest: routes are checked by the controller (lib/wire/routes.ts), which names the bad one. */
export const advertiseRequest = {
  type: 'object',
  additionalProperties: false,
  required: ['routes', 'exitNode', 'priority'],
  properties: {
    routes: { type: 'array', items: { type: 'string', maxLength: 18 }, maxItems: MAX_ROUTES },
    exitNode: { type: 'boolean' },
    priority: { type: 'integer', minimum: PRIORITY.min, maximum: PRIORITY.max }
  }
} as const

/** RouteDecisionRequest: each entry a CIDR or `exit`. */
export const routeDecisionRequest = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    approve: { type: 'array', items: { type: 'string', maxLength: 18 }, maxItems: MAX_ROUTES + 1 },
    reject: { type: 'array', items: { type: 'string', maxLength: 18 }, maxItems: MAX_ROUTES + 1 }
  }
} as const

/** Path parameter `:id`. */
export const nodeIdParams = { type: 'object', required: ['id'], properties: { id: nodeId } } as const

/** One NodeStatus (a row of NodeListResponse). */
export const nodeStatus = nodeListResponse.properties.nodes.items

/** TokenInfo. */
export const tokenInfo = {
  type: 'object',
  required: ['id', 'description', 'reusable', 'createdAt', 'expiresAt', 'uses', 'lastUsedAt', 'revokedAt', 'nodeTtlMs', 'tags', 'viewer', 'state'],
  properties: {
    id: { type: 'string' },
    description: { type: ['string', 'null'] },
    reusable: { type: 'boolean' },
    createdAt: { type: 'integer' },
    expiresAt: { type: 'integer' },
    uses: { type: 'integer' },
    lastUsedAt: { type: ['integer', 'null'] },
    revokedAt: { type: ['integer', 'null'] },
    nodeTtlMs: { type: ['integer', 'null'] },
    tags: sortedTags,
    viewer: { type: 'boolean' },
    state: { type: 'string', enum: [...TOKEN_STATES] }
  }
} as const

/** TokenListResponse. */
export const tokenListResponse = { type: 'object', required: ['tokens'], properties: { tokens: { type: 'array', items: tokenInfo } } } as const

/** Path parameter `:id` of `/v1/tokens/:id`: `t` and 12 hex digits. */
export const tokenIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^t[0-9a-f]{12}$', description: 'token id, as weft token list shows it' } }
} as const

/** NodeExpiryRequest: exactly one of `expiresAt` and `ttlMs`. */
export const nodeExpiryRequest = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: {
    expiresAt: { type: ['integer', 'null'], minimum: 0, maximum: 8_640_000_000_000_000, description: 'ms since epoch, in the future; null: never expires' },
    ttlMs: { type: 'integer', minimum: 1000, maximum: 10 * 365 * 86_400_000, description: 'expires this long from now, on the controller clock' }
  }
} as const

/** NodeRenameRequest. */
export const nodeRenameRequest = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 63, description: 'a DNS label: letters, digits and -, case-insensitive' } }
} as const

/** NodeTagsRequest. */
export const nodeTagsRequest = {
  type: 'object',
  additionalProperties: false,
  required: ['tags'],
  properties: { tags: { ...tags, description: 'the node\'s tags from now on; [] clears them' } }
} as const

const sha256 = { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'hex sha256 of the text (UTF-8)' } as const
const proto = { type: 'string', enum: ['tcp', 'udp', 'icmp'] } as const

/** PolicyInfo. */
export const policyInfo = {
  type: 'object',
  required: ['version', 'text', 'updatedAt', 'sha256'],
  properties: { version: { type: 'integer' }, text: { type: 'string' }, updatedAt: { type: 'integer' }, sha256 }
} as const

/** SetPolicyRequest: the text is checked by the controller (lib/policy/document.ts), which names the line and column of a problem. */
export const setPolicyRequest = {
  type: 'object',
  additionalProperties: false,
  required: ['text'],
  properties: {
    text: { type: 'string', maxLength: MAX_POLICY_BYTES, description: 'the policy document (docs/policy.md), at most 1 MiB' },
    ifVersion: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'set only if the current version is this; 0: none is set' }
  }
} as const

/** SetPolicyResponse. */
export const setPolicyResponse = {
  type: 'object',
  required: ['version', 'updatedAt', 'sha256', 'changed'],
  properties: { version: { type: 'integer' }, updatedAt: { type: 'integer' }, sha256, changed: { type: 'boolean' } }
} as const

/** PolicyTestRequest. */
export const policyTestRequest = {
  type: 'object',
  additionalProperties: false,
  required: ['src', 'dst'],
  properties: {
    src: { type: 'string', minLength: 1, maxLength: 300, description: '*, a node\'s hostname or mesh IP, group:x, tag:x, a host, an IPv4 address or CIDR' },
    dst: { type: 'string', minLength: 1, maxLength: 306, description: 'the same, with :PORT (optional for icmp)' },
    proto
  }
} as const

/** PolicyTestResponse. */
export const policyTestResponse = {
  type: 'object',
  required: ['version', 'proto', 'port', 'accept', 'flows'],
  properties: {
    version: { type: ['integer', 'null'] },
    proto,
    port: { type: 'integer' },
    accept: { type: 'boolean' },
    flows: {
      type: 'array',
      items: {
        type: 'object',
        required: ['src', 'dst', 'accept', 'rule', 'line'],
        properties: {
          src: { type: 'string' },
          dst: { type: 'string' },
          accept: { type: 'boolean' },
          rule: { type: ['integer', 'null'] },
          line: { type: ['integer', 'null'] }
        }
      }
    },
    note: { type: 'string' }
  }
} as const

/** A backup of the controller's store (lib/control/backup.ts): every record as a [key, value] pair, read at one moment. */
export const controllerBackup = {
  type: 'object',
  required: ['format', 'createdAt', 'storeId', 'records'],
  properties: {
    format: { type: 'string', const: 'weft-controller-backup-v1' },
    createdAt: { type: 'string', description: 'when the records were read, ISO 8601' },
    storeId: { type: 'string' },
    records: { type: 'array', items: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: 2 } }
  }
} as const

/** SignInRequest. */
export const signInRequest = {
  type: 'object',
  additionalProperties: false,
  required: ['key'],
  properties: { key: { type: 'string', minLength: 1, maxLength: 512, description: 'the admin key or a viewer key' } }
} as const

/** SessionInfo. */
export const sessionInfo = {
  type: 'object',
  required: ['role', 'csrf', 'expiresAt'],
  properties: { role: { type: 'string', enum: ['admin', 'viewer'] }, csrf: { type: 'string' }, expiresAt: { type: 'integer' } }
} as const

/** MeshEvent. */
export const meshEvent = {
  type: 'object',
  required: ['seq', 'at', 'type', 'reason'],
  properties: {
    seq: { type: 'integer' },
    at: { type: 'integer' },
    type: { type: 'string', enum: [...MESH_EVENT_TYPES] },
    nodeId: { type: 'string' },
    name: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    reason: { type: 'string' }
  }
} as const

/** EventsResponse. */
export const eventsResponse = {
  type: 'object',
  required: ['events', 'last'],
  properties: { events: { type: 'array', items: meshEvent }, last: { type: 'integer' } }
} as const

/** Query of `GET /v1/events` and `GET /v1/events/stream`. */
export const eventsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    since: { type: 'integer', minimum: 0, description: 'events after this seq' },
    limit: { type: 'integer', minimum: 1, maximum: 1000 }
  }
} as const

/** MeshMatrix. */
export const meshMatrix = {
  type: 'object',
  required: ['at', 'nodes', 'rows'],
  properties: {
    at: { type: 'integer' },
    nodes: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'hostname', 'dnsName', 'meshIp', 'health'],
        properties: {
          id: { type: 'string' },
          hostname: { type: 'string' },
          dnsName: { type: ['string', 'null'] },
          meshIp: { type: 'string' },
          health: { type: 'string', enum: [...NODE_HEALTHS] }
        }
      }
    },
    rows: { type: 'array', items: { type: 'string' }, description: 'rows[i]: what nodes[i] reports of each node: a, s, d, - (itself), ? (no fresh report)' }
  }
} as const

/** NodeHistory. */
export const nodeHistory = {
  type: 'object',
  required: ['id', 'hostname', 'dnsName', 'changes'],
  properties: {
    id: { type: 'string' },
    hostname: { type: 'string' },
    dnsName: { type: ['string', 'null'] },
    changes: {
      type: 'array',
      items: {
        type: 'object',
        required: ['at', 'health', 'reason'],
        properties: { at: { type: 'integer' }, health: { type: 'string', enum: [...NODE_HEALTHS] }, reason: { type: 'string' } }
      }
    }
  }
} as const

/** HistoryResponse. */
export const historyResponse = {
  type: 'object',
  required: ['from', 'to', 'nodes'],
  properties: { from: { type: 'integer' }, to: { type: 'integer' }, nodes: { type: 'array', items: nodeHistory } }
} as const

/** Query of the history routes. */
export const historyQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { since: { type: 'integer', minimum: 0, description: 'ms since the epoch; at most 7 days back (the default: 24 hours back)' } }
} as const
