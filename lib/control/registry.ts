import { randomBytes } from 'node:crypto'
import type { Clock } from '../clock.js'
import { ConflictError, NodeRemovedError, NotFoundError, UnauthorizedError } from '../errors.js'
import type { Logger } from '../log.js'
import type { HeartbeatRequest, HeartbeatResponse, NodeStatus } from '../wire/api.js'
import type { NodeHealth, NodeRecord } from '../wire/netmap.js'
import { fqdn } from '../wire/names.js'
import { NameBook } from './names.js'
import { NodeEdits } from './node-edits.js'
import type { PolicyNode } from '../policy/evaluate.js'
import { hashSecret } from './auth.js'
import type { Channels } from './channels.js'
import { retryOnConflict, type GroupCommit } from './group-commit.js'
import type { HealthVerdict } from './health.js'
import type { Ipam } from './ipam.js'
import type { Liveness } from './liveness.js'
import type { ControllerMetrics } from './metrics.js'
import type { NetmapLog, UpsertKind } from './netmap-log.js'
import { nodeRouting, recordRouting } from './routing.js'
import type { RemovalReason, StoredNode } from './store.js'
import type { LiveRecord } from './live-record.js'
import type { EventLog } from './events.js'
import type { HealthHistory } from './history.js'

/** Facts about a node that live only in memory (reset by a restart). */
interface Runtime { observedEndpoint: string | null, netmapVersion: number | null, agentVersion: string | null }

/** An admin removal still on record (removed records stay for the IP quarantine, docs/controller.md). */
export interface Removal { id: string, removedAt: number, reason: RemovalReason }

/** Everything the registry works with; the controller builds these and hands them over. */
export interface RegistryDeps {
  clock: Clock
  log: Logger
  commit: GroupCommit
  ipam: Ipam
  netmap: NetmapLog
  liveness: Liveness
  channels: Channels
  metrics: ControllerMetrics
  heartbeatIntervalMs: number
  /** The mesh's DNS domain, for the full names `GET /v1/nodes` shows. */
  dnsDomain: string
  /** Told every node's expiry as it is set, changed or dropped (NodeExpiry). */
  expiry: { set (id: string, expiresAt: number | undefined): void }
  /** The dashboard's timeline (events.ts). */
  events: EventLog
  /** Every node's health history (history.ts). */
  history: HealthHistory
}

/** A node as the dashboard's matrix and history name it. */
export interface NamedNode { id: string, hostname: string, dnsName: string | null, meshIp: string, health: NodeHealth }

/** A new node id: `n` and 16 hex characters, sortable as text and meaningless. */
export function newNodeId (): string {
  return 'n' + randomBytes(8).toString('hex')
}

/** True once `n`'s expiry has passed: its credential no longer works. */
export function isExpired (n: StoredNode, now: number): boolean {
  return n.expiresAt !== undefined && now >= n.expiresAt
}

