/**
 * Applies a desired peer set to a WireGuard device, peer by peer (in batches of up to BATCH_SIZE changes per
 * device transaction), remembering what it applied so that the next call only does the difference. Same input
 * twice = no device call at all (not even a read).
 */
import type { Clock } from '../clock.js'
import { systemClock } from '../clock.js'
import { isDeviceTimeout } from '../errors.js'
import type { Logger } from '../log.js'
import type { DeviceState, PeerOp, WireGuardDevice } from './wg/device.js'
import type { DesiredConfig, DesiredPeer } from './desired.js'
import { afterChange, deviceOp, diffPeers, peerConfig, type AppliedPeer, type Change } from './diff.js'

/** Options of Reconciler. */
export interface ReconcilerOptions {
  device: WireGuardDevice
  log: Logger
  clock?: Clock
  /**
   * When adopting a device, a peer whose endpoint differs from the netmap's but whose last handshake is
   * younger than this keeps its endpoint (it roamed and works). Default: 180000, WireGuard's REJECT_AFTER_TIME:
   * past it the session is dead anyway and the netmap's endpoint is the better bet.
   */
  freshHandshakeMs?: number
  /** Stop a reconcile after this many failed changes in a row (the device is likely gone). Default: 3. */
  maxConsecutiveFailures?: number
  /**
   * Changes sent to the device in one transaction. Default: BATCH_SIZE. 1 sends each change on its own.
   */
  batchSize?: number
  /** The SWIM incarnation we hold for a node, for the `wg.peer.*` logs (design.md: every event carries one). */
  incarnationOf?: (nodeId: string) => number | undefined
  /**
   * After a device call runs out of time, how long the device may still carry it out: until then every
   * reconcile re-reads the device, and `stale` stays true. Default: TIMEOUT_SETTLE_MS.
   */
  timeoutSettleMs?: number
  /**
   * Awaited before a reconcile removes peers, with their keys: the daemon reads their last handshake and
   * traffic from the device while they are still on it (PeerHistory). Errors are ignored. Default: none.
   */
  beforeRemove?: (publicKeys: readonly string[]) => Promise<void>
}

/**
 * A UAPI request that ran out of time was still sent: a starved wireguard-go may carry it out seconds later,
 * after a re-read that did not show it yet, and a peer whose remove timed out can be gone from the device later.
 * 10 s is twice the UAPI bound; the daemon retries a stale reconciler every deadAnnounceIntervalMs (5 s).
 */
export const TIMEOUT_SETTLE_MS = 10_000

/**
 * Default changes per device transaction. A peer added in a batch of 25 costs 0.44 ms of CPU (daemon and
 * wireguard-go together) against 1.23 ms alone (`node dist/bench/uapi-cost.js 50 200`, 199 peers); a join of
 * 200 nodes adds 199 peers on every node. 32 keeps one request near 5 KB.
 */
export const BATCH_SIZE = 32

/** What the reconciler has done since it was made; all monotonic. */
export interface ReconcilerCounters {
  /** reconcile() calls, the ones that found nothing to do included. */
  reconciles: number
  /** Reconciles that ended incomplete (device unreadable, a change refused); the next one retries. */
  reconcileErrors: number
  peersAdded: number
  peersRemoved: number
  peersUpdated: number
  /** Single changes the device refused. */
  peerChangeErrors: number
}

/** One change that failed, with the device's error. */
export interface FailedChange { change: Change, error: Error }

/** What one reconcile did. `ok` = everything desired is now applied. */
export interface ReconcileResult {
  ok: boolean
  /** Changes that went through, in order. */
  applied: Change[]
  /** Changes the device rejected; retried by the next reconcile. */
  failed: FailedChange[]
  /** Changes not tried because the reconcile stopped early (device unreachable); retried by the next one. */
  notApplied: Change[]
  /** True when this call read the device (first call, or the first after a failure). */
  readDevice: boolean
  /** Set when the device could not even be read; nothing was applied. */
  readError?: Error
}

/**
 * Turns desired peer sets into device changes. Calls are serialised: a reconcile that arrives while one runs
 * waits for it. After any failure the next reconcile re-reads the device before diffing, so it converges from
 * whatever state the failure left.
 */
