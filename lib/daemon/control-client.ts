import { ControllerError } from '../errors.js'
import type { ControllerInfo, ErrorBody, HeartbeatRequest, HeartbeatResponse, RegisterRequest, RegisterResponse } from '../wire/api.js'

/**
 * The daemon's HTTP client for the controller's node API. One method per route; every non-2xx answer becomes a
 * ControllerError carrying the status and the controller's error code. No retries here: the control link owns
 * backoff.
 */
export class ControlClient {
  /**
   * @param baseUrl e.g. `http://198.18.0.1:8080`
   * @param requestTimeoutMs bound on one request/response. Default 10 s: a heartbeat slower than two heartbeat
   *   intervals is as good as lost.
   */
  constructor (readonly baseUrl: string, private readonly requestTimeoutMs = 10_000) {}

  /** `GET /v1/info`: the controller's public key, CIDR and netmap position. */
  async info (): Promise<ControllerInfo> {
    return await this.call<ControllerInfo>('GET', '/v1/info')
  }

  /** `POST /v1/register` with a join token in the body or the node credential. */
  async register (req: RegisterRequest, credential?: string): Promise<RegisterResponse> {
    return await this.call<RegisterResponse>('POST', '/v1/register', req, credential)
  }

  /** `POST /v1/heartbeat`. */
  async heartbeat (credential: string, req: HeartbeatRequest): Promise<HeartbeatResponse> {
    return await this.call<HeartbeatResponse>('POST', '/v1/heartbeat', req, credential)
  }

  /** `POST /v1/leave`: graceful leave. */
  async leave (credential: string): Promise<void> {
    await this.call<unknown>('POST', '/v1/leave', {}, credential)
  }

  /**
   * Opens the update channel `GET /v1/netmap/stream` and calls `onLine` with each NDJSON line until the stream
   * ends, `signal` aborts, a line exceeds `maxLineBytes`, or nothing (not even a ping) arrives for `idleMs`.
   * Resolves when the server closes the stream; rejects on every other ending.
   */
  async stream (credential: string, epoch: string | null, since: number | null, onLine: (line: string) => void,
    opts: { signal: AbortSignal, idleMs: number, maxLineBytes: number, onOpen?: () => void }): Promise<void> {
    const q = new URLSearchParams()
    if (epoch !== null) q.set('epoch', epoch)
    if (since !== null) q.set('since', String(since))
    const ctrl = new AbortController()
    const abort = (): void => ctrl.abort(opts.signal.reason)
    opts.signal.addEventListener('abort', abort, { once: true })
    let idle: NodeJS.Timeout | undefined
    const armIdle = (): void => {
      clearTimeout(idle)
      idle = setTimeout(() => ctrl.abort(new ControllerError(`update channel silent for ${opts.idleMs} ms`)), opts.idleMs)
    }
    try {
      armIdle()
      const res = await fetch(`${this.baseUrl}/v1/netmap/stream?${q.toString()}`, {
        headers: { authorization: `Bearer ${credential}`, accept: 'application/x-ndjson' }, signal: ctrl.signal
      })
      if (!res.ok || res.body === null) throw await toError(res)
      opts.onOpen?.()
      const decoder = new TextDecoder()
      let buf = ''
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        armIdle()
        buf += decoder.decode(chunk, { stream: true })
        let nl: number
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl)
          buf = buf.slice(nl + 1)
          if (line.length > 0) onLine(line)
        }
        if (buf.length > opts.maxLineBytes) throw new ControllerError(`update channel line exceeds ${opts.maxLineBytes} bytes`)
      }
    } catch (err) {
      if (ctrl.signal.aborted && ctrl.signal.reason instanceof Error) throw ctrl.signal.reason
      throw err
    } finally {
      clearTimeout(idle)
      opts.signal.removeEventListener('abort', abort)
    }
  }

  private async call<T> (method: string, path: string, body?: unknown, credential?: string): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (credential !== undefined) headers.authorization = `Bearer ${credential}`
    let res: Response
    try {
      res = await fetch(this.baseUrl + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.requestTimeoutMs)
      })
    } catch (err) {
      throw new ControllerError(`controller ${this.baseUrl} unreachable: ${describe(err)}`, 503)
    }
    if (!res.ok) throw await toError(res)
    try {
      return await res.json() as T
    } catch {
      throw new ControllerError(`controller answered ${method} ${path} with a body that is not JSON`)
    }
  }
}

async function toError (res: Response): Promise<ControllerError> {
  let body: Partial<ErrorBody> = {}
  try { body = await res.json() as Partial<ErrorBody> } catch { /* not JSON: the status alone says enough */ }
  return new ControllerError(`controller refused: ${body.message ?? res.statusText} (HTTP ${res.status})`, res.status, body.code)
}

function describe (err: unknown): string {
  const e = err as { cause?: { code?: string, message?: string }, message?: string }
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err)
}
