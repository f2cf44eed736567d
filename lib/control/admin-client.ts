import { readFile } from 'node:fs/promises'
import type { Clock } from '../clock.js'
import { ControllerHttp, type Expect } from '../client/http.js'
import type { ControllerTrust } from '../client/trust.js'
import { Code, ConfigError, ControllerError, ControllerUnreachableError, PolicyError } from '../errors.js'
import type { Backup } from './backup.js'
import type {
  CreateTokenRequest, CreateTokenResponse, NodeExpiryRequest, NodeListResponse, NodeRenameRequest, NodeStatus, NodeTagsRequest, PolicyInfo,
  PolicyTestRequest, PolicyTestResponse, RouteDecisionRequest, SetPolicyRequest, SetPolicyResponse, TokenInfo, TokenListResponse
} from '../wire/api.js'

/** Largest answer an admin call reads: a node list or a backup of a large mesh runs to megabytes (about 500 bytes a node). */
const ADMIN_MAX_BYTES = 256 << 20

/** Where the admin CLI finds the controller and its key. */
export interface AdminTarget {
  /**
   * Base URLs, each with a proxy's path prefix if any: one controller, or every controller of a shared store,
   * tried in order until one answers (a dead one does not). No default here; the CLI's is the controller's
   * default listen address (cmd/admin-flags.ts).
   */
  controllerUrls: string[]
  adminKey: string
  /** The file the key was read from, named in the hint of a 401. */
  adminKeyFile?: string
  /** What an https:// controller must present. Default: the system's CAs. */
  trust?: ControllerTrust
}

/**
 * The admin key file to read: `--admin-key`, else WEFT_ADMIN_KEY_FILE. There is no default path: a key read
 * from wherever the command happens to run would be a guess. Throws ConfigError naming both and where the
 * controller writes the key.
 */
export function adminKeyFile (flag: string | undefined, env: string | undefined): string {
  const file = flag ?? (env !== undefined && env !== '' ? env : undefined)
  if (file === undefined) {
    throw new ConfigError('no admin key: pass --admin-key FILE or set WEFT_ADMIN_KEY_FILE=FILE. The controller writes the key to ' +
      'DATA/admin.key (mode 0600) at its first start, DATA being its --data directory; copy it to this machine by a secure channel if needed')
  }
  return file
}