export class Reconciler {
  private readonly device: WireGuardDevice
  private readonly log: Logger
  private readonly clock: Clock
  private readonly freshHandshakeMs: number
  private readonly maxConsecutiveFailures: number
  private readonly batchSize: number
  private readonly incarnationOf: (nodeId: string) => number | undefined
  /** What we last applied, by public key; null = unknown, read the device first. */
  private applied: Map<string, AppliedPeer> | null = null
  private readonly timeoutSettleMs: number
  private readonly beforeRemove: ((publicKeys: readonly string[]) => Promise<void>) | undefined
  /** When a device call last ran out of time; null once a read after the settle time has been made. */
  private timedOutAt: number | null = null
  private queue: Promise<unknown> = Promise.resolve()
  readonly counters: ReconcilerCounters = { reconciles: 0, reconcileErrors: 0, peersAdded: 0, peersRemoved: 0, peersUpdated: 0, peerChangeErrors: 0 }

  constructor (opts: ReconcilerOptions) {
    this.device = opts.device
    this.log = opts.log.child({ component: 'reconciler' })
    this.clock = opts.clock ?? systemClock
    this.freshHandshakeMs = opts.freshHandshakeMs ?? 180_000
    this.maxConsecutiveFailures = opts.maxConsecutiveFailures ?? 3
    this.batchSize = Math.max(1, opts.batchSize ?? BATCH_SIZE)
    this.incarnationOf = opts.incarnationOf ?? (() => undefined)
    this.timeoutSettleMs = opts.timeoutSettleMs ?? TIMEOUT_SETTLE_MS
    this.beforeRemove = opts.beforeRemove
  }

  /**
   * True when the device's state is unknown (before the first reconcile, after a failed call, or within the
   * settle time of one that ran out of time): the next reconcile reads the device, and the owner should run one
   * even if nothing it wants has changed. Reset and arm fail this way without a reconcile of their own.
   */
  get stale (): boolean {
    return this.applied === null
  }

  /** Applies `want` (a desired() result or its peers) and resolves with what was and was not applied. Never rejects. */
  async reconcile (want: DesiredConfig | readonly DesiredPeer[]): Promise<ReconcileResult> {
    const cfg: DesiredConfig = Array.isArray(want) ? { peers: [...want], excluded: [] } : want as DesiredConfig
    return await this.serial(async () => {
      const res = await this.run(cfg)
      this.counters.reconciles++
      if (!res.ok) this.counters.reconcileErrors++
      return res
    })
  }

  /**
   * Re-creates one applied peer (remove, then add with its full config, keepalive included, even where the
   * add was held), serialised with reconciles: the fresh peer forgets its handshake state and sends an
   * initiation at once. For a peer without a working session only (see HandshakeWatch): a live session would
   * be dropped. Logged as one `wg.peer.reset`. Never rejects; false when nothing was done.
   */
  async reset (publicKey: string, reason: string): Promise<boolean> {
    return await this.serial(async () => {
      const have = this.applied?.get(publicKey)
      if (have === undefined) return false
      try {
        await this.device.apply([{ kind: 'remove', publicKey }, { kind: 'add', peer: peerConfig(have) }])
      } catch (err) {
        this.forgetApplied(err)
        this.log.warn({
          event: 'wg.peer.error',
          op: 'reset',
          nodeId: have.nodeId,
          hostname: have.hostname,
          meshIp: have.meshIp,
          publicKey,
          err: (err as Error).message
        }, `peer reset failed: ${name(have)}`)
        return false
      }
      this.applied?.set(publicKey, { ...have, held: false })
      this.log.info({
        event: 'wg.peer.reset',
        nodeId: have.nodeId,
        hostname: have.hostname,
        meshIp: have.meshIp,
        incarnation: this.incarnation(have.nodeId),
        publicKey,
        endpoint: have.endpoint,
        reason
      }, `peer reset: ${name(have)}`)
      return true
    })
  }

