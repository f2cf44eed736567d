/**
 * What a controller on a shared store does with the records another controller wrote (EtcdStore.follow): each
 * record goes to the part of memory that owns its kind, which then does what it would have done after the
 * same write here (the netmap, IPAM, liveness, channels). A record that does not parse is logged and left out;
 * it is not trusted half-way.
 */
import { isLabel } from '../wire/names.js'
import type { Logger } from '../log.js'
import type { HealthChange } from '../wire/api.js'
import { NODE_HEALTHS } from '../wire/netmap.js'
import type { HealthHistory } from './history.js'
import type { RecordChange } from './etcd-store.js'
import { decodeLive, liveKey } from './live-record.js'
import type { Liveness } from './liveness.js'
import type { PolicyAdmin } from './policy-admin.js'
import type { Registration } from './registration.js'
import type { Registry } from './registry.js'
import { checkStoredPolicy, type StoredNode, type StoredToken } from './store.js'
import { POLICY_KEY } from './store-records.js'
import type { TokenBook } from './tokens.js'

/** The parts of a controller that take in others' writes. */
export interface FollowTargets {
  log: Logger
  registry: Registry
  tokens: TokenBook
  registration: Registration
  policy: PolicyAdmin
  history: HealthHistory
  liveness: Liveness
  /** This controller's id in live keys: its own keys are not news. */
  self: string
}

/** Takes in the records of `changes`, in order. */
export function applyRecords (t: FollowTargets, changes: readonly RecordChange[]): void {
  for (const c of changes) {
    const sep = c.key.indexOf(':')
    const kind = c.key.slice(0, sep)
    const id = c.key.slice(sep + 1)
    try {
      if (kind === 'node') {
        if (c.value === null) t.registry.applyDeleted(id)
        else t.registry.applyStored(checkNode(JSON.parse(c.value)))
      } else if (kind === 'token') {
        if (c.value === null) t.tokens.forget(id)
        else t.tokens.applyStored(JSON.parse(c.value) as StoredToken)
      } else if (kind === 'history') {
        t.history.applyStored(id, c.value === null ? null : checkHistory(JSON.parse(c.value)))
      } else if (kind === 'nonce') {
        t.registration.applyNonce(id, c.value === null ? null : Number(c.value))
      } else if (c.key === POLICY_KEY && c.value !== null) {
        const p = checkStoredPolicy(JSON.parse(c.value))
        if ('damage' in p) throw new Error(p.damage)
        t.policy.applyStored(p)
      }
    } catch (err) {
      t.log.error({ event: 'store.bad_record', key: c.key, rev: c.rev, err }, `record ${c.key} written by another controller is damaged; left out`)
    }
  }
}

/** Takes in other controllers' live keys: which nodes they hold, how those are reached, and their reports. */
export function applyLive (t: FollowTargets, changes: readonly RecordChange[]): void {
  for (const c of changes) {
    const k = liveKey(c.key)
    if (k === null || k.controller === t.self) continue
    const rec = c.value === null ? null : decodeLive(c.value)
    if (c.value !== null && rec === null) {
      t.log.warn({ event: 'store.bad_record', key: c.key, rev: c.rev }, `live key ${c.key} is damaged; left out`)
      continue
    }
    t.liveness.remote(k.node, k.controller, rec !== null, rec?.report ?? null)
    if (rec !== null) t.registry.applyEndpoints(k.node, rec.endpoints, rec.listenPort, rec.observedEndpoint)
  }
}

/** `v` as a node record, or an error saying which field is wrong. */
function checkNode (v: unknown): StoredNode {
  const n = v as Partial<StoredNode> | null
  if (typeof n !== 'object' || n === null) throw new Error('it is not an object')
  for (const f of ['id', 'publicKey', 'hostname', 'meshIp', 'credentialHash'] as const) {
    if (typeof n[f] !== 'string') throw new Error(`its ${f} is not a string`)
  }
  if (n.state !== 'active' && n.state !== 'left' && n.state !== 'removed') throw new Error('its state is not active, left or removed')
  if (n.name !== undefined && (typeof n.name !== 'string' || !isLabel(n.name))) throw new Error('its name is not a DNS label')
  if (!Array.isArray(n.endpoints) || !Number.isInteger(n.listenPort) || !Number.isInteger(n.updatedAt)) throw new Error('its endpoints or times are malformed')
  return n as StoredNode
}

function checkHistory (v: unknown): HealthChange[] {
  if (!Array.isArray(v)) throw new Error('it is not a list')
  for (const c of v as Array<Partial<HealthChange> | null>) {
    if (typeof c !== 'object' || c === null || !Number.isSafeInteger(c.at) || !NODE_HEALTHS.includes(c.health!) || typeof c.reason !== 'string') {
      throw new Error('it holds a change that is not { at, health, reason }')
    }
  }
  return v as HealthChange[]
}
