import type { Logger } from '../log.js'
import type { Clock, Timer } from '../clock.js'
import { Code, ControllerError, WeftError } from '../errors.js'
import { DEFAULTS as CONTROLLER_DEFAULTS } from '../control/config.js'
import type { HeartbeatRequest } from '../wire/api.js'
import { applyDelta, type Netmap } from '../wire/netmap.js'
import { Backoff } from './backoff.js'
import { FailoverRound, type ControlClient } from './control-client.js'
import { checkAppliedNetmap, parseMessage } from './netmap-check.js'

/**
 * State of the daemon's link to the controller, as `weft status` shows it. `revoked`: the controller refuses
 * our credential because the node was removed; `forgotten`: it does not know the credential (it lost its
 * record of this node). The link stops in both.
 */
export type ControlState = 'connecting' | 'connected' | 'lost' | 'revoked' | 'forgotten'

/**
 * How the controller refused our credential, from its answer: `removed` (403 WEFT_ERR_NODE_REMOVED: an admin
 * removed the node), `unknown` (401: it has no record of the credential), `refused` (any other 403), or null
 * when the answer is no refusal of the credential.
 */
export function credentialRefusal (err: unknown): 'removed' | 'unknown' | 'refused' | null {
  if (!(err instanceof ControllerError)) return null
  if (err.statusCode === 401) return 'unknown'
  if (err.statusCode !== 403) return null
  return err.remoteCode === Code.NODE_REMOVED ? 'removed' : 'refused'
}

/** Tunables of the control link. */
export interface ControlLinkConfig {
  /** Heartbeat period; the controller's value (from registration or heartbeat answers) wins. Default: the controller's default (5 s). */
  heartbeatIntervalMs: number
  /** The stream is presumed dead after this long without a line. Default: three of the controller's default ping intervals (45 s). */
  streamIdleMs: number
  /** Largest accepted NDJSON line: a full map of 65k nodes fits. Default: 64 MiB. */
  maxLineBytes: number
}

/** What the link has done since it was made; all monotonic. */
export interface ControlLinkCounters {
  /** Update channels opened. */
  connects: number
  /** Netmaps accepted from the controller, whole or as a delta. */
  netmapsFull: number
  netmapsDelta: number
  /** Stream lines refused by validation (the previous netmap stayed). */
  netmapRejects: number
  /** Reconnects asking for a full map (refused line, gap in the deltas, new epoch). */
  resyncs: number
  heartbeatsSent: number
  heartbeatFailures: number
}

/**
 * Longest wait between two rounds of a list of controllers: the others serve already, and a quorum loss or a
 * controller's restart ends within seconds. With the 30 s ceiling of one controller, the last daemon of a
 * controller-failover sim (N=20) waited 11.7 s for a controller that served after 5 s.
 */
export const MULTI_CONTROLLER_BACKOFF_MS = 2000

export const defaultControlLinkConfig: ControlLinkConfig = {
  heartbeatIntervalMs: CONTROLLER_DEFAULTS.heartbeatIntervalMs,
  streamIdleMs: 3 * CONTROLLER_DEFAULTS.streamPingIntervalMs,
  maxLineBytes: 64 << 20
}

/** Least time between two heartbeats when the second goes early (ControlLink.reportSoon): one a second. */
export const EARLY_REPORT_GAP_MS = 1000

/**
 * Keeps one update channel open to the controller (reconnecting with exponential backoff and full jitter),
 * folds the NDJSON messages into a validated Netmap, and sends heartbeats. A message that fails validation is
 * refused whole: the previous netmap stays, the reason is logged and kept for `weft status`, and the link
 * resyncs with a full map. The link holds no netmap of its own: it folds deltas onto its owner's current one.
 */
export class ControlLink {
  state: ControlState = 'connecting'
  lastError: string | null = null
  lastContactAt: number | null = null
  heartbeatsFailed = 0
  readonly counters: ControlLinkCounters = {
    connects: 0,
    netmapsFull: 0,
    netmapsDelta: 0,
    netmapRejects: 0,
    resyncs: 0,
    heartbeatsSent: 0,
    heartbeatFailures: 0
  }

  private readonly backoff: Backoff
  /** Controllers tried in a row without an update channel opening; once all were, the link backs off. */
  private readonly round: FailoverRound
  private abort = new AbortController()
  /** Aborted by stop(): ends a reconnect wait at once. */
  private readonly stopSignal = new AbortController()
  private stopped = false
  private hbTimer: Timer | undefined
  /** When the scheduled heartbeat goes (monotonic ms); a heartbeat being sent has none. */
  private hbDueAt = Infinity
  private hbSending = false
  private hbLastAt = -Infinity
  /** reportSoon was asked while a heartbeat was being sent: the next one goes as early as allowed. */
  private hbAgain = false
  private wantFull = false