  /**
   * Turns on the keepalive of peers added held (DesiredPeer.held); peers not held are left alone. On a peer without
   * a session this also starts the handshake from our side. Never rejects.
   */
  async arm (publicKeys: readonly string[]): Promise<void> {
    await this.serial(async () => {
      const armed = publicKeys.flatMap(k => {
        const have = this.applied?.get(k)
        return have === undefined || !have.held ? [] : [have]
      })
      // In batches like reconcile's changes: a join arms about half of all new peers at once.
      for (let start = 0; start < armed.length; start += this.batchSize) {
        const chunk = armed.slice(start, start + this.batchSize)
        const ops: PeerOp[] = chunk.map(have => ({ kind: 'update', peer: peerConfig(have), fields: ['keepaliveSeconds'] }))
        try {
          await (ops.length > 1 ? this.device.applyBatch(ops) : this.device.apply(ops))
        } catch (err) {
          this.log.warn({
            event: 'wg.peer.error',
            op: 'arm',
            nodeIds: chunk.map(h => h.nodeId),
            hostnames: chunk.map(h => h.hostname),
            err: (err as Error).message
          }, 'arming held peers failed; the next reconcile re-reads the device')
          return this.forgetApplied(err)
        }
        for (const have of chunk) {
          this.applied?.set(have.publicKey, { ...have, held: false })
          this.log.debug({
            event: 'wg.peer.arm',
            nodeId: have.nodeId,
            hostname: have.hostname,
            publicKey: have.publicKey
          }, `held keepalive armed: ${name(have)}`)
        }
      }
    })
  }