/** `ip:port` of a request source (IPv4-mapped IPv6 unwrapped, IPv6 in brackets). */
export function observedEndpoint (sourceIp: string | undefined, port: number): string | null {
  if (sourceIp === undefined || sourceIp === '' || port <= 0) return null
  const ip = sourceIp.startsWith('::ffff:') ? sourceIp.slice(7) : sourceIp
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`
}

/**
 * The set of authorised nodes: indexes by id, public key and credential hash, and the node-side
 * operations that follow authentication (heartbeat, leave) plus admin removal. Registration itself lives
 * in registration.ts and calls `admit` once its batch is durable.
 */
export class Registry {
  private readonly nodes = new Map<string, StoredNode>()
  private readonly byKey = new Map<string, string>()
  private readonly byCred = new Map<string, string>()
  /** DNS labels of active and left nodes, and those held for writes under way. */
  readonly names = new NameBook()
  /** Changes of one field of a node: expiry, routes, tags, name. */
  readonly edits: NodeEdits
  private readonly runtime = new Map<string, Runtime>()
  private readonly removing = new Set<string>()
  /** Removals on record, by credential hash and by public key: their node is told it was removed. */
  private readonly removedByCred = new Map<string, Removal>()
  private readonly removedByKey = new Map<string, Removal>()
  /** Per node, the tail of its serial writers (serial). */
  private readonly queues = new Map<string, Promise<void>>()

  constructor (private readonly d: RegistryDeps) {
    this.edits = new NodeEdits(this, d)
  }

  /** Loads a stored (active or left) node at start-up, without publishing a change (seedRecord gives its netmap record). */
  restore (n: StoredNode): void {
    this.index(n)
    this.d.ipam.restore(n.publicKey, n.meshIp)
    const v = this.d.liveness.add(n.id, { left: n.state === 'left', seen: false })
    if (this.d.history.since(n.id, 0).length === 0) this.d.history.record(n.id, v.health, v.reason)
  }

  /**
   * Names the restored nodes stored before names existed, oldest first, and returns their records to persist:
   * the start writes them before it serves, so every later start (and every controller of a shared store) sees
   * the same names.
   */
  nameUnnamed (): StoredNode[] {
    const unnamed = [...this.nodes.values()].filter(n => n.name === undefined)
    unnamed.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    return unnamed.map(n => {
      const named: StoredNode = { ...n, name: this.names.free(n.hostname) }
      this.index(named)
      return named
    })
  }

  /** The netmap record of restored node `id` as version 1 of the netmap holds it. */
  seedRecord (id: string): NodeRecord {
    const n = this.nodes.get(id)
    if (n === undefined) throw new NotFoundError(`no node with id ${id}`)
    return this.record(n, this.d.liveness.verdict(id)?.health ?? 'offline', null, n.updatedAt)
  }

  /**
   * Gives a registration of `publicKey` the first free label its hostname gives (docs/dns.md, "Names"), held for
   * it until its record is indexed (admit) or given back (releaseName): two registrations of one hostname in
   * flight at once get two labels.
   */
  takeName (hostname: string, publicKey: string): string {
    const label = this.names.free(hostname)
    this.names.hold(label, publicKey)
    return label
  }

  /** Gives back a label takeName gave to `publicKey`, whose registration did not commit. */
  releaseName (label: string, publicKey: string): void {
    this.names.release(label, publicKey)
  }

  /** Loads a removed node still on record at start-up, so that its credential and key are answered as removed. */
  restoreRemoved (n: StoredNode): void {
    const r: Removal = { id: n.id, removedAt: n.removedAt ?? n.updatedAt, reason: n.removedReason ?? 'admin' }
    this.removedByCred.set(n.credentialHash, r)
    if (!this.byKey.has(n.publicKey)) this.removedByKey.set(n.publicKey, r)
  }

  /** The removal on record of the node that held `publicKey`, unless the key has registered again since. */
  removalOfKey (publicKey: string): Removal | undefined {
    return this.removedByKey.get(publicKey)
  }

  /** The removal on record of the node `credential` belonged to. */
  removalOfCredential (credential: string): Removal | undefined {
    return this.removedByCred.get(hashSecret(credential))
  }

  /** The active or left node holding `publicKey`. */
  byPublicKey (publicKey: string): StoredNode | undefined {
    const id = this.byKey.get(publicKey)
    return id === undefined ? undefined : this.nodes.get(id)
  }

  /** The active or left node with id `id`. */
  get (id: string): StoredNode | undefined {
    return this.nodes.get(id)
  }

  /** The node a credential belongs to, or undefined; undefined too once the node's expiry has passed. */
  byCredential (credential: string): StoredNode | undefined {
    const id = this.byCred.get(hashSecret(credential))
    const n = id === undefined ? undefined : this.nodes.get(id)
    return n === undefined || isExpired(n, this.d.clock.now()) ? undefined : n
  }

  /**
   * The node authenticated by `credential`. Throws NodeRemovedError for the credential of a removed or
   * expired node, UnauthorizedError for one the controller does not know.
   */
  authenticate (credential: string | null): StoredNode {
    const n = credential === null ? undefined : this.byCredential(credential)
    if (n !== undefined) return n
    // Expired but not swept yet: already as good as removed, and its daemon must not take it for forgotten.
    const id = credential === null ? undefined : this.byCred.get(hashSecret(credential))
    const pending = id === undefined ? undefined : this.nodes.get(id)
    if (pending !== undefined) throw removedError({ id: pending.id, removedAt: pending.expiresAt ?? this.d.clock.now(), reason: 'expired' })
    const removal = credential === null ? undefined : this.removalOfCredential(credential)
    if (removal !== undefined) throw removedError(removal)
    throw new UnauthorizedError('missing or invalid node credential: this controller does not know it')
  }

  /** Makes a just-committed registration visible: indexes, liveness, netmap. */
  admit (n: StoredNode, prev: StoredNode | undefined, sourceIp: string | undefined): void {
    if (prev !== undefined && prev.credentialHash !== n.credentialHash) this.byCred.delete(prev.credentialHash)
    this.index(n)
    const rt = this.rt(n.id)
    rt.observedEndpoint = observedEndpoint(sourceIp, n.listenPort)
    if (prev === undefined) {
      this.removedByKey.delete(n.publicKey)
      const v = this.d.liveness.add(n.id, { left: false, seen: true })
      this.d.history.record(n.id, v.health, v.reason)
      this.d.events.emit('join', { nodeId: n.id, name: this.nameOf(n), to: v.health, reason: `joined as ${n.meshIp}` })
    } else {
      this.d.liveness.heartbeat(n.id)
      this.d.liveness.setLeft(n.id, false)
      if (prev.state === 'left') this.d.events.emit('join', { nodeId: n.id, name: this.nameOf(n), reason: 'came back after leaving' })
    }
    this.publish(n.id)
  }

  /**
   * Applies a heartbeat; endpoint changes reach the netmap, times stay in memory. Endpoints are not
   * written to the store: every heartbeat repeats them, and a write here could race a removal or a
   * credential rotation committed at the same moment.
   */
  heartbeat (authed: StoredNode, req: HeartbeatRequest, sourceIp: string | undefined): HeartbeatResponse {
    const n = this.current(authed)
    const rt = this.rt(n.id)
    if (req.netmapVersion !== undefined) rt.netmapVersion = req.netmapVersion
    if (req.agentVersion !== undefined) rt.agentVersion = req.agentVersion
    let changed = false
    if (req.listenPort !== n.listenPort || req.endpoints.join(',') !== n.endpoints.join(',')) {
      this.nodes.set(n.id, { ...n, endpoints: [...req.endpoints], listenPort: req.listenPort, updatedAt: this.d.clock.now() })
      changed = true
    }
    const obs = observedEndpoint(sourceIp, req.listenPort)
    if (obs !== rt.observedEndpoint) { rt.observedEndpoint = obs; changed = true }
    if (changed) this.publish(n.id)
    this.d.liveness.heartbeat(n.id, req.swim)
    return { epoch: this.d.netmap.epoch, version: this.d.netmap.version, heartbeatIntervalMs: this.d.heartbeatIntervalMs }
  }

  /** Marks `n` as left (durably, in its turn among the node's writers: serial); it stays in the netmap with health `left`. */
  async leave (authed: StoredNode): Promise<void> {
    await this.serial(authed.id, async () => await retryOnConflict(async () => await this.writeLeave(authed)))
  }

  private async writeLeave (authed: StoredNode): Promise<void> {
    const n = this.current(authed)
    const next: StoredNode = { ...n, state: 'left', updatedAt: this.d.clock.now() }
    await this.d.commit.commit([{ kind: 'node', node: next }])
    const cur = this.nodes.get(n.id)
    if (cur === undefined) return
    this.nodes.set(n.id, { ...cur, state: 'left', updatedAt: next.updatedAt })
    this.d.liveness.setLeft(n.id, true)
    this.d.events.emit('leave', { nodeId: n.id, name: this.nameOf(n), reason: 'left the mesh gracefully (weft leave)' })
  }

  /**
   * Removes a node, by an admin or because its expiry passed: its credential stops working at once, its
   * channels close, it leaves the netmap, and its mesh IP goes into quarantine.
   */
  async remove (id: string, reason: RemovalReason = 'admin'): Promise<void> {
    await retryOnConflict(async () => await this.removeOnce(id, reason))
  }

  private async removeOnce (id: string, reason: RemovalReason): Promise<void> {
    const n = this.nodes.get(id)
    if (n === undefined) throw new NotFoundError(`no node with id ${id}`)
    if (this.removing.has(id)) throw new ConflictError(`node ${id} is already being removed`)
    const now = this.d.clock.now()
    this.removing.add(id)
    this.byCred.delete(n.credentialHash)
    this.d.channels.closeNode(id)
    try {
      await this.d.commit.commit([{ kind: 'node', node: { ...n, state: 'removed', removedAt: now, removedReason: reason, updatedAt: now } }])
    } catch (err) {
      if (this.nodes.get(id) === n) this.byCred.set(n.credentialHash, id)
      throw err
    } finally {
      this.removing.delete(id)
    }
    this.drop(n, { id, removedAt: now, reason }, 'admin')
  }

  /** Forgets removed node `n` (`removal` on record from now on): indexes, liveness, netmap; its IP goes into quarantine. */
  private drop (n: StoredNode, removal: Removal, by: 'admin' | 'store'): void {
    const { id, removedAt: now, reason } = removal
    const from = this.d.liveness.verdict(id)
    const latest = this.nodes.get(id)
    if (latest !== undefined) this.byCred.delete(latest.credentialHash)
    for (const h of new Set([n.credentialHash, latest?.credentialHash ?? n.credentialHash])) this.removedByCred.set(h, removal)
    this.removedByKey.set(n.publicKey, removal)
    this.nodes.delete(id)
    this.byKey.delete(n.publicKey)
    this.names.drop(id, [n.name, latest?.name])
    this.runtime.delete(id)
    this.d.ipam.release(n.publicKey, now)
    this.d.liveness.delete(id)
    this.d.netmap.remove(id)
    this.d.expiry.set(id, undefined)
    const why = reason === 'expired' ? `expired at ${new Date(n.expiresAt ?? now).toISOString()}` : 'removed by an admin'
    this.d.log.info({ event: 'node.remove', nodeId: n.id, hostname: n.hostname, meshIp: n.meshIp, reason, expiresAt: n.expiresAt ?? null, by },
      `${n.hostname} removed (${why}${by === 'store' ? ', through another controller' : ''}); ${n.meshIp} quarantined`)
    this.logHealth(n, from ?? { health: 'online', reason: '' }, { health: 'removed', reason: why })
    this.d.history.forget(id)
    this.d.events.emit('remove', { nodeId: id, name: this.nameOf(n), reason: why + (by === 'store' ? ', through another controller' : '') })
  }

  /**
   * Takes in node record `n` as another controller wrote it to the shared store (a registration, a leave, a
   * route, tag or expiry change, a removal): indexes, IPAM, liveness and the netmap follow, as they would
   * have after the write here. A credential it replaced stops working, and a removal closes the node's
   * channels here too.
   */
  applyStored (n: StoredNode): void {
    const prev = this.nodes.get(n.id)
    if (n.state === 'removed') {
      const removal: Removal = { id: n.id, removedAt: n.removedAt ?? n.updatedAt, reason: n.removedReason ?? 'admin' }
      this.d.channels.closeNode(n.id)
      if (prev !== undefined) this.drop(prev, removal, 'store')
      else {
        this.restoreRemoved(n)
        this.d.ipam.restoreQuarantine(n.publicKey, n.meshIp, removal.removedAt)
      }
      return
    }
    // A registration's observed endpoint comes with its record; later ones with the live key of the controller that hears from it.
    const registered = prev === undefined || prev.credentialHash !== n.credentialHash
    if (n.observedEndpoint !== undefined && registered) this.rt(n.id).observedEndpoint = n.observedEndpoint
    if (prev === undefined) {
      this.removedByKey.delete(n.publicKey)
      this.index(n)
      this.d.ipam.adopt(n.publicKey, n.meshIp)
      this.d.liveness.add(n.id, { left: n.state === 'left', seen: false })
      this.d.log.info({ event: 'node.register', nodeId: n.id, meshIp: n.meshIp, hostname: n.hostname, result: 'new', by: 'store' },
        `node ${n.hostname} registered through another controller`)
      this.d.events.emit('join', { nodeId: n.id, name: this.nameOf(n), reason: `joined as ${n.meshIp}, through another controller` })
    } else {
      if (prev.credentialHash !== n.credentialHash) {
        this.byCred.delete(prev.credentialHash)
        this.d.channels.closeNode(n.id)
      }
      // Endpoints from this controller's heartbeats are newer than a record written before them.
      const endpoints = prev.updatedAt > n.updatedAt ? { endpoints: prev.endpoints, listenPort: prev.listenPort } : {}
      this.index({ ...n, ...endpoints })
      if ((prev.state === 'left') !== (n.state === 'left')) this.d.liveness.setLeft(n.id, n.state === 'left')
    }
    this.publish(n.id)
  }

  /** Another controller deleted node `id`'s record (a removal whose quarantine ended): its removal is forgotten. */
  applyDeleted (id: string): void {
    const n = this.nodes.get(id)
    if (n !== undefined) this.drop(n, { id, removedAt: this.d.clock.now(), reason: 'admin' }, 'store')
    for (const [h, r] of this.removedByCred) if (r.id === id) this.removedByCred.delete(h)
    for (const [k, r] of this.removedByKey) if (r.id === id) this.removedByKey.delete(k)
  }

  /** Where node `id` is reached, as the controller that holds it says (its live key): published like a heartbeat's. */
  applyEndpoints (id: string, endpoints: string[], listenPort: number, observed: string | null): void {
    const n = this.nodes.get(id)
    if (n === undefined) return
    const rt = this.rt(id)
    if (listenPort === n.listenPort && endpoints.join(',') === n.endpoints.join(',') && observed === rt.observedEndpoint) return
    this.nodes.set(id, { ...n, endpoints: [...endpoints], listenPort, updatedAt: this.d.clock.now() })
    rt.observedEndpoint = observed
    this.publish(id)
  }

  /** What node `id`'s live key says of it, while this controller hears from it (Liveness.holds); null otherwise. */
  liveRecord (id: string): LiveRecord | null {
    const n = this.nodes.get(id)
    if (n === undefined || !this.d.liveness.holds(id)) return null
    return { endpoints: n.endpoints, listenPort: n.listenPort, observedEndpoint: this.rt(id).observedEndpoint, report: this.d.liveness.localReport(id) }
  }

  /**
   * Runs `fn` once every earlier serial writer of node `id` has finished, and before any later one starts. A
   * writer that reads the record inside `fn` therefore never writes back a copy older than another's commit:
   * a registration that read the record before a route change was committed would otherwise store (and
   * publish) the record without it.
   */
  async serial<T> (id: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(id) ?? Promise.resolve()).then(fn, fn)
    const tail = run.then(() => {}, () => {})
    this.queues.set(id, tail)
    try {
      return await run
    } finally {
      if (this.queues.get(id) === tail) this.queues.delete(id)
    }
  }

  /**
   * The active or left node `id`, for a writer about to change it: NotFoundError when there is none, ConflictError
   * while an admin removal of it is under way.
   */
  writable (id: string): StoredNode {
    const n = this.nodes.get(id)
    if (n === undefined) throw new NotFoundError(`no node with id ${id}`)
    if (this.removing.has(id)) throw new ConflictError(`node ${id} is being removed`)
    return n
  }

  /**
   * Makes `next` its node's record here (indexes, name, expiry), after a writer committed it; with `publish`, the
   * netmap carries it too (an expiry is not in the netmap).
   */
  replace (next: StoredNode, publish: boolean): void {
    this.index(next)
    if (publish) this.publish(next.id)
  }

  /** Per join token id, the active or left nodes whose last registration with a token used it, and the latest of those. */
  admittedByToken (): Map<string, { uses: number, lastUsedAt: number }> {
    const out = new Map<string, { uses: number, lastUsedAt: number }>()
    for (const n of this.nodes.values()) {
      if (n.tokenId === undefined) continue
      const a = out.get(n.tokenId) ?? { uses: 0, lastUsedAt: 0 }
      a.uses++
      a.lastUsedAt = Math.max(a.lastUsedAt, n.updatedAt)
      out.set(n.tokenId, a)
    }
    return out
  }

  /** Every active or left node as the access policy sees it: hostname, mesh IP and tags. */
  policyNodes (): PolicyNode[] {
    return [...this.nodes.values()].map(n => ({ name: n.hostname, ip: n.meshIp, tags: n.tags ?? [] }))
  }

  /** True while an admin removal of `id` is being committed; registrations of its key must wait. */
  isRemoving (id: string): boolean { return this.removing.has(id) }

  /** Liveness callback: a node's fused health changed. */
  onVerdict (id: string, from: HealthVerdict, to: HealthVerdict): void {
    const n = this.nodes.get(id)
    if (n === undefined) return
    this.logHealth(n, from, to)
    this.publish(id, from.health === 'left' || to.health === 'left' ? 'member' : 'health')
  }

  /** Every node with its control-side facts, sorted by id. */
  list (): NodeStatus[] {
    const out: NodeStatus[] = []
    for (const n of this.nodes.values()) out.push(this.status(n))
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  /** Node counts by fused health. */
  healthCounts (): Map<NodeHealth, number> {
    const m = new Map<NodeHealth, number>()
    for (const id of this.nodes.keys()) {
      const h = this.d.liveness.verdict(id)?.health ?? 'offline'
      m.set(h, (m.get(h) ?? 0) + 1)
    }
    return m
  }

  /** Number of active or left nodes. */
  get size (): number { return this.nodes.size }

  /**
   * The latest record of an authenticated node, re-checked after the awaits between authentication and
   * handler: a removal or credential rotation in between makes the request unauthorized.
   */
  private current (authed: StoredNode): StoredNode {
    const n = this.nodes.get(authed.id)
    if (n !== undefined && this.byCred.get(authed.credentialHash) === n.id) return n
    const removal = this.removedByCred.get(authed.credentialHash)
    if (removal !== undefined) throw removedError(removal)
    throw new UnauthorizedError('node credential was replaced by a registration with a join token')
  }

  private index (n: StoredNode): void {
    this.names.index(n.id, n.publicKey, n.name, this.nodes.get(n.id)?.name)
    this.nodes.set(n.id, n)
    this.byKey.set(n.publicKey, n.id)
    this.byCred.set(n.credentialHash, n.id)
    this.d.expiry.set(n.id, n.expiresAt)
  }

  /** `n` with its control-side facts, as `GET /v1/nodes` lists it. */
  status (n: StoredNode): NodeStatus {
    const rt = this.rt(n.id)
    const v = this.d.liveness.verdict(n.id) ?? { health: 'offline' as const, reason: 'unknown' }
    const rec = this.d.netmap.get(n.id) ?? this.record(n, v.health, rt.observedEndpoint)
    return {
      ...rec,
      lastSeenAt: this.d.liveness.lastSeen(n.id),
      connected: this.d.channels.count(n.id) > 0 || this.d.liveness.heldElsewhere(n.id),
      netmapVersion: rt.netmapVersion,
      agentVersion: rt.agentVersion,
      healthReason: v.reason,
      expiresAt: n.expiresAt ?? null,
      tokenId: n.tokenId ?? null,
      routing: nodeRouting(n.routing),
      tags: [...(n.tags ?? [])],
      dnsName: this.dnsNameOf(n),
      ...(this.d.liveness.halves(n.id) ?? {
        control: { fresh: false, channelOpen: false, connectedSince: null },
        mesh: { reporters: 0, alive: 0, suspect: 0, dead: 0 }
      })
    }
  }

  /** `n`'s full DNS name (`web-2.weft.internal`), or null while it has no name. */
  dnsNameOf (n: StoredNode): string | null {
    return n.name === undefined ? null : fqdn(n.name, this.d.dnsDomain)
  }

  /** How the dashboard and events name `n`: its DNS name, else its hostname. */
  nameOf (n: StoredNode): string {
    return this.dnsNameOf(n) ?? n.hostname
  }

  /** Every active or left node as the dashboard lists it in the mesh matrix and the history, sorted by name. */
  named (): NamedNode[] {
    return [...this.nodes.values()].map(n => this.namedNode(n)).sort((a, b) => byName(a, b))
  }

  /** Node `id` as named() lists it, or undefined. */
  namedOne (id: string): NamedNode | undefined {
    const n = this.nodes.get(id)
    return n === undefined ? undefined : this.namedNode(n)
  }

  private namedNode (n: StoredNode): NamedNode {
    return { id: n.id, hostname: n.hostname, dnsName: this.dnsNameOf(n), meshIp: n.meshIp, health: this.d.liveness.verdict(n.id)?.health ?? 'offline' }
  }

  private rt (id: string): Runtime {
    let r = this.runtime.get(id)
    if (r === undefined) { r = { observedEndpoint: null, netmapVersion: null, agentVersion: null }; this.runtime.set(id, r) }
    return r
  }

  /** Stages the node's current record in the netmap; `kind` says how soon it must go out (NetmapLog). */
  private publish (id: string, kind: UpsertKind = 'member'): void {
    const n = this.nodes.get(id)
    if (n === undefined) return
    const health = this.d.liveness.verdict(id)?.health ?? 'online'
    this.d.netmap.upsert(this.record(n, health, this.rt(id).observedEndpoint), kind)
  }

  private record (n: StoredNode, health: NodeHealth, obs: string | null, updatedAt = this.d.clock.now()): NodeRecord {
    return {
      id: n.id,
      hostname: n.hostname,
      ...(n.name !== undefined ? { name: n.name } : {}),
      publicKey: n.publicKey,
      ...(n.signingKey !== undefined ? { signingKey: n.signingKey } : {}),
      meshIp: n.meshIp,
      endpoints: [...n.endpoints],
      observedEndpoint: obs,
      swimPort: n.swimPort,
      ...recordRouting(n.routing),
      ...(n.tags !== undefined && n.tags.length > 0 ? { tags: [...n.tags] } : {}),
      health,
      createdAt: n.createdAt,
      updatedAt
    }
  }

  private logHealth (n: StoredNode, from: HealthVerdict, to: HealthVerdict): void {
    this.d.metrics.healthChanges.inc({ from: from.health, to: to.health })
    if (to.health !== 'removed') {
      this.d.history.record(n.id, to.health, to.reason)
      this.d.events.emit('health', { nodeId: n.id, name: this.nameOf(n), from: from.health, to: to.health, reason: to.reason })
    }
    this.d.log.info({
      event: 'health.change',
      nodeId: n.id,
      hostname: n.hostname,
      meshIp: n.meshIp,
      from: from.health,
      to: to.health,
      reason: to.reason
    }, `${n.hostname} ${from.health} -> ${to.health}`)
  }
}

/** What a removed node is told: that it stays out, and how it comes back. */
export function removedError (r: Removal): NodeRemovedError {
  const why = r.reason === 'expired' ? 'expired and was removed' : 'was removed by an admin'
  return new NodeRemovedError(`node ${r.id} ${why} at ${new Date(r.removedAt).toISOString()} and stays out of the mesh; ` +
    'it comes back only by registering again from fresh state with a join token (docs/daemon.md)')
}

function byName (a: { dnsName: string | null, hostname: string, id: string }, b: { dnsName: string | null, hostname: string, id: string }): number {
  const x = a.dnsName ?? a.hostname
  const y = b.dnsName ?? b.hostname
  return x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}
