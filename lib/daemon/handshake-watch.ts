import type { Clock } from '../clock.js'
import type { DevicePeer } from './wg/device.js'

/**
 * Whether this node starts the handshake with `peerKey` when both add each other: the end with the smaller
 * public key. Both ends compute the same answer, so exactly one of them initiates.
 */
export function initiates (selfKey: string, peerKey: string): boolean {
  return selfKey < peerKey
}

/** What HandshakeWatch needs from the daemon. */
export interface HandshakeWatchOptions {
  clock: Clock
  /** This node's WireGuard public key. */
  selfKey: string
  /** Reads the device's peers. May throw: that check is skipped (WireGuard's own retries remain). */
  readPeers: () => Promise<readonly DevicePeer[]>
  /** Initiating end: re-creates the peer, which sends a fresh handshake initiation at once. */
  reset: (publicKey: string) => Promise<void>
  /** Responding end: turns on the peer's persistent keepalive, held back when the peer was added. */
  armKeepalive: (publicKey: string) => Promise<void>
  /**
   * How long after an add the initiating end waits for a handshake before re-creating the peer. Default:
   * 1000 ms: a handshake completes in one and a half round trips, so this leaves room for a 600 ms RTT; a
   * false positive costs one more handshake, a miss costs the rest of WireGuard's 5 s REKEY_TIMEOUT.
   */
  checkAfterMs?: number
  /** Re-creations per add before leaving the peer to WireGuard's own retries (the other end may be down). Default: 3. */
  maxResets?: number
}

interface Pending { dueAt: number, kind: 'check' | 'arm', resets: number }

/**
 * Makes one end of each new tunnel start the handshake, and rescues it when that start was lost.
 *
 * WireGuard sends a handshake initiation the moment a peer with a persistent keepalive is configured. When
 * both ends add each other at the same moment (one netmap delta reaching both, a healed partition, two
 * underlay announcements crossing), the two initiations cross. wireguard-go then either refuses both answers
 * (each end replaced its own pending handshake with the other's) and waits REKEY_TIMEOUT (5 s) to retry, or,
 * with the answer and the initiation handled at once by two handshake workers, keys the session under an
 * index the other end never learns, so one direction stays dark for 15 s. Both were seen in `weft sim run
 * --scenario partition`.
 *
 * So only the initiating end (see initiates) keeps the immediate keepalive. The responding end's reconciler
 * adds the peer with the keepalive held back, and this watch turns it on 1.5 × checkAfterMs later: by then
 * the session normally exists, and if it does not (the initiation reached us before we had the peer) the
 * keepalive starts the handshake from our side, at a moment the other end is not initiating. The initiating
 * end checks after checkAfterMs and re-creates a peer that has no handshake yet (its initiation was dropped
 * by an end that did not have us yet), which sends a fresh initiation without waiting for REKEY_TIMEOUT.
 */
export class HandshakeWatch {
  private readonly pending = new Map<string, Pending>()
  private readonly checkAfterMs: number
  private readonly maxResets: number
  private timer: NodeJS.Timeout | undefined
  private timerAt = Infinity
  private stopped = false
  /** Peers re-created since start. */
  resets = 0

  constructor (private readonly o: HandshakeWatchOptions) {
    this.checkAfterMs = o.checkAfterMs ?? 1000
    this.maxResets = o.maxResets ?? 3
  }

  /** Peers just added to the device. */
  added (publicKeys: readonly string[]): void {
    if (publicKeys.length === 0 || this.stopped) return
    const now = this.o.clock.now()
    for (const k of publicKeys) {
      this.pending.set(k, initiates(this.o.selfKey, k)
        ? { dueAt: now + this.checkAfterMs, kind: 'check', resets: 0 }
        : { dueAt: now + Math.round(1.5 * this.checkAfterMs), kind: 'arm', resets: 0 })
    }
    this.arm()
  }

  /** Peers removed from the device: nothing left to watch. */
  removed (publicKeys: readonly string[]): void {
    for (const k of publicKeys) this.pending.delete(k)
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
    this.pending.clear()
  }

  /** Handles every pending peer that is due; exposed for tests, normally run by the timer. */
  async run (): Promise<void> {
    const now = this.o.clock.now()
    const due = [...this.pending].filter(([, p]) => p.dueAt <= now)
    if (due.length === 0) return
    for (const [key] of due) this.pending.delete(key)
    for (const [key, p] of due) if (p.kind === 'arm') await this.o.armKeepalive(key)
    const checks = due.filter(([, p]) => p.kind === 'check')
    if (checks.length === 0) return
    let peers: readonly DevicePeer[]
    try {
      peers = await this.o.readPeers()
    } catch {
      return
    }
    const byKey = new Map(peers.map(p => [p.publicKey, p]))
    for (const [key, p] of checks) {
      const peer = byKey.get(key)
      if (peer === undefined || peer.lastHandshakeMs > 0 || p.resets >= this.maxResets || this.pending.has(key)) continue
      await this.o.reset(key)
      this.resets++
      if (!this.stopped) this.pending.set(key, { dueAt: this.o.clock.now() + this.checkAfterMs, kind: 'check', resets: p.resets + 1 })
    }
  }

  private arm (): void {
    if (this.stopped || this.pending.size === 0) return
    const next = Math.min(...[...this.pending.values()].map(p => p.dueAt))
    if (this.timer !== undefined && this.timerAt <= next) return
    clearTimeout(this.timer)
    this.timerAt = next
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.timerAt = Infinity
      void this.run().finally(() => this.arm())
    }, Math.max(0, next - this.o.clock.now()))
  }
}