  /** Runs `fn` after every reconcile, reset and arm queued before it. */
  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn)
    this.queue = next.catch(() => {})
    return await next
  }

  /** After a failure: re-read the device before the next diff (what it holds becomes the record, held or not). */
  private forgetApplied (err?: unknown): void {
    this.noteTimeout(err)
    this.applied = null
  }

  /** A call that ran out of time may still be carried out (see TIMEOUT_SETTLE_MS). */
  private noteTimeout (err: unknown): void {
    if (isDeviceTimeout(err)) this.timedOutAt = this.clock.now()
  }

  /** Forgets what was applied, so the next reconcile re-reads the device (e.g. after someone else changed it). */
  invalidate (): void {
    this.forgetApplied()
  }

  /** A copy of what the reconciler believes is applied, by public key; null before the first reconcile. */
  snapshot (): Map<string, AppliedPeer> | null {
    return this.applied === null ? null : new Map([...this.applied].map(([k, v]) => [k, { ...v, allowedIps: [...v.allowedIps] }]))
  }

  private async run (cfg: DesiredConfig): Promise<ReconcileResult> {
    const result: ReconcileResult = { ok: true, applied: [], failed: [], notApplied: [], readDevice: false }
    let readAt = -Infinity
    if (this.applied === null) {
      result.readDevice = true
      readAt = this.clock.now()
      try {
        this.applied = this.fromDevice(await this.device.get(), cfg.peers)
      } catch (err) {
        this.log.error({ event: 'wg.reconcile.error', err: (err as Error).message }, 'cannot read the WireGuard device')
        return { ...result, ok: false, readError: err as Error }
      }
    }
    const applied = this.applied
    const changes = diffPeers(cfg.peers, applied, cfg.excluded)
    const removing = changes.flatMap(c => c.op.kind === 'remove' ? [c.op.publicKey] : [])
    if (removing.length > 0 && this.beforeRemove !== undefined) await this.beforeRemove(removing).catch(() => {})
    const done = (change: Change): void => {
      afterChange(applied, change)
      result.applied.push(change)
      this.counters[change.op.kind === 'add' ? 'peersAdded' : change.op.kind === 'remove' ? 'peersRemoved' : 'peersUpdated']++
      this.log.info({ event: `wg.peer.${change.op.kind}`, ...this.fields(change) }, `peer ${change.op.kind}: ${name(change)}`)
    }
    await this.applyChanges(changes, result, done)
    if (result.failed.length > 0) {
      // A failed op may have half-happened on the device; only a fresh read tells.
      this.forgetApplied()
      result.ok = false
      this.log.error({ event: 'wg.reconcile.error', applied: result.applied.length, failed: result.failed.length, notApplied: result.notApplied.length },
        'reconcile incomplete; the next one re-reads the device and retries')
    } else if (this.timedOutAt !== null) {
      // What this diff was based on may still be overtaken by the late call: read again next time, until a
      // read made after the settle time.
      if (readAt - this.timedOutAt >= this.timeoutSettleMs) this.timedOutAt = null
      else this.forgetApplied()
    }
    return result
  }

  /**
   * Sends `changes` to the device in batches of batchSize, calling `done` for each one that went through and
   * recording each one refused in `result.failed`. After maxConsecutiveFailures refusals in a row it stops and
   * leaves the changes not tried in `result.notApplied`.
   */
  private async applyChanges (changes: Change[], result: ReconcileResult, done: (change: Change) => void): Promise<void> {
    let failuresInRow = 0
    for (let start = 0; start < changes.length; start += this.batchSize) {
      const chunk = changes.slice(start, start + this.batchSize)
      if (chunk.length > 1) {
        try {
          await this.device.applyBatch(chunk.map(deviceOp))
          chunk.forEach(done)
          failuresInRow = 0
          continue
        } catch (err) {
          // Some prefix may have gone through; every op is safe to repeat, so find the culprit one by one.
          this.noteTimeout(err)
          this.log.warn({ event: 'wg.batch.error', changes: chunk.length, err: (err as Error).message },
            'batch of peer changes failed; applying them one by one')
        }
      }
      for (let i = start; i < start + chunk.length; i++) {
        const change = changes[i]!
        try {
          await this.device.apply([deviceOp(change)])
        } catch (err) {
          this.noteTimeout(err)
          result.failed.push({ change, error: err as Error })
          this.counters.peerChangeErrors++
          this.log.warn({ event: 'wg.peer.error', op: change.op.kind, ...this.fields(change), err: (err as Error).message },
            `peer ${change.op.kind} failed: ${name(change)}`)
          if (++failuresInRow >= this.maxConsecutiveFailures) {
            result.notApplied = changes.slice(i + 1)
            return
          }
          continue
        }
        failuresInRow = 0
        done(change)
      }
    }
  }

  private incarnation (nodeId: string | null): number | undefined {
    return nodeId === null ? undefined : this.incarnationOf(nodeId)
  }

  private fields (c: Change): Record<string, unknown> {
    const op = c.op
    return {
      nodeId: c.nodeId,
      hostname: c.hostname,
      meshIp: c.meshIp,
      incarnation: this.incarnation(c.nodeId),
      publicKey: op.kind === 'remove' ? op.publicKey : op.peer.publicKey,
      endpoint: op.kind === 'remove' ? undefined : op.peer.endpoint,
      fields: op.kind === 'update' ? op.fields : undefined,
      reason: c.reason
    }
  }

  /**
   * The starting point after adoption or a failure: the device's peers, except that a roamed endpoint with a
   * fresh handshake counts as "the netmap's endpoint, applied", so a working session is left alone.
   */
  private fromDevice (state: DeviceState, want: readonly DesiredPeer[]): Map<string, AppliedPeer> {
    const wantByKey = new Map(want.map(p => [p.publicKey, p]))
    const now = this.clock.now()
    const applied = new Map<string, AppliedPeer>()
    for (const p of state.peers) {
      const w = wantByKey.get(p.publicKey)
      let endpoint = p.endpoint
      if (w !== undefined && w.endpoint !== null && w.endpoint !== endpoint && p.lastHandshakeAt > 0 && now - p.lastHandshakeAt < this.freshHandshakeMs) {
        endpoint = w.endpoint
      }
      applied.set(p.publicKey, {
        publicKey: p.publicKey,
        endpoint,
        allowedIps: [...p.allowedIps],
        keepaliveSeconds: p.keepaliveSeconds,
        nodeId: w?.nodeId ?? null,
        hostname: w?.hostname ?? null,
        meshIp: w?.meshIp ?? null,
        held: false
      })
    }
    return applied
  }
}

/** How a log line names a peer: its hostname, else its node id, else its key (an adopted peer nobody knows). */
function name (p: { hostname: string | null, nodeId: string | null, op?: PeerOp, publicKey?: string }): string {
  return p.hostname ?? p.nodeId ?? p.publicKey ?? (p.op === undefined ? '?' : p.op.kind === 'remove' ? p.op.publicKey : p.op.peer.publicKey)
}
