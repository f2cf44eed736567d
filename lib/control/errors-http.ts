import { STATUS_CODES } from 'node:http'
import { WeftError } from '../errors.js'
import type { ErrorBody } from '../wire/api.js'

/**
 * Maps anything a handler throws to an HTTP status and an ErrorBody. Client mistakes (validation, bad
 * JSON, oversized bodies, wrong content type) become 4xx with fastify's message; only our own failures
 * are 5xx, and their message does not leak internals.
 */
export function errorReply (err: unknown): { status: number, body: ErrorBody } {
  if (err instanceof WeftError) {
    // 507 is a server-side status; a full pool is a state the caller can act on (remove nodes), so 409.
    const status = err.code === 'WEFT_ERR_POOL_EXHAUSTED' ? 409 : err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    return { status, body: body(status, err.code, err.message) }
  }
  const e = err as { validation?: unknown, statusCode?: number, code?: string, message?: string }
  if (e.validation !== undefined) return { status: 400, body: body(400, 'WEFT_ERR_INVALID_INPUT', e.message ?? 'invalid request') }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code = e.statusCode === 413 ? 'WEFT_ERR_BODY_TOO_LARGE' : e.statusCode === 429 ? 'WEFT_ERR_RATE_LIMITED' : 'WEFT_ERR_INVALID_INPUT'
    return { status: e.statusCode, body: body(e.statusCode, code, e.message ?? 'bad request') }
  }
  return { status: 500, body: body(500, 'WEFT_ERR_INTERNAL', 'internal error; see the controller log') }
}

function body (status: number, code: string, message: string): ErrorBody {
  return { statusCode: status, code, error: STATUS_CODES[status] ?? 'Error', message }
}
