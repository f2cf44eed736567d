import { generateKeyPair } from '../../lib/wire/keys.js'
import type { Netmap, NodeRecord } from '../../lib/wire/netmap.js'
import { zeroStats, type MemberInfo } from '../../lib/swim/types.js'
import { PeerHistory } from '../../lib/daemon/peer-history.js'
import type { StatusInputs } from '../../lib/daemon/status-build.js'
import type { DaemonStatus } from '../../lib/daemon/status.js'
import { zeroCounters } from '../../lib/dns/server.js'
import type { DaemonConfig } from '../../lib/daemon/config.js'
import type { DevicePeer, WireGuardDevice } from '../../lib/daemon/wg/device.js'
import { nodeRecord } from './records.js'
import { PREF_DEFAULTS, type RoutePrefs } from '../../lib/daemon/prefs.js'

/** A netmap node with hostname `hostname` (its DNS name too) and id `id`. */
export function node (id: string, hostname: string, i: number): NodeRecord {
  return nodeRecord(i, generateKeyPair().publicKey, { id, hostname, name: hostname })
}

/** A device peer for `n` with the given figures. */
export function devicePeer (n: NodeRecord, f: { lastHandshakeAt: number, rxBytes: number, txBytes: number }): DevicePeer {
  return { publicKey: n.publicKey, endpoint: n.endpoints[0]!, allowedIps: [`${n.meshIp}/32`], keepaliveSeconds: 25, ...f }
}

/** StatusInputs for node `self` of `nodes`, with `peers` on the device; everything else plausible and fixed. */
export function statusInputs (
  self: NodeRecord, nodes: NodeRecord[], peers: DevicePeer[],
  o: { history?: PeerHistory, members?: MemberInfo[], cfg?: Partial<DaemonConfig>, prefs?: Partial<RoutePrefs>, routes?: Partial<StatusInputs['routes']> } = {}
): StatusInputs {
  const netmap: Netmap = { epoch: 'e1', version: 7, cidr: '100.64.0.0/10', nodes, dns: { domain: 'weft.internal' } }
  return {
    identity: { nodeId: self.id, meshIp: self.meshIp, cidr: netmap.cidr, credential: 'c', controllerPublicKey: 'k' },
    hostname: self.hostname,
    publicKey: self.publicKey,
    cfg: { controllerUrls: ['http://198.18.0.1:8080'], ifname: 'wg0', listenPort: 51820, swimPort: 7946, ...o.cfg } as DaemonConfig,
    device: { driver: 'userspace', adopted: false } as WireGuardDevice,
    deviceState: { publicKey: self.publicKey, listenPort: 51820, peers },
    history: o.history ?? new PeerHistory(),
    startedAt: 1,
    link: null,
    netmap,
    netmapAppliedAt: 2,
    swim: { incarnation: 3, healthScore: 0, members: () => o.members ?? [], stats: zeroStats },
    counters: {},
    lastError: null,
    policy: { version: null, pending: null, rules: 0, sets: 0, elements: 0, appliedAt: null, error: null, drops: null },
    dns: dnsStatus(),
    routes: { prefs: { ...PREF_DEFAULTS, ...o.prefs }, primaries: new Map(), kernel: [], exit: { mode: 'none', via: null, reason: null }, ...o.routes }
  }
}

/** A DNS status: answering on 100.64.0.1:53 for `names` names, forwarding, the host wired through systemd-resolved. */
export function dnsStatus (o: Partial<DaemonStatus['dns']> = {}): DaemonStatus['dns'] {
  return {
    enabled: true,
    listen: '100.64.0.1:53',
    domain: 'weft.internal',
    names: 3,
    forward: true,
    upstreams: ['198.18.0.1'],
    error: null,
    host: { mode: 'resolved', reason: 'systemd-resolved runs', applied: null, lastError: null, hint: null },
    counters: zeroCounters(),
    ...o
  }
}
