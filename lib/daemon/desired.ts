/**
 * The WireGuard peer set this node should have, as a pure function of the netmap, what SWIM holds down, and
 * who we are. No I/O, no clock: same input, same output, so the reconciler can skip work when nothing changed.
 */
import { isIP } from 'node:net'
import type { Netmap, NodeRecord } from '../wire/netmap.js'
import { isWireGuardKey } from '../wire/keys.js'
import { parseEndpoint, parseIPv4 } from '../wire/addr.js'
import type { PeerConfig } from './wg/device.js'
import { DEFAULTS } from './config.js'

/**
 * Which node ids SWIM currently holds dead or left. A Set of ids, or a predicate; `true` = leave it out.
 * Suspects are *not* down: a suspect keeps its tunnel so it can refute over it.
 */
export type Liveness = ReadonlySet<string> | ((id: string) => boolean)

/** One desired peer: the device config plus who it is, for logs. */
export interface DesiredPeer extends PeerConfig {
  nodeId: string
  hostname: string
  meshIp: string
  /**
   * Added with its keepalive off (the device gets 0, `keepaliveSeconds` is what arming sets): the other end starts
   * the handshake (initiates), and HandshakeWatch arms the peer once that had its chance (docs/wireguard.md).
   * Default: false.
   */
  held?: boolean
}

/**
 * Whether this node starts the handshake with `peerKey` when both add each other: the end with the smaller
 * public key. Both ends compute the same answer, so exactly one of them initiates.
 */
export function initiates (selfKey: string, peerKey: string): boolean {
  return selfKey < peerKey
}

/** Why a netmap node is not a peer. `swim-dead` and `left`/`removed` are normal; the `invalid-*` ones are bad input, dropped. */
export type ExclusionReason = 'self' | 'left' | 'removed' | 'swim-dead' | 'invalid-key' | 'invalid-mesh-ip' | 'duplicate-key' | 'duplicate-mesh-ip'

/** A node left out, with the reason; the reconciler uses it as the `reason` of a `wg.peer.remove`. */
export interface Exclusion { nodeId: string, publicKey: string, meshIp: string, reason: ExclusionReason }

/** Result of desired(): the peers, sorted by public key, and every node left out. */
export interface DesiredConfig {
  peers: DesiredPeer[]
  excluded: Exclusion[]
}

/** Options of desired(). */
export interface DesiredOptions {
  /**
   * Persistent keepalive for every peer, in seconds (0 = off).
   * Default: DaemonConfig.keepaliveSeconds's (lib/daemon/config.ts DEFAULTS, which says why).
   */
  keepaliveSeconds?: number
  /**
   * This node's WireGuard public key. When set, every peer this node does not initiate to (initiates) is `held`.
   * Default: unset, no peer held.
   */
  selfKey?: string
}

/**
 * The endpoint to dial a node at: the first advertised endpoint that is an IP literal with a port, else the
 * endpoint the controller observed, else null (no endpoint: WireGuard learns it when the peer reaches us).
 * Advertised first because the node states where it listens (an operator's `--endpoint` or its own
 * addresses); the observed one is a fallback that may be a NAT's view. Hostnames are skipped: the device
 * takes IP literals only, and resolving names here would make this function impure.
 */
export function chooseEndpoint (node: Pick<NodeRecord, 'endpoints' | 'observedEndpoint'>): string | null {
  for (const e of node.endpoints) if (isIpEndpoint(e)) return e
  if (node.observedEndpoint !== null && isIpEndpoint(node.observedEndpoint)) return node.observedEndpoint
  return null
}

function isIpEndpoint (s: string): boolean {
  const ep = parseEndpoint(s)
  return ep !== null && isIP(ep.host) !== 0
}

function isDown (liveness: Liveness, id: string): boolean {
  return typeof liveness === 'function' ? liveness(id) : liveness.has(id)
}

/**
 * The desired peer set of node `self`: every netmap node except self, nodes `left` or `removed`, nodes SWIM
 * holds down, and malformed records (bad key or mesh IP, or a key or mesh IP already taken by a node earlier in
 * id order). Each peer gets AllowedIPs `[meshIp/32]`, the endpoint from chooseEndpoint and the keepalive, and is
 * held when the other end starts the handshake (see DesiredOptions.selfKey).
 */
export function desired (netmap: Netmap, liveness: Liveness, self: string, opts: DesiredOptions = {}): DesiredConfig {
  const keepaliveSeconds = opts.keepaliveSeconds ?? DEFAULTS.keepaliveSeconds
  const selfKey = netmap.nodes.find(n => n.id === self)?.publicKey
  const peers: DesiredPeer[] = []
  const excluded: Exclusion[] = []
  const keys = new Set<string>()
  const ips = new Set<string>()
  // Sorted by id so that "first one wins" on duplicates does not depend on the order the netmap arrived in.
  const nodes = [...netmap.nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  for (const n of nodes) {
    const ex = (reason: ExclusionReason): void => { excluded.push({ nodeId: n.id, publicKey: n.publicKey, meshIp: n.meshIp, reason }) }
    if (n.id === self || (selfKey !== undefined && n.publicKey === selfKey)) { ex('self'); continue }
    if (n.health === 'left' || n.health === 'removed') { ex(n.health); continue }
    if (!isWireGuardKey(n.publicKey)) { ex('invalid-key'); continue }
    if (parseIPv4(n.meshIp) === null) { ex('invalid-mesh-ip'); continue }
    if (keys.has(n.publicKey)) { ex('duplicate-key'); continue }
    if (ips.has(n.meshIp)) { ex('duplicate-mesh-ip'); continue }
    // Counted as taken even when SWIM holds it dead, so a later duplicate cannot grab the slot meanwhile.
    keys.add(n.publicKey)
    ips.add(n.meshIp)
    if (isDown(liveness, n.id)) { ex('swim-dead'); continue }
    peers.push({
      nodeId: n.id,
      hostname: n.hostname,
      meshIp: n.meshIp,
      publicKey: n.publicKey,
      endpoint: chooseEndpoint(n),
      allowedIps: [`${n.meshIp}/32`],
      keepaliveSeconds,
      held: opts.selfKey !== undefined && !initiates(opts.selfKey, n.publicKey)
    })
  }
  peers.sort((a, b) => (a.publicKey < b.publicKey ? -1 : a.publicKey > b.publicKey ? 1 : 0))
  return { peers, excluded }
}
