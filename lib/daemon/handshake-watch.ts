import type { Clock, Timer } from '../clock.js'
import { initiates } from './desired.js'
import type { DevicePeer } from './wg/device.js'

/** WireGuard's handshake initiation and response, in bytes: what a peer's rx counts for one of each. */
const INITIATION_BYTES = 148
const RESPONSE_BYTES = 92

/**
 * A peer whose tunnel needs a fresh handshake: none completed, or one completed whose receive side is dark
 * (rx is exactly one initiation plus one response and nothing since: the other end's traffic uses an index
 * this end dropped; a healthy session gets at least the initiator's confirming keepalive on top).
 */
export function needsHandshake (p: Pick<DevicePeer, 'lastHandshakeAt' | 'rxBytes'>): 'none' | 'dark' | null {
  if (p.lastHandshakeAt === 0) return 'none'
  if (p.rxBytes === INITIATION_BYTES + RESPONSE_BYTES) return 'dark'
  return null
}

/** What HandshakeWatch needs from the daemon. */
export interface HandshakeWatchOptions {
  clock: Clock
  /** This node's WireGuard public key. */
  selfKey: string
  /** Reads the device's peers. May throw: that check is skipped (WireGuard's own retries remain). */
  readPeers: () => Promise<readonly DevicePeer[]>
  /** Re-creates the peer with its full config: a fresh peer sends an initiation at once. */
  reset: (publicKey: string, reason: 'no-handshake' | 'dark-receive') => Promise<void>
  /** Turns on the keepalive of peers added held (DesiredPeer.held). */
  arm: (publicKeys: readonly string[]) => Promise<void>
  /**
   * When the initiating end checks a peer it added; the responding end checks at 1.5 times this, once the
   * initiator's own check (and re-send) had its round trip. Default: 1000 ms: a handshake completes in one
   * and a half round trips, so this leaves room for a 600 ms RTT; a false alarm costs one more handshake, a
   * miss costs the rest of WireGuard's 5 s REKEY_TIMEOUT (or its 15 s data timeout for a dark receive side).
   */
  checkAfterMs?: number
  /** Re-creations per add before leaving the peer to WireGuard's own retries (the other end may be down). Default: 3. */
  maxResets?: number
}

/** A peer being watched: when it is next checked, how often it was re-created and checked since it was added. */
interface Pending { dueAt: number, resets: number, checks: number }

/**
 * Checks of an initiated peer that has heard nothing at all from the other end, before it is left to
 * WireGuard's own retries (every 5 s). The other end may not have added us yet; it will initiate itself.
 */
const MAX_SILENT_CHECKS = 5

/** Default of HandshakeWatchOptions.checkAfterMs. */
export const CHECK_AFTER_MS = 1000

/** Default of HandshakeWatchOptions.maxResets. */
export const MAX_RESETS = 3

/** What one check of a watched peer decides (see HandshakeWatch). */
export type HandshakeVerdict =
  | { kind: 'reset', reason: 'no-handshake' | 'dark-receive' }
  | { kind: 'recheck' }
  | { kind: 'arm' }
  | { kind: 'done' }

/** When a peer added `initiator` (this end starts the handshake) or not is first checked, after its add. */
export function checkDelayMs (initiator: boolean, checkAfterMs: number): number {
  return initiator ? checkAfterMs : Math.round(1.5 * checkAfterMs)
}

/**
 * The decision of one check, from what the device reports of the peer, which end initiates, and how often the
 * peer was re-created and checked since its add. Pure: the daemon and `weft sim virtual` both run it.
 */
export function checkHandshake (peer: Pick<DevicePeer, 'lastHandshakeAt' | 'rxBytes'>, initiator: boolean,
  history: { resets: number, checks: number }, maxResets: number): HandshakeVerdict {
  const need = needsHandshake(peer)
  // Without a handshake, a re-created peer helps only when the other end did send us something (its
  // initiation crossed ours). Silence means it has not added us yet, or a loaded host is slow: re-creating
  // then would only throw away the initiation WireGuard is retrying, so check again later instead.
  const crossed = need === 'none' && initiator && peer.rxBytes > 0
  const silent = need === 'none' && initiator && peer.rxBytes === 0
  if ((need === 'dark' || crossed) && history.resets < maxResets) {
    return { kind: 'reset', reason: need === 'dark' ? 'dark-receive' : 'no-handshake' }
  }
  if (silent && history.checks < MAX_SILENT_CHECKS) return { kind: 'recheck' }
  return initiator ? { kind: 'done' } : { kind: 'arm' }
}

