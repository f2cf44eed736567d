/**
 * The difference between the desired peer set and what we last applied, as one change per peer. Pure.
 *
 * Compared against what *we last applied*, not what the device reports now: WireGuard roams a peer's
 * endpoint to wherever its authenticated packets come from, and re-setting the netmap's endpoint on every
 * reconcile would fight that roaming. The endpoint is therefore updated only when the netmap's choice changes.
 */
import type { PeerConfig, PeerField, PeerOp } from './wg/device.js'
import { sameAllowedIps } from './wg/device.js'
import type { DesiredPeer, Exclusion } from './desired.js'

/** A peer as we last applied it (or found it when adopting), with who it is when we know. */
export interface AppliedPeer extends PeerConfig {
  nodeId: string | null
  hostname: string | null
  meshIp: string | null
  /** Added held: the device's keepalive is 0 until arming sets `keepaliveSeconds` (DesiredPeer.held). */
  held: boolean
}

/** One change to one peer, with what the logs need: node id, hostname, mesh IP and a reason. */
export interface Change {
  op: PeerOp
  nodeId: string | null
  hostname: string | null
  meshIp: string | null
  /**
   * add: `in-netmap`. remove: the node's exclusion reason (`swim-dead`, `left`, `removed`, ...) or
   * `not-in-netmap`. update: the changed fields, comma-separated (`endpoint-changed,allowed-ips-changed`).
   */
  reason: string
  /** An add of a held peer: the device gets it with its keepalive off (deviceOp). */
  held: boolean
}

const FIELD_REASON: Record<PeerField, string> = {
  endpoint: 'endpoint-changed',
  allowedIps: 'allowed-ips-changed',
  keepaliveSeconds: 'keepalive-changed'
}

/** The device config part of a peer (a desired or applied one), as a copy the caller may keep. */
export function peerConfig (p: PeerConfig): PeerConfig {
  return { publicKey: p.publicKey, endpoint: p.endpoint, allowedIps: [...p.allowedIps], keepaliveSeconds: p.keepaliveSeconds }
}

/** The fields of `want` that differ from `have`. A null desired endpoint means "no opinion" and never differs. */
export function changedFields (want: PeerConfig, have: PeerConfig): PeerField[] {
  const fields: PeerField[] = []
  if (want.endpoint !== null && want.endpoint !== have.endpoint) fields.push('endpoint')
  if (!sameAllowedIps(want.allowedIps, have.allowedIps)) fields.push('allowedIps')
  if (want.keepaliveSeconds !== have.keepaliveSeconds) fields.push('keepaliveSeconds')
  return fields
}

/** The op as the device gets it: a held add goes with its keepalive off, every other op as it is. */
export function deviceOp (change: Change): PeerOp {
  const op = change.op
  return op.kind === 'add' && change.held ? { kind: 'add', peer: { ...op.peer, keepaliveSeconds: 0 } } : op
}

function byKey<T extends { op: PeerOp }> (a: T, b: T): number {
  const ka = a.op.kind === 'remove' ? a.op.publicKey : a.op.peer.publicKey
  const kb = b.op.kind === 'remove' ? b.op.publicKey : b.op.peer.publicKey
  return ka < kb ? -1 : ka > kb ? 1 : 0
}

/**
 * Changes that turn `applied` into `want`: removes first (so a mesh IP freed by one peer is free before
 * another claims it), then updates, then adds, each group sorted by public key. A peer present in both with
 * no changed field yields nothing, so unchanged peers are never touched.
 */
export function diffPeers (want: readonly DesiredPeer[], applied: ReadonlyMap<string, AppliedPeer>, excluded: readonly Exclusion[] = []): Change[] {
  const wantByKey = new Map(want.map(p => [p.publicKey, p]))
  const whyExcluded = new Map(excluded.map(e => [e.publicKey, e.reason]))
  const removes: Change[] = []
  const updates: Change[] = []
  const adds: Change[] = []
  for (const [key, have] of applied) {
    if (wantByKey.has(key)) continue
    removes.push({
      op: { kind: 'remove', publicKey: key },
      nodeId: have.nodeId,
      hostname: have.hostname,
      meshIp: have.meshIp,
      reason: whyExcluded.get(key) ?? 'not-in-netmap',
      held: false
    })
  }
  for (const p of wantByKey.values()) {
    const peer = peerConfig(p)
    const have = applied.get(p.publicKey)
    if (have === undefined) {
      adds.push({ op: { kind: 'add', peer }, nodeId: p.nodeId, hostname: p.hostname, meshIp: p.meshIp, reason: 'in-netmap', held: p.held === true })
      continue
    }
    const fields = changedFields(peer, have)
    if (fields.length > 0) {
      updates.push({
        op: { kind: 'update', peer, fields },
        nodeId: p.nodeId,
        hostname: p.hostname,
        meshIp: p.meshIp,
        reason: fields.map(f => FIELD_REASON[f]).join(','),
        held: false
      })
    }
  }
  return [...removes.sort(byKey), ...updates.sort(byKey), ...adds.sort(byKey)]
}

/** `applied` after `change` went through; what the reconciler records so the next diff compares against it. */
export function afterChange (applied: Map<string, AppliedPeer>, change: Change): void {
  const op = change.op
  if (op.kind === 'remove') {
    applied.delete(op.publicKey)
    return
  }
  const prev = applied.get(op.peer.publicKey)
  // An update leaves the device's keepalive alone unless it names it: a held peer stays held.
  const held = op.kind === 'add' ? change.held : prev?.held === true && !op.fields.includes('keepaliveSeconds')
  const next: AppliedPeer = { ...op.peer, allowedIps: [...op.peer.allowedIps], nodeId: change.nodeId, hostname: change.hostname, meshIp: change.meshIp, held }
  // A null desired endpoint is not sent to the device, so whatever was there before still is.
  if (next.endpoint === null && prev !== undefined) next.endpoint = prev.endpoint
  applied.set(op.peer.publicKey, next)
}
