import { STATUS_CODES } from 'node:http'
import { Code, WeftError, type WeftCode } from '../errors.js'
import type { ErrorBody } from '../wire/api.js'

/**
 * Maps anything a handler throws to an HTTP status and an ErrorBody. A WeftError answers with the status it
 * was made with (lib/errors.ts HTTP_STATUS; 500 when it has none). Client mistakes that fastify or Node
 * decide (validation, bad JSON, oversized bodies, wrong content type) become 4xx with fastify's message; any
 * other failure is a 500 whose message does not leak internals.
 */
export function errorReply (err: unknown): { status: number, body: ErrorBody } {
  if (err instanceof WeftError) {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    return { status, body: body(status, err.code, err.message) }
  }
  const e = err as { validation?: unknown, statusCode?: number, code?: string, message?: string }
  if (e.validation !== undefined) return { status: 400, body: body(400, Code.INVALID_INPUT, e.message ?? 'invalid request') }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, body: body(e.statusCode, codeForStatus(e.statusCode), frameworkMessage(e.code) ?? e.message ?? 'bad request') }
  }
  return { status: 500, body: body(500, Code.INTERNAL, 'internal error; see the controller log') }
}

/** The WEFT_ERR_* code of a 4xx that fastify or Node's HTTP parser decided, not one of our handlers. */
export function codeForStatus (status: number): WeftCode {
  switch (status) {
    case 404: return Code.NOT_FOUND
    case 408: return Code.REQUEST_TIMEOUT
    case 413: return Code.BODY_TOO_LARGE
    case 414: return Code.URI_TOO_LONG
    case 415: return Code.UNSUPPORTED_MEDIA_TYPE
    case 429: return Code.RATE_LIMITED
    case 431: return Code.HEADERS_TOO_LARGE
    default: return Code.INVALID_INPUT
  }
}

/** Our wording for fastify errors whose own message echoes the request or names no fix. */
function frameworkMessage (code: string | undefined): string | undefined {
  switch (code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return 'request bodies must be JSON (Content-Type: application/json)'
    case 'FST_ERR_MAX_PARAM_LENGTH': return 'a path parameter is longer than 100 characters'
    case 'FST_ERR_BAD_URL': return 'the URL path is not valid percent-encoding'
    default: return undefined
  }
}

/**
 * The raw HTTP/1.1 answer to a request that Node's HTTP parser refused before fastify saw it (fastify's
 * `clientErrorHandler`): 431 for a request line plus headers above Node's 16 KiB limit (a long URL
 * included), 408 for a request not complete in time, 400 for anything else malformed. The caller closes
 * the socket after writing it.
 */
export function clientErrorResponse (err: { code?: string }): string {
  let status = 400
  let message = `malformed HTTP request${err.code === undefined ? '' : ` (${err.code})`}`
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431
    message = 'the request line and headers together exceed 16 KiB'
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408
    message = 'the request did not arrive in time'
  }
  const text = JSON.stringify(body(status, codeForStatus(status), message))
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`
}

function body (status: number, code: WeftCode, message: string): ErrorBody {
  return { statusCode: status, code, error: STATUS_CODES[status] ?? 'Error', message }
}
