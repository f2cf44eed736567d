import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { isIP, type LookupFunction } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import type { Clock, Timer } from '../clock.js'
import { ControllerError } from '../errors.js'
import type { ErrorBody } from '../wire/api.js'
import { classifyFailure, speaksHttps, timedOut } from './failure.js'
import { ControllerTlsAgent } from './tls-agent.js'
import type { ControllerTrust } from './trust.js'
import { apiUrl, parseControllerUrl, type ControllerUrl } from './url.js'

/** Largest answer read outside the update channel, unless a call allows more (an admin's node list or backup). */
const MAX_BODY_BYTES = 1 << 20
/** Bound on the TLS probe that tells "the server speaks HTTPS" from other hang-ups. */
const PROBE_TIMEOUT_MS = 2000

/** Options of ControllerHttp. */
export interface ControllerHttpOptions {
  /** What an https:// controller must present. Default: the system's CAs. */
  trust?: ControllerTrust
  /** Keep connections open between requests. Default: true (a daemon heartbeats every 5 s). */
  keepAlive?: boolean
  /** Connections per controller. Default: 4 (heartbeat, update channel, the odd registration). */
  maxSockets?: number
  /** Bound on connecting and on one request/response, in ms. Default: 10000. */
  requestTimeoutMs?: number
  /** Times the bound on a whole request/response. */
  clock: Clock
  /**
   * Connect to this IP address instead of looking the URL's host name up; the name is still what the request
   * and the TLS check name (one of the several addresses a controller name resolves to, ControlClient).
   */
  address?: string
}

/** What a JSON call expects of a 2xx answer: a JSON body, or nothing (any body is ignored: 204 and friends). */
export type Expect = 'json' | 'empty'

/**
 * The one HTTP client for the controller's API, shared by the daemon (ControlClient) and the admin CLI
 * (AdminClient). It resolves paths below the URL's prefix, applies ControllerTrust to https://, turns every
 * connection failure into one coded sentence (failure.ts) and every non-2xx answer into a ControllerError
 * with the controller's WEFT_ERR_* code.
 *
 * Built on node:http and node:https rather than fetch: fetch loads undici, which costs a daemon about 19 MB of
 * RSS, a third of its budget, for features it does not use.
 */
export class ControllerHttp {
  readonly url: ControllerUrl
  readonly requestTimeoutMs: number
  private readonly agent: HttpAgent
  private readonly caGiven: boolean
  private readonly clock: Clock

  constructor (url: string | ControllerUrl, opts: ControllerHttpOptions) {
    this.url = typeof url === 'string' ? parseControllerUrl(url) : url
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000
    this.caGiven = opts.trust?.ca !== undefined
    this.clock = opts.clock
    const keepAlive = opts.keepAlive ?? true
    const maxSockets = opts.maxSockets ?? 4
    const lookup = opts.address === undefined ? {} : { lookup: pinnedLookup(opts.address) }
    this.agent = this.url.protocol === 'https:'
      ? new ControllerTlsAgent(this.url, opts.trust ?? {}, { keepAlive, maxSockets, handshakeTimeoutMs: this.requestTimeoutMs, ...lookup })
      : new HttpAgent({ keepAlive, maxSockets, ...lookup })
  }

