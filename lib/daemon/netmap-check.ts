import { InvalidNetmapError } from '../errors.js'
import { cidrContains, parseCidr, parseEndpoint, parseIPv4 } from '../wire/addr.js'
import { isWireGuardKey } from '../wire/keys.js'
import { NODE_HEALTHS, type Netmap, type NetmapDelta, type NetmapMessage, type NetmapPolicy, type NodeRecord } from '../wire/netmap.js'
import { checkRoute, MAX_ROUTES, overlaps, PRIORITY } from '../wire/routes.js'
import { checkTags } from '../wire/tags.js'
import { MAX_POLICY_BYTES } from '../policy/document.js'

/**
 * Validation of everything the daemon accepts from the controller or from disk. A netmap that fails any
 * check is refused whole (InvalidNetmapError with the reason); the previous config stays in force.
 */

/** Largest netmap the daemon accepts. Far above any mesh a full-mesh WireGuard can carry. */
export const MAX_NODES = 65_536

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isStr = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max
const isInt = (v: unknown, min: number, max: number): v is number => Number.isInteger(v) && (v as number) >= min && (v as number) <= max

function fail (what: string): never {
  throw new InvalidNetmapError(what)
}

/** Checks one node record; `cidr` bounds its mesh IP. */
export function checkNode (v: unknown, cidr: ReturnType<typeof parseCidr>): NodeRecord {
  if (!isObj(v)) fail('node record is not an object')
  const id = isStr(v.id, 64) ? v.id : fail('node id missing or too long')
  if (!isStr(v.hostname, 253)) fail(`node ${id}: hostname missing or too long`)
  if (!isWireGuardKey(v.publicKey)) fail(`node ${id}: publicKey is not a WireGuard key`)
  if (v.signingKey !== undefined && !isWireGuardKey(v.signingKey)) fail(`node ${id}: signingKey is not a 32-byte base64 key`)
  const ip = typeof v.meshIp === 'string' ? parseIPv4(v.meshIp) : null
  if (ip === null) fail(`node ${id}: meshIp is not an IPv4 address`)
  if (cidr !== null && !cidrContains(cidr, ip)) fail(`node ${id}: meshIp ${String(v.meshIp)} is outside the mesh CIDR`)
  if (!Array.isArray(v.endpoints) || v.endpoints.length > 16 || !v.endpoints.every(e => typeof e === 'string' && parseEndpoint(e) !== null)) {
    fail(`node ${id}: endpoints must be at most 16 host:port strings`)
  }
  if (v.observedEndpoint !== null && !(typeof v.observedEndpoint === 'string' && parseEndpoint(v.observedEndpoint) !== null)) {
    fail(`node ${id}: observedEndpoint must be null or host:port`)
  }
  if (!isInt(v.swimPort, 1, 65535)) fail(`node ${id}: swimPort out of range`)
  if (v.routes !== undefined) {
    if (!Array.isArray(v.routes) || v.routes.length > MAX_ROUTES) fail(`node ${id}: routes must be an array of at most ${MAX_ROUTES}`)
    for (const r of v.routes) {
      const c = typeof r === 'string' ? checkRoute(r, null) : { error: 'not a string' }
      if ('error' in c || c.cidr !== r) fail(`node ${id}: route ${String(r)} is not a canonical IPv4 CIDR a router can carry`)
      if (cidr !== null && overlaps(parseCidr(r)!, cidr)) fail(`node ${id}: route ${r} overlaps the mesh CIDR`)
    }
  }
  if (v.exitNode !== undefined && typeof v.exitNode !== 'boolean') fail(`node ${id}: exitNode must be a boolean`)
  if (v.routePriority !== undefined && !isInt(v.routePriority, PRIORITY.min, PRIORITY.max)) fail(`node ${id}: routePriority out of range`)
  if (v.tags !== undefined) {
    const t = Array.isArray(v.tags) ? checkTags(v.tags) : { error: 'not an array' }
    if ('error' in t || t.tags.join(',') !== (v.tags as string[]).join(',')) fail(`node ${id}: tags must be a sorted list of distinct tags`)
  }
  if (!NODE_HEALTHS.includes(v.health as NodeRecord['health'])) fail(`node ${id}: unknown health ${String(v.health)}`)
  if (!isInt(v.createdAt, 0, Number.MAX_SAFE_INTEGER) || !isInt(v.updatedAt, 0, Number.MAX_SAFE_INTEGER)) fail(`node ${id}: bad timestamps`)
  return v as unknown as NodeRecord
}

