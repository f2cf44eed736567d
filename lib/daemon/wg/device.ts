import { isIP } from 'node:net'
import { InvalidInputError } from '../../errors.js'
import { isWireGuardKey } from '../../wire/keys.js'
import { parseEndpoint } from '../../wire/addr.js'

/**
 * The one interface every WireGuard driver implements, and the peer shapes it speaks in.
 *
 * Keys are WireGuard base64 everywhere above the driver; the UAPI driver converts to hex on the wire.
 * A device only applies what it is told: deciding *what* to apply is the reconciler's job (reconciler.ts).
 */

/** Which driver backs a device: the kernel module (`ip link ... type wireguard` + `wg`) or wireguard-go over UAPI. */
export type DriverKind = 'kernel' | 'userspace'

/** The configuration of one peer that Weft sets. */
export interface PeerConfig {
  /** Peer's public key, base64. */
  publicKey: string
  /** `ip:port` (IPv6 bracketed) to send handshakes to; null leaves it to WireGuard (the peer reaches us first). */
  endpoint: string | null
  /** CIDRs routed to this peer; Weft sets exactly `[meshIp/32]`. */
  allowedIps: string[]
  /** Persistent keepalive in seconds; 0 = off. */
  keepaliveSeconds: number
}

/** One peer as the device reports it: its config plus counters. */
export interface DevicePeer extends PeerConfig {
  /** Last completed handshake, ms since epoch; 0 = never. */
  lastHandshakeAt: number
  rxBytes: number
  txBytes: number
}

/** What `get()` returns: the interface's own settings and its peers. Never carries the private key. */
export interface DeviceState {
  /** Public key of the interface's private key, base64; null when no private key is set. */
  publicKey: string | null
  /** UDP port the interface listens on; 0 when not yet bound. */
  listenPort: number
  peers: DevicePeer[]
}

/**
 * One change to one peer. `update` carries the full desired config plus the fields that differ; the driver
 * touches only those fields (and never recreates the peer, so its session survives).
 */
export type PeerOp =
  | { kind: 'add', peer: PeerConfig }
  | { kind: 'remove', publicKey: string }
  | { kind: 'update', peer: PeerConfig, fields: PeerField[] }

/** A field of PeerConfig that an `update` may change. */
export type PeerField = 'endpoint' | 'allowedIps' | 'keepaliveSeconds'

/** Interface-level settings: the private key (never logged) and the listen port. */
export interface InterfaceConfig {
  privateKey: string
  listenPort: number
}

/** A WireGuard interface Weft can read and change peer by peer. */
export interface WireGuardDevice {
  readonly ifname: string
  readonly driver: DriverKind
  /** True when open found the interface already running (a restarted daemon) instead of creating it. */
  readonly adopted: boolean
  /** Reads the interface's current settings and peers. Throws DeviceError when the device cannot be reached. */
  get (): Promise<DeviceState>
  /**
   * Applies `ops` in order, each as its own device transaction, so a failure leaves every earlier op applied
   * and no later one. Throws PeerApplyError (a DeviceError) naming the failed op and how many went through.
   */
  apply (ops: readonly PeerOp[]): Promise<void>
  /**
   * Applies `ops` in order as one device transaction (one UAPI `set`, one `wg set`): a fraction of apply's
   * cost per peer (docs/bench.md, uapi-cost). Not atomic: when it throws, an unknown prefix of `ops` went
   * through, so a caller that must know which falls back to apply. Invalid input is refused before anything
   * is sent.
   */
  applyBatch (ops: readonly PeerOp[]): Promise<void>
  /** Sets private key and listen port; a no-op on the device's side when they already match. */
  configure (cfg: InterfaceConfig): Promise<void>
  /**
   * Marks the device's own UDP packets with `mark` (0: no mark), so policy routing can keep them out of the tunnel
   * they carry (exit-routing.ts). Throws DeviceError when the device refuses.
   */
  setFwmark (mark: number): Promise<void>
  /** Tears the interface down (and, for userspace, ends its wireguard-go). Used by `weft leave`, never on restart. */
  destroy (): Promise<void>
}

/**
 * Throws InvalidInputError unless `p` is something a device can take whole: a WireGuard key, an `ip:port`
 * endpoint (IP literal: devices do not resolve names), IPv4/IPv6 CIDRs and a keepalive of 0-65535 s.
 * Drivers call it before sending anything, so bad input is refused rather than half-applied (wireguard-go
 * creates a peer at its `public_key` line and only then rejects a bad endpoint).
 */
export function validatePeer (p: PeerConfig): void {
  if (!isWireGuardKey(p.publicKey)) throw new InvalidInputError('peer public key is not a WireGuard key')
  if (p.endpoint !== null) {
    const ep = parseEndpoint(p.endpoint)
    if (ep === null || isIP(ep.host) === 0) throw new InvalidInputError(`peer ${p.publicKey}: endpoint "${p.endpoint}" is not ip:port`)
  }
  for (const c of p.allowedIps) {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(c)
    const fam = m === null ? 0 : isIP(m[1]!)
    if (m === null || fam === 0 || Number(m[2]) > (fam === 4 ? 32 : 128)) throw new InvalidInputError(`peer ${p.publicKey}: allowed IP "${c}" is not a CIDR`)
  }
  if (!Number.isInteger(p.keepaliveSeconds) || p.keepaliveSeconds < 0 || p.keepaliveSeconds > 65535) {
    throw new InvalidInputError(`peer ${p.publicKey}: keepalive ${p.keepaliveSeconds} is not 0-65535 seconds`)
  }
}

/** `a/b` CIDR lists compared as sets (order and duplicates do not matter). */
export function sameAllowedIps (a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a)
  const sb = new Set(b)
  if (sa.size !== sb.size) return false
  for (const x of sa) if (!sb.has(x)) return false
  return true
}

/** The public key an op concerns. */
export function opKey (op: PeerOp): string {
  return op.kind === 'remove' ? op.publicKey : op.peer.publicKey
}