  constructor (private readonly opts: {
    client: ControlClient
    credential: string
    /** The owner's current netmap (from disk or from this link), or null: the base for deltas and resumes. */
    netmap: () => Netmap | null
    /** Called with each new netmap after validation; the owner keeps it (netmap() returns it next), reconciles and saves it. */
    onNetmap: (map: Netmap, how: 'full' | 'delta') => void
    /** Builds the heartbeat body (endpoints, SWIM report) at send time. */
    heartbeat: () => HeartbeatRequest
    /**
     * Called when the controller refuses our credential with a 403: `removed` when it says an admin removed
     * the node (NODE_REMOVED), false for a 403 that does not say why.
     */
    onRevoked: (reason: string, removed: boolean) => void
    /** Called when the controller does not know our credential (401): it lost its record of this node. */
    onForgotten: (reason: string) => void
    /** Called whenever the link's state changes. */
    onState?: (state: ControlState) => void
    clock: Clock
    log: Logger
    config?: Partial<ControlLinkConfig>
  }) {
    this.cfg = { ...defaultControlLinkConfig, ...opts.config }
    // With several controllers the others already serve, so rounds of the list stay at most
    // MULTI_CONTROLLER_BACKOFF_MS apart; refused connections to dead ones cost nothing.
    this.backoff = opts.client.controllers.length > 1 ? new Backoff(500, MULTI_CONTROLLER_BACKOFF_MS) : new Backoff()
    this.round = new FailoverRound(opts.client)
  }

  private readonly cfg: ControlLinkConfig

  /** The controller the link uses now (or tries next). */
  get controller (): string { return this.opts.client.baseUrl }

  /** Starts the stream loop and heartbeats. */
  start (): void {
    void this.loop()
    this.scheduleHeartbeat(0)
  }

  /** Stops everything; pending requests are aborted. */
  stop (): void {
    this.stopped = true
    this.hbTimer?.cancel()
    this.stopSignal.abort()
    this.abort.abort(new ControllerError('control link stopped'))
  }

  private async loop (): Promise<void> {
    while (!this.stopped) {
      this.abort = new AbortController()
      const map = this.wantFull ? null : this.opts.netmap()
      this.wantFull = false
      try {
        await this.opts.client.stream(this.opts.credential, map?.epoch ?? null, map?.version ?? null, line => this.onLine(line), {
          signal: this.abort.signal,
          idleMs: this.cfg.streamIdleMs,
          maxLineBytes: this.cfg.maxLineBytes,
          onOpen: () => this.connected()
        })
        this.lost('update channel closed by the controller')
      } catch (err) {
        if (this.stopped) return
        if (credentialRefusal(err) !== null) {
          this.refused(err as ControllerError)
          return
        }
        // A resync we asked for is not a lost controller: reconnect at once for the full map.
        if (this.wantFull) continue
        this.lost(err instanceof WeftError ? err.message : (err as Error).message)
      }
      if (this.stopped) return
      // Another controller is tried at once; only when each has failed in turn does the link wait.
      const from = this.opts.client.baseUrl
      const fromAddress = this.opts.client.address
      const atOnce = this.round.next()
      const { baseUrl: to, address } = this.opts.client
      if (to !== from || address !== fromAddress) {
        this.opts.log.info({ event: 'control.failover', from, to, ...(address !== null ? { address } : {}) },
          `trying controller ${to}${address !== null ? ` at ${address}` : ''}`)
      }
      // A name that resolved to several controllers after start counts as several.
      const cap = this.opts.client.size > 1 ? MULTI_CONTROLLER_BACKOFF_MS : Infinity
      if (!atOnce) await this.opts.clock.sleep(Math.min(this.backoff.next(), cap), this.stopSignal.signal)
    }
  }

  private connected (): void {
    this.backoff.reset()
    this.round.reset()
    this.counters.connects++
    this.lastContactAt = this.opts.clock.now()
    if (this.state !== 'connected') {
      this.opts.log.info({
        event: 'control.connected',
        controller: this.opts.client.baseUrl,
        ...(this.opts.client.address !== null ? { address: this.opts.client.address } : {}),
        version: this.opts.netmap()?.version ?? null
      }, 'update channel open')
      this.setState('connected')
    }
  }

  private lost (reason: string): void {
    if (this.state === 'connected' || this.state === 'connecting') {
      this.opts.log.warn({ event: 'control.lost', controller: this.opts.client.baseUrl, reason }, 'controller unreachable; running from the last netmap')
    }
    this.setState('lost')
    this.lastError = reason
  }

  private setState (s: ControlState): void {
    if (this.state === s) return
    this.state = s
    this.opts.onState?.(s)
  }

  /** The controller refused our credential: nothing more is sent with it. */
  private refusedAlready (): boolean {
    return this.state === 'revoked' || this.state === 'forgotten'
  }