/** Reads an admin key file (as written by the controller to DATA/admin.key). */
export async function readAdminKey (path: string): Promise<string> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read the admin key file ${path}: ${(err as Error).message} (pass --admin-key DATA/admin.key or set WEFT_ADMIN_KEY_FILE; ` +
      'if DATA/admin.key was deleted and no copy exists, restart the controller with --rotate-admin-key to write a new one)', { cause: err })
  }
  const key = text.trim()
  if (key === '') throw new ConfigError(`admin key file ${path} is empty`)
  return key
}

/**
 * The admin side of the controller API, over the same client as the daemon's (lib/client/http.ts). Errors
 * come back as ControllerError carrying the HTTP status and the server's WEFT_ERR_* code, or as a coded
 * sentence when the controller cannot be reached.
 */
export class AdminClient {
  private readonly https: ControllerHttp[]

  /** `clock` times out each request. */
  constructor (private readonly t: AdminTarget, clock: Clock) {
    this.https = t.controllerUrls.map(u => new ControllerHttp(u, { trust: t.trust ?? {}, requestTimeoutMs: 15_000, keepAlive: false, maxSockets: 1, clock }))
  }

  /** `POST /v1/tokens`. */
  async createToken (opts: CreateTokenRequest & { reusable: boolean, ttlMs: number }): Promise<CreateTokenResponse> {
    return await this.call<CreateTokenResponse>('POST', '/v1/tokens', 'json', opts)
  }

  /** `GET /v1/tokens`. */
  async listTokens (): Promise<TokenListResponse> {
    return await this.call<TokenListResponse>('GET', '/v1/tokens', 'json')
  }

  /** `DELETE /v1/tokens/:id`: the token as revoked. */
  async revokeToken (id: string): Promise<TokenInfo> {
    return await this.call<TokenInfo>('DELETE', `/v1/tokens/${encodeURIComponent(id)}`, 'json')
  }

  /** `PUT /v1/nodes/:id/expiry`: the node with its new expiry. */
  async setNodeExpiry (id: string, req: NodeExpiryRequest): Promise<NodeStatus> {
    return await this.call<NodeStatus>('PUT', `/v1/nodes/${encodeURIComponent(id)}/expiry`, 'json', req)
  }

  /** `POST /v1/nodes/:id/routes`: the node with its routes after the decision. */
  async decideRoutes (id: string, req: RouteDecisionRequest): Promise<NodeStatus> {
    return await this.call<NodeStatus>('POST', `/v1/nodes/${encodeURIComponent(id)}/routes`, 'json', req)
  }

  /** `PUT /v1/nodes/:id/name`: the node with its new name. */
  async renameNode (id: string, req: NodeRenameRequest): Promise<NodeStatus> {
    return await this.call<NodeStatus>('PUT', `/v1/nodes/${encodeURIComponent(id)}/name`, 'json', req)
  }

  /** `PUT /v1/nodes/:id/tags`: the node with its new tags. */
  async setNodeTags (id: string, req: NodeTagsRequest): Promise<NodeStatus> {
    return await this.call<NodeStatus>('PUT', `/v1/nodes/${encodeURIComponent(id)}/tags`, 'json', req)
  }

  /** `GET /v1/policy`: the policy as stored (NotFound from the controller when none was ever set). */
  async getPolicy (): Promise<PolicyInfo> {
    return await this.call<PolicyInfo>('GET', '/v1/policy', 'json')
  }

  /**
   * `PUT /v1/policy`: the version in force afterwards. A document the controller refuses comes back as a
   * PolicyError with the controller's own sentence (`line:column: ...`), for the caller to name its file.
   */
  async setPolicy (req: SetPolicyRequest): Promise<SetPolicyResponse> {
    try {
      return await this.call<SetPolicyResponse>('PUT', '/v1/policy', 'json', req)
    } catch (err) {
      if (err instanceof ControllerError && err.remoteCode === Code.POLICY && err.remoteMessage !== undefined) throw new PolicyError(err.remoteMessage)
      throw err
    }
  }

  /** `POST /v1/policy/test`: what the policy in force says about a flow. */
  async testPolicy (req: PolicyTestRequest): Promise<PolicyTestResponse> {
    return await this.call<PolicyTestResponse>('POST', '/v1/policy/test', 'json', req)
  }

  /** `GET /v1/nodes`. */
  async listNodes (): Promise<NodeListResponse> {
    return await this.call<NodeListResponse>('GET', '/v1/nodes', 'json')
  }

  /** `GET /v1/backup`: every record of the store, read at one moment. */
  async backup (): Promise<Backup> {
    return await this.call<Backup>('GET', '/v1/backup', 'json')
  }

  /** `DELETE /v1/nodes/:id`: 204 with no body. */
  async removeNode (id: string): Promise<void> {
    await this.call<undefined>('DELETE', `/v1/nodes/${encodeURIComponent(id)}`, 'empty')
  }

  /**
   * One request, to the first controller of the list that takes the connection: a controller that refused it,
   * or whose name or address leads nowhere, never saw the request, so the next is asked. Any other failure
   * (a timeout, a reset) may have come after the request was handled, and ends the call.
   */
  private async call<T> (method: string, path: string, expect: Expect, body?: unknown): Promise<T> {
    try {
      for (let i = 0; ; i++) {
        try {
          const opts = { bearer: this.t.adminKey, expect, maxBytes: ADMIN_MAX_BYTES, ...(body !== undefined ? { body } : {}) }
          return await this.https[i]!.call<T>(method, path, opts)
        } catch (err) {
          const unsent = err instanceof ControllerUnreachableError && ['refused', 'dns', 'unreachable'].includes(err.reason)
          if (!unsent || i === this.https.length - 1) throw err
        }
      }
    } catch (err) {
      if (!(err instanceof ControllerError) || err.statusCode !== 401) throw err
      throw new ControllerError(`${err.message}. The controller did not accept the admin key from ${this.t.adminKeyFile ?? 'the key file'}; ` +
        'if that file was edited or replaced, restore it from a backup, or restart the controller with --rotate-admin-key to write a new ' +
        'DATA/admin.key (the old key stops working).', 401, err.remoteCode)
    }
  }
}
