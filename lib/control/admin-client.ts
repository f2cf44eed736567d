import { readFile } from 'node:fs/promises'
import { ConfigError, ControllerError } from '../errors.js'
import type { CreateTokenResponse, ErrorBody, NodeListResponse } from '../wire/api.js'

/** Where the admin CLI finds the controller and its key. */
export interface AdminTarget {
  /** Base URL. Default: http://127.0.0.1:8080 (the controller's default listen address). */
  controllerUrl: string
  adminKey: string
  /** The file the key was read from, named in the hint of a 401. */
  adminKeyFile?: string
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
 * The admin side of the controller API over fetch. Errors come back as ControllerError carrying the
 * HTTP status and the server's WEFT_ERR_* code.
 */
export class AdminClient {
  constructor (private readonly t: AdminTarget) {}

  /** `POST /v1/tokens`. */
  async createToken (opts: { reusable: boolean, ttlMs: number }): Promise<CreateTokenResponse> {
    return await this.call<CreateTokenResponse>('POST', '/v1/tokens', { reusable: opts.reusable, ttlMs: opts.ttlMs })
  }

  /** `GET /v1/nodes`. */
  async listNodes (): Promise<NodeListResponse> {
    return await this.call<NodeListResponse>('GET', '/v1/nodes')
  }

  /** `DELETE /v1/nodes/:id`. */
  async removeNode (id: string): Promise<void> {
    await this.call<undefined>('DELETE', `/v1/nodes/${encodeURIComponent(id)}`)
  }

  private async call<T> (method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.t.controllerUrl)
    let res: Response
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${this.t.adminKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(15_000)
      })
    } catch (err) {
      throw new ControllerError(`cannot reach the controller at ${this.t.controllerUrl}: ${(err as Error).message}`)
    }
    const text = await res.text()
    if (!res.ok) {
      let e: Partial<ErrorBody> = {}
      try { e = JSON.parse(text) as ErrorBody } catch {}
      const hint = res.status === 401 ? `. The controller did not accept the admin key from ${this.t.adminKeyFile ?? 'the key file'}; if that file was edited or replaced, ` +
        'restore it from a backup, or restart the controller with --rotate-admin-key to write a new DATA/admin.key (the old key stops working).' : ''
      throw new ControllerError(`controller answered ${res.status}: ${e.message ?? text.slice(0, 200)}${hint}`, res.status, e.code)
    }
    return (text === '' ? undefined : JSON.parse(text)) as T
  }
}
