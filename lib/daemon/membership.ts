import type { Netmap, NodeRecord } from '../wire/netmap.js'
import type { ControlHint, MemberInfo } from '../swim/types.js'
import { parseEndpoint } from '../wire/addr.js'
import { chooseEndpoint } from './desired.js'
import type { UnderlayPeer } from './announcer.js'

/**
 * How the netmap maps onto SWIM: who the members are, where each one's SWIM agent and announcement socket
 * listen, and what the controller's fused health says about each (the cross-check hint).
 */

/** Who SWIM holds down (dead or left): desired() leaves their peers out. A suspect is not down: it keeps its tunnel. */
export function downMembers (members: readonly MemberInfo[]): Set<string> {
  const down = new Set<string>()
  for (const m of members) if (m.state === 'dead' || m.state === 'left') down.add(m.id)
  return down
}

/** The members SWIM holds dead, each re-probed over the underlay on every tick (Announcer.pingDead). */
export function deadMembers (members: readonly MemberInfo[]): MemberInfo[] {
  return members.filter(m => m.state === 'dead')
}

/** The authorised SWIM members: every node in the netmap that has not left (removed ones are not in it). */
export function swimMembers (map: Netmap): Array<{ id: string, addr: string }> {
  return map.nodes
    .filter(n => n.health !== 'left' && n.health !== 'removed')
    .map(n => ({ id: n.id, addr: `${n.meshIp}:${n.swimPort}` }))
}

/**
 * The controller's evidence about a node as a SWIM hint. `stale` when the controller does not hear from it
 * (offline, control-lost): one more independent confirmation of a suspicion. Never `fresh`: the controller's
 * "hears it" lags by up to its heartbeat timeout (15 s), so a host that vanished a second ago still looks fresh
 * there, and holding its suspicion at the maximum measured 6.7 s instead of 1.6 s to removal at N=8. Fresh
 * evidence of life comes from the member's own data plane instead (dataplane-watch.ts), which is first-hand
 * and sub-second. Only meaningful while our own link to the controller is up.
 */
export function controlHint (n: NodeRecord): ControlHint {
  switch (n.health) {
    case 'offline':
    case 'control-lost':
      return 'stale'
    case 'online':
    case 'mesh-lost':
    case 'left':
    case 'removed':
      return null
    default: {
      const never: never = n.health
      return never
    }
  }
}

/** Where to send a node underlay announcements: its WireGuard endpoint's host, port + `portOffset`. */
export function underlayPeer (n: NodeRecord, portOffset = 1): UnderlayPeer | null {
  const ep = chooseEndpoint(n)
  const parsed = ep === null ? null : parseEndpoint(ep)
  if (parsed === null || parsed.port + portOffset > 65535) return null
  return { publicKey: n.publicKey, host: parsed.host, port: parsed.port + portOffset }
}