/**
 * Checks the policy's envelope: its version and that the document is text of a bounded size. The document is
 * parsed where it is compiled (lib/daemon/policy-filter.ts): one the daemon cannot read leaves the filter it
 * enforces as it is, rather than refusing the whole netmap and with it every change of membership.
 */
function checkPolicy (v: unknown): NetmapPolicy {
  if (!isObj(v)) fail('policy is not an object')
  if (!isInt(v.version, 1, Number.MAX_SAFE_INTEGER)) fail('policy version is not a positive integer')
  if (typeof v.text !== 'string' || Buffer.byteLength(v.text) > MAX_POLICY_BYTES) fail(`policy text must be a string of at most ${MAX_POLICY_BYTES} bytes`)
  return v as unknown as NetmapPolicy
}

function checkUnique (nodes: NodeRecord[]): void {
  const ids = new Set<string>(); const keys = new Set<string>(); const ips = new Set<string>()
  for (const n of nodes) {
    if (ids.has(n.id)) fail(`duplicate node id ${n.id}`)
    if (keys.has(n.publicKey)) fail(`public key of ${n.id} appears twice`)
    if (ips.has(n.meshIp)) fail(`mesh IP ${n.meshIp} appears twice`)
    ids.add(n.id); keys.add(n.publicKey); ips.add(n.meshIp)
  }
}

/** Checks a whole netmap: shape, every record, and that ids, keys and mesh IPs are unique. */
export function checkNetmap (v: unknown): Netmap {
  if (!isObj(v)) fail('netmap is not an object')
  if (!isStr(v.epoch, 128)) fail('netmap epoch missing')
  if (!isInt(v.version, 0, Number.MAX_SAFE_INTEGER)) fail('netmap version is not a non-negative integer')
  const cidr = typeof v.cidr === 'string' ? parseCidr(v.cidr) : null
  if (cidr === null) fail('netmap cidr is not an IPv4 CIDR')
  if (!Array.isArray(v.nodes) || v.nodes.length > MAX_NODES) fail(`netmap nodes must be an array of at most ${MAX_NODES}`)
  const nodes = v.nodes.map(n => checkNode(n, cidr))
  checkUnique(nodes)
  if (v.policy !== undefined) checkPolicy(v.policy)
  return v as unknown as Netmap
}

/** Checks a delta's shape and records (uniqueness is checked on the netmap it produces). */
export function checkDelta (v: Record<string, unknown>, cidr: string): NetmapDelta {
  if (!isStr(v.epoch, 128)) fail('delta epoch missing')
  if (!isInt(v.from, 0, Number.MAX_SAFE_INTEGER) || !isInt(v.to, 0, Number.MAX_SAFE_INTEGER) || v.to <= v.from) {
    fail('delta versions must satisfy 0 <= from < to')
  }
  if (!Array.isArray(v.upsert) || v.upsert.length > MAX_NODES) fail('delta upsert must be an array')
  if (!Array.isArray(v.remove) || v.remove.length > MAX_NODES || !v.remove.every(id => isStr(id, 64))) fail('delta remove must be an array of ids')
  const c = parseCidr(cidr)
  v.upsert.forEach(n => checkNode(n, c))
  if (v.policy !== undefined) checkPolicy(v.policy)
  return v as unknown as NetmapDelta
}

/** Parses and checks one NDJSON line of the update channel; `cidr` is the current map's (for deltas). */
export function parseMessage (line: string, cidr: string | null): NetmapMessage {
  let v: unknown
  try { v = JSON.parse(line) } catch { fail('update channel sent a line that is not JSON') }
  if (!isObj(v)) fail('update channel message is not an object')
  switch (v.type) {
    case 'full': return { type: 'full', netmap: checkNetmap(v.netmap) }
    case 'delta':
      if (cidr === null) fail('delta before any full netmap')
      return { type: 'delta', ...checkDelta(v, cidr) }
    case 'ping':
      if (!isStr(v.epoch, 128) || !isInt(v.version, 0, Number.MAX_SAFE_INTEGER)) fail('bad ping message')
      return { type: 'ping', epoch: v.epoch, version: v.version, at: typeof v.at === 'number' ? v.at : 0 }
    default:
      fail(`unknown update channel message type ${String(v.type)}`)
  }
}

/** Re-checks uniqueness after a delta was applied. */
export function checkAppliedNetmap (map: Netmap): Netmap {
  checkUnique(map.nodes)
  return map
}
