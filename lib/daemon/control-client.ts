import { request as httpRequest, Agent as HttpAgent, type IncomingMessage, type ClientRequest } from 'node:http'
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https'
import { ControllerError } from '../errors.js'
import type { ControllerInfo, ErrorBody, HeartbeatRequest, HeartbeatResponse, RegisterRequest, RegisterResponse } from '../wire/api.js'

/** Largest JSON answer accepted from the controller outside the update channel. */
const MAX_BODY_BYTES = 1 << 20

/**
 * The daemon's HTTP client for the controller's node API. One method per route; every non-2xx answer becomes a
 * ControllerError carrying the status and the controller's error code. No retries here: the control link owns
 * backoff.
 *
 * Built on node:http rather than fetch: fetch loads undici, which costs a daemon about 19 MB of RSS, a third
 * of its budget, for features it does not use.
 */
export class ControlClient {
  private readonly url: URL
  private readonly agent: HttpAgent

  /**
   * @param baseUrl e.g. `http://198.18.0.1:8080`
   * @param requestTimeoutMs bound on one request/response. Default 10 s: a heartbeat slower than two heartbeat
   *   intervals is as good as lost.
   */
  constructor (readonly baseUrl: string, private readonly requestTimeoutMs = 10_000) {
    this.url = new URL(baseUrl)
    this.agent = this.url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 4 }) : new HttpAgent({ keepAlive: true, maxSockets: 4 })
  }

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

  /** `POST /v1/leave`: graceful leave. The controller answers 204 with no body. */
  async leave (credential: string): Promise<void> {
    await this.call<undefined>('POST', '/v1/leave', {}, credential, 'empty')
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
    const res = await this.open('GET', `/v1/netmap/stream?${q.toString()}`, { authorization: `Bearer ${credential}`, accept: 'application/x-ndjson' }, undefined, opts.signal, opts.idleMs, false)
    if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) throw await toError(res)
    opts.onOpen?.()
    await new Promise<void>((resolve, reject) => {
      let buf = ''
      let failed = false
      const fail = (err: Error): void => { if (!failed) { failed = true; res.destroy(); reject(err) } }
      const onAbort = (): void => fail(opts.signal.reason instanceof Error ? opts.signal.reason : new ControllerError('update channel aborted'))
      if (opts.signal.aborted) { onAbort(); return }
      opts.signal.addEventListener('abort', onAbort, { once: true })
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buf += chunk
        let nl: number
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl)
          buf = buf.slice(nl + 1)
          if (line.length > 0) {
            try { onLine(line) } catch (err) { fail(err as Error); return }
          }
        }
        if (buf.length > opts.maxLineBytes) fail(new ControllerError(`update channel line exceeds ${opts.maxLineBytes} bytes`))
      })
      res.on('end', () => { opts.signal.removeEventListener('abort', onAbort); if (!failed) resolve() })
      res.on('error', err => { opts.signal.removeEventListener('abort', onAbort); fail(new ControllerError(`update channel broke: ${err.message}`, 503)) })
      res.on('close', () => { opts.signal.removeEventListener('abort', onAbort); if (!failed && !res.complete) fail(new ControllerError('update channel closed mid-stream', 503)) })
    })
  }

  /** One exchange; `expect: 'empty'` takes any 2xx as success without reading its body as JSON (204 has none). */
  private async call<T> (method: string, path: string, body?: unknown, credential?: string, expect: 'json' | 'empty' = 'json'): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' }
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    if (payload !== undefined) { headers['content-type'] = 'application/json'; headers['content-length'] = String(payload.length) }
    if (credential !== undefined) headers.authorization = `Bearer ${credential}`
    const res = await this.open(method, path, headers, payload, undefined, this.requestTimeoutMs, true)
    const text = await readBody(res, MAX_BODY_BYTES)
    const status = res.statusCode ?? 0
    if (status < 200 || status >= 300) throw errorFrom(status, res.statusMessage ?? '', text)
    if (expect === 'empty') return undefined as T
    if (text === '') throw new ControllerError(`controller answered ${method} ${path} with HTTP ${status} and no body, where JSON was expected`)
    try {
      return JSON.parse(text) as T
    } catch {
      throw new ControllerError(`controller answered ${method} ${path} with a body that is not JSON`)
    }
  }

  /**
   * Sends a request and resolves with the response head. `timeoutMs` bounds the whole exchange when `total`,
   * or socket inactivity otherwise (the update channel).
   */
  private async open (method: string, path: string, headers: Record<string, string>, payload: Buffer | undefined,
    signal: AbortSignal | undefined, timeoutMs: number, total: boolean): Promise<IncomingMessage> {
    const make = this.url.protocol === 'https:' ? httpsRequest : httpRequest
    return await new Promise<IncomingMessage>((resolve, reject) => {
      let req: ClientRequest
      try {
        req = make(new URL(path, this.url), { method, headers, agent: this.agent, signal })
      } catch (err) {
        reject(new ControllerError(`controller ${this.baseUrl} unreachable: ${(err as Error).message}`, 503))
        return
      }
      let timer: NodeJS.Timeout | undefined
      if (total) {
        timer = setTimeout(() => req.destroy(new ControllerError(`controller did not answer ${method} ${path} within ${timeoutMs} ms`, 504)), timeoutMs)
      } else {
        req.setTimeout(timeoutMs, () => req.destroy(new ControllerError(`update channel silent for ${timeoutMs} ms`, 504)))
      }
      req.on('response', res => {
        if (timer !== undefined) res.on('close', () => clearTimeout(timer))
        resolve(res)
      })
      req.on('error', err => {
        clearTimeout(timer)
        if (err instanceof ControllerError) reject(err)
        else if (signal?.aborted === true && signal.reason instanceof Error) reject(signal.reason)
        else reject(new ControllerError(`controller ${this.baseUrl} unreachable: ${describe(err)}`, 503))
      })
      req.end(payload)
    })
  }
}

async function readBody (res: IncomingMessage, max: number): Promise<string> {
  return await new Promise((resolve, reject) => {
    let size = 0
    const chunks: Buffer[] = []
    res.on('data', (c: Buffer) => {
      size += c.length
      if (size > max) { res.destroy(); reject(new ControllerError(`controller answer exceeds ${max} bytes`)); return }
      chunks.push(c)
    })
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    res.on('error', err => reject(new ControllerError(`controller answer broke off: ${err.message}`, 503)))
  })
}

async function toError (res: IncomingMessage): Promise<ControllerError> {
  let text = ''
  try { text = await readBody(res, 64 * 1024) } catch { /* the status alone says enough */ }
  return errorFrom(res.statusCode ?? 0, res.statusMessage ?? '', text)
}

function errorFrom (status: number, statusText: string, text: string): ControllerError {
  let body: Partial<ErrorBody> = {}
  try { body = JSON.parse(text) as Partial<ErrorBody> } catch { /* not JSON */ }
  return new ControllerError(`controller refused: ${body.message ?? statusText} (HTTP ${status})`, status, body.code)
}

function describe (err: unknown): string {
  const e = err as { code?: string, message?: string }
  return e.code ?? e.message ?? String(err)
}
