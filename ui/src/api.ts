import type { ErrorBody } from './api-types.js'

/** A `/v1` call that answered with an error status; `message` is the controller's sentence for the operator. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string

  constructor (status: number, code: string, message: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
  }
}

/** Options of one call. */
export interface CallOptions {
  body?: unknown
  /** Leave a 401 to the caller instead of signing out (sign-in and the session probe expect one). */
  allow401?: boolean
}

/**
 * The page's only way to reach `/v1`: same-origin cookie, the CSRF header on every call that is not a read, and a
 * 401 anywhere but the session routes sends the operator back to sign-in (the session expired or was revoked).
 */
export class Api {
  private csrf: string | null = null
  private readonly onUnauthorized: () => void

  constructor (onUnauthorized: () => void) {
    this.onUnauthorized = onUnauthorized
  }

  /** Holds the session's CSRF token for later calls; null forgets it (signed out). */
  setCsrf (csrf: string | null): void {
    this.csrf = csrf
  }

  get<T>(path: string, opts: CallOptions = {}): Promise<T> {
    return this.call<T>('GET', path, opts)
  }

  post<T>(path: string, body: unknown, opts: CallOptions = {}): Promise<T> {
    return this.call<T>('POST', path, { ...opts, body })
  }

  delete (path: string, opts: CallOptions = {}): Promise<void> {
    return this.call<void>('DELETE', path, opts)
  }

  /** Sends one request; resolves to the parsed JSON body (undefined for 204) or rejects with an ApiError. */
  async call<T>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' }
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json'
    if (method !== 'GET' && method !== 'HEAD' && this.csrf !== null) headers['X-Weft-CSRF'] = this.csrf
    let res: Response
    try {
      res = await fetch(path, {
        method,
        headers,
        credentials: 'same-origin',
        cache: 'no-store',
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      })
    } catch (err) {
      throw new ApiError(0, 'NETWORK', `cannot reach the controller (${(err as Error).message})`)
    }
    if (res.status === 401 && opts.allow401 !== true) this.onUnauthorized()
    if (!res.ok) throw await errorOf(res)
    if (res.status === 204) return undefined as T
    return await res.json() as T
  }
}

/** Reads the controller's error body; a proxy's HTML error page still gives a sentence. */
async function errorOf (res: Response): Promise<ApiError> {
  let text = ''
  try {
    text = await res.text()
    const body = JSON.parse(text) as Partial<ErrorBody>
    return new ApiError(res.status, body.code ?? `HTTP_${res.status}`, body.message ?? body.error ?? res.statusText)
  } catch {
    return new ApiError(res.status, `HTTP_${res.status}`, `${res.status} ${res.statusText}`.trim() + (text === '' ? '' : `: ${text.slice(0, 200)}`))
  }
}
