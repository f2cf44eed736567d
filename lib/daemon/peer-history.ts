import type { DevicePeer } from './wg/device.js'

/** A peer's figures as last read from the device. */
export interface LastKnown {
  endpoint: string | null
  /** Last completed handshake, ms since epoch; 0 = never. */
  lastHandshakeAt: number
  rxBytes: number
  txBytes: number
  /** When they were read, ms since epoch. */
  readAt: number
}

/**
 * The last figures read from the device for each peer (handshake, traffic, endpoint), so that `weft status`
 * and the metrics still show them once the peer is off the device (SWIM dead, left, revoked). The daemon
 * records every device read it makes, and reads the peers it is about to remove just before it does.
 */
export class PeerHistory {
  private readonly last = new Map<string, LastKnown>()

  /** Records the figures of `peers` as read at `readAt`. */
  note (peers: readonly DevicePeer[], readAt: number): void {
    for (const p of peers) {
      this.last.set(p.publicKey, { endpoint: p.endpoint, lastHandshakeAt: p.lastHandshakeAt, rxBytes: p.rxBytes, txBytes: p.txBytes, readAt })
    }
  }

  /** The last figures read for `publicKey`, or undefined when it was never read. */
  get (publicKey: string): LastKnown | undefined {
    return this.last.get(publicKey)
  }

  /** Forgets every peer whose key is not in `keep` (nodes gone from the netmap), so the table stays the mesh's size. */
  prune (keep: ReadonlySet<string>): void {
    for (const k of this.last.keys()) if (!keep.has(k)) this.last.delete(k)
  }

  get size (): number { return this.last.size }
}