  /** The controller refused our credential: the link stops, and the daemon is told why. */
  private refused (err: ControllerError): void {
    if (this.refusedAlready()) return
    const how = credentialRefusal(err)
    const reason = err.message
    this.lastError = reason
    this.abort.abort(err)
    this.hbTimer?.cancel()
    this.hbDueAt = Infinity
    if (how === 'unknown') {
      this.setState('forgotten')
      this.opts.log.error({
        event: 'control.lost',
        controller: this.opts.client.baseUrl,
        reason: `credential unknown: ${reason}`
      }, 'the controller does not know this node')
      this.opts.onForgotten(reason)
      return
    }
    this.setState('revoked')
    this.opts.log.error({ event: 'control.lost', controller: this.opts.client.baseUrl, reason: `credential refused: ${reason}` },
      how === 'removed' ? 'the controller says an admin removed this node' : 'the controller no longer accepts this node')
    this.opts.onRevoked(reason, how === 'removed')
  }

  private onLine (line: string): void {
    this.lastContactAt = this.opts.clock.now()
    const current = this.opts.netmap()
    try {
      const msg = parseMessage(line, current?.cidr ?? null)
      if (msg.type === 'ping') {
        if (current !== null && msg.epoch !== current.epoch) this.resync('controller epoch changed')
        return
      }
      if (msg.type === 'full') {
        this.accept(msg.netmap, 'full')
        return
      }
      if (current === null) { this.resync('delta without a base netmap'); return }
      const next = applyDelta(current, msg)
      if (next === null) { this.resync(`delta ${msg.from}->${msg.to} does not follow version ${current.version}`); return }
      this.accept(checkAppliedNetmap(next), 'delta')
    } catch (err) {
      const reason = (err as Error).message
      this.lastError = `netmap refused: ${reason}`
      this.counters.netmapRejects++
      this.opts.log.error({ event: 'netmap.reject', reason }, 'refused an update from the controller; keeping the previous netmap')
      this.resync(reason)
    }
  }

  private accept (map: Netmap, how: 'full' | 'delta'): void {
    this.lastError = null
    this.counters[how === 'full' ? 'netmapsFull' : 'netmapsDelta']++
    this.opts.onNetmap(map, how)
  }

  /** Drops the stream and reconnects asking for a full map. */
  private resync (reason: string): void {
    this.opts.log.info({ event: 'control.resync', reason }, 'asking the controller for a full netmap')
    this.counters.resyncs++
    this.wantFull = true
    this.abort.abort(new ControllerError(`resync: ${reason}`))
  }

  /**
   * Sends the next heartbeat (and its SWIM report) early: SWIM's view of a member changed, and the controller's
   * fused health and the dashboard's matrix should not wait up to a heartbeat period for it. At most one
   * heartbeat per EARLY_REPORT_GAP_MS, so a storm of changes costs the controller one request a second per node.
   */
  reportSoon (): void {
    if (this.stopped || this.refusedAlready()) return
    if (this.hbSending) { this.hbAgain = true; return }
    const now = this.opts.clock.monotonic()
    const at = Math.max(now, this.hbLastAt + EARLY_REPORT_GAP_MS)
    if (at >= this.hbDueAt) return
    this.hbTimer?.cancel()
    this.scheduleHeartbeat(at - now)
  }

  private scheduleHeartbeat (delayMs: number): void {
    if (this.stopped) return
    this.hbDueAt = this.opts.clock.monotonic() + delayMs
    this.hbTimer = this.opts.clock.setTimeout(() => { void this.sendHeartbeat() }, delayMs, { unref: true })
  }

  private async sendHeartbeat (): Promise<void> {
    this.hbDueAt = Infinity
    if (this.stopped || this.refusedAlready()) return
    this.hbSending = true
    this.hbLastAt = this.opts.clock.monotonic()
    try {
      this.counters.heartbeatsSent++
      const res = await this.opts.client.heartbeat(this.opts.credential, this.opts.heartbeat())
      this.lastContactAt = this.opts.clock.now()
      this.heartbeatsFailed = 0
      if (res.heartbeatIntervalMs > 0) this.cfg.heartbeatIntervalMs = res.heartbeatIntervalMs
    } catch (err) {
      this.heartbeatsFailed++
      this.counters.heartbeatFailures++
      if (credentialRefusal(err) !== null) {
        this.refused(err as ControllerError)
        return
      }
      this.opts.log.debug({ event: 'control.heartbeat.failed', reason: (err as Error).message }, 'heartbeat failed')
    } finally {
      this.hbSending = false
    }
    if (this.refusedAlready()) return
    const again = this.hbAgain
    this.hbAgain = false
    this.scheduleHeartbeat(again ? Math.max(0, this.hbLastAt + EARLY_REPORT_GAP_MS - this.opts.clock.monotonic()) : this.cfg.heartbeatIntervalMs)
  }
}
