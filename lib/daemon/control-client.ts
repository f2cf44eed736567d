import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { systemClock, type Clock } from '../clock.js'
import { ControllerHttp } from '../client/http.js'
import type { ControllerTrust } from '../client/trust.js'
import { parseControllerUrl } from '../client/url.js'
import { ControllerError } from '../errors.js'
import type { AdvertiseRequest, ControllerInfo, HeartbeatRequest, HeartbeatResponse, NodeRouting, RegisterRequest, RegisterResponse } from '../wire/api.js'

/**
 * The daemon's HTTP client for the controller's node API. One method per route; every non-2xx answer becomes a
 * ControllerError carrying the status and the controller's error code, every connection failure a coded
 * sentence (lib/client/failure.ts). It knows every controller of `--controller URL[,URL...]` and talks to one
 * of them, `baseUrl`, until `advance` moves it to the next. A controller given by a host name that resolves to
 * several addresses (one DNS name for all controllers) counts as one controller per address. No retries here:
 * the control link owns failover and backoff.
 */
export class ControlClient {
  private readonly urls: readonly string[]
  /** What requests may go to, in order: each URL, or each address a URL's host name resolves to. */
  private targets: Target[]
  private index = 0
  private resolving: Promise<void> | null = null

  /**
   * @param baseUrls each e.g. `https://198.18.0.1:8443`, or with a proxy's path prefix `https://proxy.example/weft`
   * @param requestTimeoutMs bound on one request/response. Default 10 s: a heartbeat slower than two heartbeat
   *   intervals is as good as lost.
   * @param trust what an https:// controller must present (`--controller-ca`, `--controller-fingerprint`).
   * @param clock times out each request. Default: systemClock.
   * @param lookup every address of a host name (default: the system resolver, `getaddrinfo`).
   */
  constructor (baseUrls: string | readonly string[], private readonly requestTimeoutMs = 10_000, private readonly trust: ControllerTrust = {},
    private readonly clock: Clock = systemClock, private readonly lookup: (host: string) => Promise<string[]> = lookupAll) {
    this.urls = typeof baseUrls === 'string' ? [baseUrls] : [...baseUrls]
    this.targets = this.urls.map(url => this.target(url, null))
    void this.resolve()
  }

  /** The controller requests go to now. */
  get baseUrl (): string { return this.targets[this.index]!.url }

  /** The address requests go to now, when the controller's name resolves to several; null otherwise. */
  get address (): string | null { return this.targets[this.index]!.address }

  /** Every controller this client knows, in the order given. */
  get controllers (): readonly string[] { return this.urls }

  /** How many places requests may go to: a controller whose name resolves to several addresses counts each. */
  get size (): number { return this.targets.length }

  /**
   * Moves to the next controller (or address) of the list; after the last, to the first, and the names are
   * looked up again for the next round. False when there is only one.
   */
  advance (): boolean {
    if (this.targets.length < 2) { void this.resolve(); return false }
    this.index = (this.index + 1) % this.targets.length
    if (this.index === 0) void this.resolve()
    return true
  }

  /**
   * Looks the controllers' host names up: a name with several addresses becomes one place per address (the
   * requests still name the host, and TLS still checks it). A failed lookup keeps what was there; the place
   * requests go to now stays the current one.
   */
  async resolve (): Promise<void> {
    this.resolving ??= (async () => {
      const next: Target[] = []
      for (const url of this.urls) {
        const host = parseControllerUrl(url).host
        const addresses = isIP(host) !== 0 ? [] : await this.lookup(host).catch(() => [])
        const known = this.targets.filter(t => t.url === url)
        if (addresses.length < 2) { next.push(...(known.length === 1 && known[0]!.address === null ? known : [this.target(url, null)])); continue }
        for (const a of addresses) next.push(known.find(t => t.address === a) ?? this.target(url, a))
      }
      const current = this.targets[this.index]!
      this.targets = next
      const at = next.indexOf(current)
      this.index = at >= 0 ? at : Math.min(this.index, next.length - 1)
    })().finally(() => { this.resolving = null })
    await this.resolving
  }

  private target (url: string, address: string | null): Target {
    return {
      url,
      address,
      http: new ControllerHttp(url, {
        trust: this.trust,
        requestTimeoutMs: this.requestTimeoutMs,
        keepAlive: true,
        maxSockets: 4,
        clock: this.clock,
        ...(address !== null ? { address } : {})
      })
    }
  }

  private get http (): ControllerHttp { return this.targets[this.index]!.http }

  /** `GET /v1/info`: the controller's public key, CIDR and netmap position. */
  async info (): Promise<ControllerInfo> {
    return await this.http.call<ControllerInfo>('GET', '/v1/info', { expect: 'json' })
  }

  /** `POST /v1/register` with a join token in the body or the node credential. */
  async register (req: RegisterRequest, credential?: string): Promise<RegisterResponse> {
    return await this.http.call<RegisterResponse>('POST', '/v1/register', {
      body: req,
      ...(credential !== undefined ? { bearer: credential } : {}),
      expect: 'json'
    })
  }

  /** `POST /v1/heartbeat`. */
  async heartbeat (credential: string, req: HeartbeatRequest): Promise<HeartbeatResponse> {
    return await this.http.call<HeartbeatResponse>('POST', '/v1/heartbeat', { body: req, bearer: credential, expect: 'json' })
  }

  /** `PUT /v1/node/routes`: this node's whole advertisement. */
  async advertise (credential: string, req: AdvertiseRequest): Promise<NodeRouting> {
    return await this.http.call<NodeRouting>('PUT', '/v1/node/routes', { body: req, bearer: credential, expect: 'json' })
  }

  /** `POST /v1/leave`: graceful leave. The controller answers 204 with no body. */
  async leave (credential: string): Promise<void> {
    await this.http.call<undefined>('POST', '/v1/leave', { body: {}, bearer: credential, expect: 'empty' })
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
    const res = await this.http.open('GET', `/v1/netmap/stream?${q.toString()}`,
      { authorization: `Bearer ${credential}`, accept: 'application/x-ndjson' }, undefined,
      { signal: opts.signal, timeoutMs: opts.idleMs, total: false })
    if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) throw await this.http.errorOf(res)
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
      res.on('close', () => {
        opts.signal.removeEventListener('abort', onAbort)
        if (!failed && !res.complete) fail(new ControllerError('update channel closed mid-stream', 503))
      })
    })
  }
}

/**
 * Rounds of a list of controllers, for a loop that retries what failed: after a failure the next controller is
 * tried at once, until each has failed in turn; then the loop waits on its backoff before the next round.
 */
export class FailoverRound {
  private failed = 0

  constructor (private readonly client: Pick<ControlClient, 'size' | 'advance'>) {}

  /** After a failure: moves to the next controller. True to try it at once; false when the round is over (wait first). */
  next (): boolean {
    this.client.advance()
    if (++this.failed < this.client.size) return true
    this.failed = 0
    return false
  }

  /** After a success: the next failure starts a new round. */
  reset (): void { this.failed = 0 }
}

/** One place requests may go to: a controller's URL, pinned to one of its name's addresses or not. */
interface Target { url: string, address: string | null, http: ControllerHttp }

/** Every address of `host`, deduplicated and sorted; the system resolver's answer. */
async function lookupAll (host: string): Promise<string[]> {
  return [...new Set((await lookup(host, { all: true })).map(a => a.address))].sort()
}
