import { Pool } from 'undici'
import { generateKeyPair, type KeyPair, SigningKey } from '../../lib/wire/keys.js'
import { newNonce, signRegistration } from '../../lib/wire/proof.js'
import type {
  ControllerInfo, CreateTokenRequest, CreateTokenResponse, HeartbeatRequest, HeartbeatResponse, NodeListResponse, RegisterRequest, RegisterResponse,
  SetPolicyRequest, SetPolicyResponse, TokenListResponse
} from '../../lib/wire/api.js'

/**
 * The simulated nodes' side of the controller API: identities, token, register and heartbeat, over undici
 * pools with keep-alive. Each simulated node always talks from the same loopback source address, as a
 * real node keeps its address, so the controller's observed endpoint for it never flaps.
 */

/** Everything a simulated node presents to the controller. */
export interface NodeIdentity {
  index: number
  keys: KeyPair
  hostname: string
  endpoints: string[]
  listenPort: number
  swimPort: number
  /** Loopback source address all of this node's connections use. */
  sourceIp: string
}

/** A simulated node after registration. */
export interface RegisteredNode extends NodeIdentity {
  nodeId: string
  meshIp: string
  credential: string
}

/** An HTTP answer the bench did not expect; carries the status and the controller's error code. */
export class ApiError extends Error {
  constructor (readonly route: string, readonly statusCode: number, readonly body: string, readonly retryAfterMs: number | null) {
    super(`${route} answered ${statusCode}: ${body.slice(0, 300)}`)
  }
}

/** The `k`-th loopback source address (k >= 0): 127.88.x.y. Linux accepts any 127/8 address as local. */
export function sourceAddress (k: number): string {
  const n = k + 1
  return `127.88.${(n >> 8) & 255}.${n & 255}`
}

/** A fresh identity for simulated node `index`; its advertised endpoint lies in the underlay range 198.18.0.0/15. */
export function makeIdentity (index: number, sourceIps: number): NodeIdentity {
  const hi = 18 + ((index >> 16) & 1)
  return {
    index,
    keys: generateKeyPair(),
    hostname: `bench-${index}`,
    endpoints: [`198.${hi}.${(index >> 8) & 255}.${index & 255}:51820`],
    listenPort: 51820,
    swimPort: 7946,
    sourceIp: sourceAddress(index % sourceIps)
  }
}

/** One undici pool per source address; requests of a node go through its own address's pool. */
export class ApiClient {
  private readonly pools = new Map<string, Pool>()

  /** `connectionsPerSource`: keep-alive sockets per source address. */
  constructor (readonly origin: string, private readonly connectionsPerSource: number) {}

  /** Sockets this client may hold at most, for the open-files check. */
  maxSockets (sources: number): number {
    return sources * this.connectionsPerSource
  }

  private pool (sourceIp: string): Pool {
    let p = this.pools.get(sourceIp)
    if (p === undefined) {
      p = new Pool(this.origin, { connections: this.connectionsPerSource, localAddress: sourceIp, pipelining: 1 })
      this.pools.set(sourceIp, p)
    }
    return p
  }

  private async call<T> (route: string, sourceIp: string, method: 'GET' | 'POST' | 'PUT', path: string, body: unknown, bearer: string | null): Promise<T> {
    const headers: Record<string, string> = {}
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (bearer !== null) headers.authorization = `Bearer ${bearer}`
    const res = await this.pool(sourceIp).request({ method, path, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.body.text()
    if (res.statusCode < 200 || res.statusCode > 299) {
      const ra = Number(res.headers['retry-after'])
      throw new ApiError(route, res.statusCode, text, Number.isFinite(ra) ? ra * 1000 : null)
    }
    return (text === '' ? undefined : JSON.parse(text)) as T
  }

  /** `POST /v1/tokens` with the admin key: a reusable join token for every simulated node. */
  async createToken (adminKey: string, ttlMs: number): Promise<CreateTokenResponse> {
    const req: CreateTokenRequest = { reusable: true, ttlMs }
    return await this.call<CreateTokenResponse>('POST /v1/tokens', sourceAddress(0), 'POST', '/v1/tokens', req, adminKey)
  }

  /** `GET /v1/tokens` with the admin key. */
  async listTokens (adminKey: string): Promise<TokenListResponse> {
    return await this.call<TokenListResponse>('GET /v1/tokens', sourceAddress(0), 'GET', '/v1/tokens', undefined, adminKey)
  }

  /** `GET /v1/nodes` with the admin key. */
  async listNodes (adminKey: string): Promise<NodeListResponse> {
    return await this.call<NodeListResponse>('GET /v1/nodes', sourceAddress(0), 'GET', '/v1/nodes', undefined, adminKey)
  }

  /** `PUT /v1/policy` with the admin key. */
  async setPolicy (adminKey: string, req: SetPolicyRequest): Promise<SetPolicyResponse> {
    return await this.call<SetPolicyResponse>('PUT /v1/policy', sourceAddress(0), 'PUT', '/v1/policy', req, adminKey)
  }

  /** `POST /v1/register` with a fresh proof of key possession. */
  async register (info: ControllerInfo, id: NodeIdentity, token: string, nowMs: number): Promise<RegisteredNode> {
    const fields = {
      publicKey: id.keys.publicKey,
      signingKey: SigningKey.derive(id.keys.privateKey).publicKey,
      hostname: id.hostname,
      endpoints: id.endpoints,
      timestamp: nowMs,
      nonce: newNonce()
    }
    const req: RegisterRequest = {
      ...fields,
      listenPort: id.listenPort,
      swimPort: id.swimPort,
      proof: signRegistration(id.keys.privateKey, info.publicKey, fields),
      token
    }
    const res = await this.call<RegisterResponse>('POST /v1/register', id.sourceIp, 'POST', '/v1/register', req, null)
    if (res.credential === undefined) throw new ApiError('POST /v1/register', 200, 'no credential in the response to a first registration', null)
    return { ...id, nodeId: res.nodeId, meshIp: res.meshIp, credential: res.credential }
  }

  /** `POST /v1/heartbeat` as `node`. */
  async heartbeat (node: RegisteredNode, req: HeartbeatRequest): Promise<HeartbeatResponse> {
    return await this.call<HeartbeatResponse>('POST /v1/heartbeat', node.sourceIp, 'POST', '/v1/heartbeat', req, node.credential)
  }

  /** Closes every pool. */
  async close (): Promise<void> {
    await Promise.all([...this.pools.values()].map(async p => await p.close()))
    this.pools.clear()
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; resolves when all are done, rejects on the first failure. */
export async function forEachLimited<T> (items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      await fn(items[i]!, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