  /**
   * One JSON exchange: sends `body` as JSON (when given) with `bearer` as the Authorization, and resolves with
   * the parsed answer (`expect: 'json'`) or undefined (`expect: 'empty'`). Rejects with a ControllerError.
   */
  async call<T> (method: string, path: string, opts: { body?: unknown, bearer?: string, expect: Expect, maxBytes?: number }): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' }
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body))
    if (payload !== undefined) { headers['content-type'] = 'application/json'; headers['content-length'] = String(payload.length) }
    if (opts.bearer !== undefined) headers.authorization = `Bearer ${opts.bearer}`
    const res = await this.open(method, path, headers, payload, { timeoutMs: this.requestTimeoutMs, total: true })
    const text = await readBody(res, opts.maxBytes ?? MAX_BODY_BYTES)
    const status = res.statusCode ?? 0
    if (status < 200 || status >= 300) throw this.errorFrom(status, res.statusMessage ?? '', text)
    if (opts.expect === 'empty') return undefined as T
    if (text === '') {
      throw new ControllerError(`the controller at ${this.url.href} answered ${method} ${path.split('?')[0]} with HTTP ${status} ` +
        'and no body, where JSON was expected')
    }
    try {
      return JSON.parse(text) as T
    } catch {
      throw new ControllerError(`the controller at ${this.url.href} answered ${method} ${path.split('?')[0]} with a body that is not JSON ` +
        `(${String(res.headers['content-type'] ?? 'no content-type')}): is --controller the controller's own URL, with the path prefix ` +
        'of any proxy in front of it?')
    }
  }

  /**
   * Sends a request and resolves with the response head. `timeoutMs` bounds the whole exchange when `total`,
   * or socket inactivity otherwise (the update channel). An abort of `signal` rejects with its reason.
   */
  async open (method: string, path: string, headers: Record<string, string>, payload: Buffer | undefined,
    opts: { signal?: AbortSignal, timeoutMs: number, total: boolean }): Promise<IncomingMessage> {
    const make = this.url.protocol === 'https:' ? httpsRequest : httpRequest
    const { signal, timeoutMs } = opts
    const res = await new Promise<IncomingMessage | { failed: unknown }>((resolve, reject) => {
      let req: ClientRequest
      try {
        req = make(apiUrl(this.url, path), { method, headers, agent: this.agent, signal })
      } catch (err) {
        resolve({ failed: err })
        return
      }
      let timer: Timer | undefined
      if (opts.total) {
        timer = this.clock.setTimeout(() => req.destroy(timedOut(this.url, `${method} ${path.split('?')[0]}`, timeoutMs)), timeoutMs)
      } else {
        req.setTimeout(timeoutMs, () => req.destroy(new ControllerError(`update channel silent for ${timeoutMs} ms`, 504)))
      }
      req.on('response', res => {
        if (timer !== undefined) res.on('close', () => timer!.cancel())
        resolve(res)
      })
      req.on('error', err => {
        timer?.cancel()
        if (signal?.aborted === true && signal.reason instanceof Error) reject(signal.reason)
        else resolve({ failed: err })
      })
      req.end(payload)
    })
    if (!('failed' in res)) return res
    throw await this.explain(res.failed)
  }

  /** The ControllerError for a non-2xx answer with body `text`. */
  errorFrom (status: number, statusText: string, text: string): ControllerError {
    let body: Partial<ErrorBody> = {}
    try { body = JSON.parse(text) as Partial<ErrorBody> } catch { /* not JSON: a proxy's page */ }
    if (status === 400 && body.code === undefined && /plain HTTP request was sent to HTTPS port/i.test(text)) {
      return speaksHttps(this.url)
    }
    const message = body.message ?? (statusText !== '' ? statusText : text.slice(0, 200))
    return new ControllerError(`controller answered HTTP ${status}: ${message}`, status, body.code, body.message)
  }

  /** Reads the error answer of a response already open (the update channel's refusal). */
  async errorOf (res: IncomingMessage): Promise<ControllerError> {
    let text = ''
    try { text = await readBody(res, 64 * 1024) } catch { /* the status alone says enough */ }
    return this.errorFrom(res.statusCode ?? 0, res.statusMessage ?? '', text)
  }

  /**
   * The coded sentence for a failed request. A plain-HTTP request that the server hung up on is checked once
   * with a TLS handshake, to tell "this is an HTTPS port" from other hang-ups.
   */
  private async explain (err: unknown): Promise<ControllerError> {
    if (err instanceof ControllerError) return err
    const code = (err as { code?: string }).code ?? ''
    const hungUp = code === 'ECONNRESET' || code === 'EPIPE' || code.startsWith('HPE_')
    const speaksTls = this.url.protocol === 'http:' && hungUp ? await probeTls(this.url.host, this.url.port) : undefined
    return classifyFailure(err, { url: this.url, caGiven: this.caGiven, ...(speaksTls !== undefined ? { speaksTls } : {}) })
  }
}

/** True when a TLS handshake with host:port completes within PROBE_TIMEOUT_MS (the certificate is not judged). */
async function probeTls (host: string, port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const s = tlsConnect({ host, port, rejectUnauthorized: false, ...(isIP(host) === 0 ? { servername: host } : {}) })
    const done = (ok: boolean): void => { s.destroy(); resolve(ok) }
    s.setTimeout(PROBE_TIMEOUT_MS, () => done(false))
    s.once('secureConnect', () => done(true))
    s.once('error', () => done(false))
  })
}

/** Reads a whole answer of at most `max` bytes. */
export async function readBody (res: IncomingMessage, max: number): Promise<string> {
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

/** A `lookup` for net.connect that answers every name with `address` (in the shape asked: one, or `all`). */
function pinnedLookup (address: string): LookupFunction {
  const family = isIP(address)
  return ((_host: string, opts: { all?: boolean }, cb: (err: Error | null, a: unknown, f?: number) => void) => {
    if (opts.all === true) cb(null, [{ address, family }])
    else cb(null, address, family)
  }) as unknown as LookupFunction
}
