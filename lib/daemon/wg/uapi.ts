/**
 * The WireGuard cross-platform UAPI text protocol (wireguard.com/xplatform), pure: building `get=1` and
 * `set=1` requests and parsing the replies. No sockets here; uapi-device.ts does the I/O.
 *
 * A reply is `key=value` lines ending with `errno=N` and an empty line. Keys are hex on the wire.
 */
import { createHash } from 'node:crypto'
import { hexToKey, keyToHex, publicKeyFor } from '../../wire/keys.js'
import { DeviceError, InvalidInputError } from '../../errors.js'
import type { DeviceState, DevicePeer, InterfaceConfig, PeerOp } from './device.js'
import { validatePeer } from './device.js'

/** The request that reads the whole device. */
export const GET_REQUEST = 'get=1\n\n'

/** The `set=1` lines of one op (one peer). Throws InvalidInputError on a peer validatePeer refuses. */
function opLines (op: PeerOp): string[] {
  if (op.kind !== 'remove') validatePeer(op.peer)
  const lines: string[] = []
  switch (op.kind) {
    case 'remove':
      lines.push(`public_key=${keyToHex(op.publicKey)}`, 'remove=true')
      break
    case 'add': {
      const p = op.peer
      lines.push(`public_key=${keyToHex(p.publicKey)}`)
      if (p.endpoint !== null) lines.push(`endpoint=${p.endpoint}`)
      lines.push(`persistent_keepalive_interval=${p.keepaliveSeconds}`, 'replace_allowed_ips=true')
      for (const ip of p.allowedIps) lines.push(`allowed_ip=${ip}`)
      break
    }
    case 'update': {
      const p = op.peer
      // update_only: if the peer vanished meanwhile, fail to nothing rather than silently re-create a half peer.
      lines.push(`public_key=${keyToHex(p.publicKey)}`, 'update_only=true')
      if (op.fields.includes('endpoint') && p.endpoint !== null) lines.push(`endpoint=${p.endpoint}`)
      if (op.fields.includes('keepaliveSeconds')) lines.push(`persistent_keepalive_interval=${p.keepaliveSeconds}`)
      if (op.fields.includes('allowedIps')) {
        lines.push('replace_allowed_ips=true')
        for (const ip of p.allowedIps) lines.push(`allowed_ip=${ip}`)
      }
      break
    }
    default: {
      const never: never = op
      throw new DeviceError(`unknown peer op ${JSON.stringify(never)}`)
    }
  }
  return lines
}

/** A `set=1` request that applies one op (one peer), so that an error can only concern that peer. Throws InvalidInputError on a peer validatePeer refuses. */
export function buildSetOp (op: PeerOp): string {
  return buildSetOps([op])
}

/** One `set=1` request carrying every op in order (one device transaction). Throws InvalidInputError on any peer validatePeer refuses. */
export function buildSetOps (ops: readonly PeerOp[]): string {
  return ['set=1', ...ops.flatMap(opLines)].join('\n') + '\n\n'
}

/** A `set=1` request for the interface's private key and listen port. The text carries the secret: never log it. */
export function buildSetInterface (cfg: InterfaceConfig): string {
  return `set=1\nprivate_key=${keyToHex(cfg.privateKey)}\nlisten_port=${cfg.listenPort}\n\n`
}

/** A `set=1` request for the device's fwmark (0 clears it). */
export function buildSetFwmark (mark: number): string {
  if (!Number.isInteger(mark) || mark < 0 || mark > 0xffffffff) throw new InvalidInputError(`fwmark ${mark} is not a 32-bit mark`)
  return `set=1\nfwmark=${mark}\n\n`
}

/** True when `text` holds a complete reply (the errno line followed by the blank line). */
export function isCompleteReply (text: string): boolean {
  return /(^|\n)errno=-?\d+\n\n$/.test(text)
}