/**
 * Gets each new tunnel's first handshake through, which WireGuard alone does not always do when both ends add
 * each other at the same moment (one netmap delta reaching both, a healed partition, two underlay
 * announcements crossing).
 *
 * WireGuard sends an initiation the moment a peer with a persistent keepalive is configured, so both ends
 * initiate and the initiations cross. wireguard-go then either refuses both answers (each end replaced its
 * pending handshake with the other's) and retries after REKEY_TIMEOUT (5 s), or, when the answer and the
 * other end's initiation are handled at once by two handshake workers, keys the session under an index the
 * other end never learns, so one direction stays dark until its 15 s data timeout. Both were seen in
 * `weft sim run --scenario partition`.
 *
 * 1. Only one end sends at once: the initiating end (see initiates). The responding end's desired peer is held,
 *    and the reconciler adds it with its keepalive off; its own traffic can still start a handshake, which a one-sided
 *    re-add (the other end kept its old session and will not initiate) needs.
 * 2. The initiating end checks after checkAfterMs and re-creates a peer without a handshake (its initiation
 *    was dropped by an end that did not have us yet): a fresh peer initiates without waiting out
 *    REKEY_TIMEOUT.
 * 3. The responding end checks after 1.5 × checkAfterMs and turns the keepalive on, which starts the
 *    handshake from its side if there still is none.
 * 4. Either end re-creates a peer whose receive side is dark (needsHandshake). The other end believes its
 *    session works and sends no initiation, so the fresh one cannot cross another.
 */
export class HandshakeWatch {
  private readonly pending = new Map<string, Pending>()
  private readonly checkAfterMs: number
  private readonly maxResets: number
  private timer: Timer | undefined
  private timerAt = Infinity
  private stopped = false
  /** Peers re-created since start. */
  resets = 0

  constructor (private readonly o: HandshakeWatchOptions) {
    this.checkAfterMs = o.checkAfterMs ?? CHECK_AFTER_MS
    this.maxResets = o.maxResets ?? MAX_RESETS
  }

  /** Peers just added to the device. */
  added (publicKeys: readonly string[]): void {
    if (publicKeys.length === 0 || this.stopped) return
    for (const k of publicKeys) this.pending.set(k, { dueAt: this.dueAt(k), resets: 0, checks: 0 })
    this.schedule()
  }

  /** Peers removed from the device: nothing left to watch. */
  removed (publicKeys: readonly string[]): void {
    for (const k of publicKeys) this.pending.delete(k)
  }

  stop (): void {
    this.stopped = true
    this.timer?.cancel()
    this.timer = undefined
    this.pending.clear()
  }

  /** Handles every pending peer that is due; exposed for tests, normally run by the timer. */
  async run (): Promise<void> {
    const now = this.o.clock.now()
    const due = [...this.pending].filter(([, p]) => p.dueAt <= now)
    if (due.length === 0) return
    for (const [key] of due) this.pending.delete(key)
    let byKey: Map<string, DevicePeer>
    try {
      byKey = new Map((await this.o.readPeers()).map(p => [p.publicKey, p]))
    } catch {
      return
    }
    const arms: string[] = []
    for (const [key, p] of due) {
      const peer = byKey.get(key)
      if (peer === undefined || this.pending.has(key)) continue // gone, or re-added meanwhile (watched afresh)
      const verdict = checkHandshake(peer, initiates(this.o.selfKey, key), p, this.maxResets)
      if (verdict.kind === 'reset') {
        await this.o.reset(key, verdict.reason)
        this.resets++
        if (!this.stopped) this.pending.set(key, { dueAt: this.dueAt(key), resets: p.resets + 1, checks: p.checks + 1 })
      } else if (verdict.kind === 'recheck') {
        if (!this.stopped) this.pending.set(key, { dueAt: this.dueAt(key), resets: p.resets, checks: p.checks + 1 })
      } else if (verdict.kind === 'arm') {
        arms.push(key)
      }
    }
    if (arms.length > 0) await this.o.arm(arms)
  }

  private dueAt (key: string): number {
    return this.o.clock.now() + checkDelayMs(initiates(this.o.selfKey, key), this.checkAfterMs)
  }

  private schedule (): void {
    if (this.stopped || this.pending.size === 0) return
    const next = Math.min(...[...this.pending.values()].map(p => p.dueAt))
    if (this.timer !== undefined && this.timerAt <= next) return
    this.timer?.cancel()
    this.timerAt = next
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined
      this.timerAt = Infinity
      void this.run().finally(() => this.schedule())
    }, Math.max(0, next - this.o.clock.now()))
  }
}