/** The errno of a complete reply; throws DeviceError when the reply has none. */
export function parseErrno (text: string): number {
  const m = /(?:^|\n)errno=(-?\d+)\n\n$/.exec(text)
  if (m === null) throw new DeviceError(`UAPI reply has no errno line: ${JSON.stringify(text.slice(-80))}`)
  return Number(m[1])
}

function num (key: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new DeviceError(`UAPI reply: ${key}=${value} is not a number`)
  return Number(value)
}

/** The public key of a UAPI `private_key` value (64 hex characters). */
export function publicKeyOfHex (hex: string): string {
  return publicKeyFor(hexToKeyChecked(hex))
}

/**
 * A `publicKeyOf` for parseGet that remembers its last derivation. Deriving imports the private key into
 * OpenSSL (~0.8 ms), most of a read's cost for whoever reads a device often; a device keeps its key, so one
 * entry per device suffices. Keyed by a digest, so the private key itself is not held.
 */
export function rememberPublicKey (): (privateHex: string) => string {
  let last: { digest: string, publicKey: string } | null = null
  return hex => {
    const digest = createHash('sha256').update(hex).digest('base64')
    if (last?.digest !== digest) last = { digest, publicKey: publicKeyOfHex(hex) }
    return last.publicKey
  }
}

/**
 * Parses a `get=1` reply into DeviceState. Throws DeviceError when errno is non-zero or a line is malformed.
 * The private key is read only to derive the public key and is not kept; `publicKeyOf` does the deriving
 * (UapiDevice passes one that remembers its own key's answer).
 */
export function parseGet (text: string, publicKeyOf: (privateHex: string) => string = publicKeyOfHex): DeviceState {
  const errno = parseErrno(text)
  if (errno !== 0) throw new DeviceError(`UAPI get failed: errno=${errno}`)
  const state: DeviceState = { publicKey: null, listenPort: 0, peers: [] }
  let peer: DevicePeer | null = null
  let hsSec = 0
  let hsNsec = 0
  const finish = (): void => {
    if (peer !== null) peer.lastHandshakeAt = hsSec * 1000 + Math.floor(hsNsec / 1e6)
  }
  for (const line of text.split('\n')) {
    if (line === '') continue
    const eq = line.indexOf('=')
    if (eq <= 0) throw new DeviceError(`UAPI reply: malformed line ${JSON.stringify(line.slice(0, 40))}`)
    const key = line.slice(0, eq)
    const value = line.slice(eq + 1)
    if (key === 'errno') continue
    if (key === 'public_key') {
      finish()
      peer = { publicKey: hexToKeyChecked(value), endpoint: null, allowedIps: [], keepaliveSeconds: 0, lastHandshakeAt: 0, rxBytes: 0, txBytes: 0 }
      hsSec = 0
      hsNsec = 0
      state.peers.push(peer)
      continue
    }
    if (peer === null) {
      if (key === 'private_key') state.publicKey = /^0{64}$/.test(value) ? null : publicKeyOf(value)
      else if (key === 'listen_port') state.listenPort = num(key, value)
      // fwmark is Weft's own (exit-routing.ts sets it); future device-level keys are not its concern.
      continue
    }
    switch (key) {
      case 'endpoint': peer.endpoint = value; break
      case 'allowed_ip': peer.allowedIps.push(value); break
      case 'persistent_keepalive_interval': peer.keepaliveSeconds = num(key, value); break
      case 'last_handshake_time_sec': hsSec = num(key, value); break
      case 'last_handshake_time_nsec': hsNsec = num(key, value); break
      case 'rx_bytes': peer.rxBytes = num(key, value); break
      case 'tx_bytes': peer.txBytes = num(key, value); break
      default: break // preshared_key, protocol_version: read and ignored
    }
  }
  finish()
  return state
}

function hexToKeyChecked (hex: string): string {
  try {
    return hexToKey(hex)
  } catch {
    throw new DeviceError('UAPI reply: key is not 64 hex characters')
  }
}
