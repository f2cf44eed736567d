import type { Clock } from '../clock.js'
import { ConflictError, InvalidInputError, NotFoundError } from '../errors.js'
import type { Logger } from '../log.js'
import type { NodeStatus } from '../wire/api.js'
import { isLabel } from '../wire/names.js'
import type { EventLog } from './events.js'
import { retryOnConflict, type GroupCommit } from './group-commit.js'
import type { ControllerMetrics } from './metrics.js'
import type { NameBook } from './names.js'
import { nodeRouting, sameRouting } from './routing.js'
import type { StoredNode, StoredRouting } from './store.js'

/** What NodeEdits needs of the registry (registry.ts): its records, the order of a node's writers, and its names. */
export interface EditableNodes {
  get (id: string): StoredNode | undefined
  /** The node `id`, for a writer about to change it: NotFoundError, or ConflictError while an admin removes it. */
  writable (id: string): StoredNode
  /** Runs `fn` in its turn among node `id`'s writers. */
  serial<T> (id: string, fn: () => Promise<T>): Promise<T>
  /** Makes a committed record the node's record here; with `publish`, the netmap's too. */
  replace (next: StoredNode, publish: boolean): void
  status (n: StoredNode): NodeStatus
  nameOf (n: StoredNode): string
  readonly names: NameBook
}

/** What NodeEdits writes with and tells. */
export interface NodeEditsDeps {
  clock: Clock
  log: Logger
  commit: GroupCommit
  metrics: ControllerMetrics
  events: EventLog
}

/**
 * An admin's (and, for routes, the node's own) changes of one field of a node record: its expiry, routes, tags
 * and DNS name. Each is decided and committed in its turn among the node's writers (Registry.serial), retried on
 * a conflict with another controller (retryOnConflict), and made the node's record here once durable (an expiry
 * holds from the decision on, so that no registration in between outlives it, and is taken back if the write
 * fails); each is logged and put on the dashboard's timeline.
 */
export class NodeEdits {
  constructor (private readonly r: EditableNodes, private readonly d: NodeEditsDeps) {}

  /**
   * Sets when node `id` expires (null: never) and persists it; the new expiry holds for everyone from its turn
   * among the node's writers (serial) on, and is taken back if the write fails. Refused with ConflictError
   * while a removal or a registration (`registering`) of the node is under way.
   */
  async setExpiry (id: string, expiresAt: number | null, registering: boolean): Promise<NodeStatus> {
    return await this.r.serial(id, async () => await retryOnConflict(async () => await this.writeExpiry(id, expiresAt, registering)))
  }

  private async writeExpiry (id: string, expiresAt: number | null, registering: boolean): Promise<NodeStatus> {
    const n = this.r.writable(id)
    if (registering) throw new ConflictError(`node ${id} is registering right now; retry`)
    const next = withExpiry(n, expiresAt ?? undefined)
    this.r.replace(next, false)
    try {
      await this.d.commit.commit([{ kind: 'node', node: next }])
    } catch (err) {
      // Taken back only while the record still has this write's expiry: another controller's write is the truth.
      const cur = this.r.get(id)
      if (cur !== undefined && cur.expiresAt === next.expiresAt) this.r.replace(withExpiry(cur, n.expiresAt), false)
      throw err
    }
    this.d.events.emit('expiry', {
      nodeId: id, name: this.r.nameOf(n), to: expiresAt === null ? 'never' : new Date(expiresAt).toISOString(), reason: 'expiry set by an admin'
    })
    this.d.log.info({ event: 'node.expiry', nodeId: id, hostname: n.hostname, meshIp: n.meshIp, expiresAt },
      `${n.hostname} ${expiresAt === null ? 'no longer expires' : `expires at ${new Date(expiresAt).toISOString()}`}`)
    return this.r.status(next)
  }

  /**
   * Replaces node `id`'s routing with `make(current routing)` and persists it; the netmap carries the change once
   * it is durable. A change that changes nothing writes nothing. Ordered with the node's other writers (serial);
   * refused with ConflictError while a removal of the node is under way. `by` says who changed it, for the log.
   */
  async setRouting (id: string, make: (r: StoredRouting | undefined) => StoredRouting, by: 'node' | 'admin'): Promise<NodeStatus> {
    return await this.r.serial(id, async () => await retryOnConflict(async () => await this.writeRouting(id, make, by)))
  }

  private async writeRouting (id: string, make: (r: StoredRouting | undefined) => StoredRouting, by: 'node' | 'admin'): Promise<NodeStatus> {
    const n = this.r.writable(id)
    const routing = make(n.routing)
    if (sameRouting(n.routing, routing)) return this.r.status(n)
    await this.d.commit.commit([{ kind: 'node', node: { ...n, routing, updatedAt: this.d.clock.now() } }])
    const next: StoredNode = { ...this.current(id), routing }
    this.r.replace(next, true)
    const was = nodeRouting(n.routing)
    const now = nodeRouting(routing)
    this.d.metrics.routeChanges.inc({ by })
    this.d.events.emit('routes', {
      nodeId: id,
      name: this.r.nameOf(n),
      to: [...nodeRouting(routing).enabled, ...(routing.exit && routing.exitApproved ? ['exit'] : [])].join(',') || 'none',
      reason: `routes changed by ${by === 'admin' ? 'an admin' : 'the node'}`
    })
    this.d.log.info({ event: 'routes.change', nodeId: id, hostname: n.hostname, meshIp: n.meshIp, by, from: was, to: now },
      `${n.hostname} routes: enabled ${now.enabled.join(',') || 'none'}${now.exitNode.advertised && now.exitNode.approved ? ' + exit' : ''}` +
      ` (advertised ${now.advertised.join(',') || 'none'}${now.exitNode.advertised ? ' + exit' : ''}; changed by ${by})`)
    return this.r.status(next)
  }

  /**
   * Replaces node `id`'s tags with `tags` (checked and sorted; empty clears them) and persists them; the netmap
   * carries the change once it is durable. A change that changes nothing writes nothing. Ordered with the node's
   * other writers (serial); refused with ConflictError while a removal of the node is under way.
   */
  async setTags (id: string, tags: readonly string[]): Promise<NodeStatus> {
    return await this.r.serial(id, async () => await retryOnConflict(async () => await this.writeTags(id, tags)))
  }

  private async writeTags (id: string, tags: readonly string[]): Promise<NodeStatus> {
    const n = this.r.writable(id)
    const from = n.tags ?? []
    if (from.join(',') === tags.join(',')) return this.r.status(n)
    await this.d.commit.commit([{ kind: 'node', node: { ...withTags(n, tags), updatedAt: this.d.clock.now() } }])
    const next = withTags(this.current(id), tags)
    this.r.replace(next, true)
    this.logTags(n, from, tags, 'admin')
    return this.r.status(next)
  }

  /**
   * Gives node `id` the DNS label `name` (lower-cased) and persists it; the netmap carries the change once it is
   * durable, and every daemon answers for the new name from then on, and no longer for the old one. Refused with
   * InvalidInputError for a name that is not a DNS label, ConflictError for one another node has (or while a
   * removal of the node is under way). Ordered with the node's other writers (serial).
   */
  async rename (id: string, name: string): Promise<NodeStatus> {
    const label = name.toLowerCase()
    if (!isLabel(label)) {
      throw new InvalidInputError(`"${name}" is not a DNS label: 1-63 letters, digits and -, not starting or ending with - (docs/dns.md)`)
    }
    return await this.r.serial(id, async () => await retryOnConflict(async () => await this.writeName(id, label)))
  }

  private async writeName (id: string, label: string): Promise<NodeStatus> {
    const n = this.r.writable(id)
    if (n.name === label) return this.r.status(n)
    const holder = this.r.names.holder(label)
    if (this.r.names.taken(label) && holder !== id) {
      const other = holder === undefined ? undefined : this.r.get(holder)
      throw new ConflictError(`the name ${label} is taken by ${other === undefined ? 'a node registering right now' : `${other.hostname} (${other.id})`}; ` +
        'rename that node first, or pick another name')
    }
    const updatedAt = this.d.clock.now()
    // Held while the write is under way, so that a registration in the meantime picks another label.
    this.r.names.hold(label, n.publicKey)
    let next: StoredNode
    try {
      await this.d.commit.commit([{ kind: 'node', node: { ...n, name: label, updatedAt } }])
      next = { ...this.current(id), name: label }
    } catch (err) {
      this.r.names.release(label, n.publicKey)
      throw err
    }
    this.r.replace(next, true)
    this.d.log.info({ event: 'node.rename', nodeId: id, hostname: n.hostname, meshIp: n.meshIp, from: n.name ?? null, to: label },
      `${n.hostname} renamed ${n.name ?? '(no name)'} -> ${label}`)
    const from = n.name !== undefined ? { from: n.name } : {}
    this.d.events.emit('rename', { nodeId: id, name: this.r.nameOf(next), ...from, to: label, reason: 'renamed by an admin' })
    return this.r.status(next)
  }

  /** Logs the audit event of a change of node `n`'s tags from `from` to `to`, made by an admin or by the join token `n` registered with. */
  logTags (n: StoredNode, from: readonly string[], to: readonly string[], by: 'admin' | 'token'): void {
    const token = by === 'token' ? { tokenId: n.tokenId } : {}
    this.d.events.emit('tags', {
      nodeId: n.id,
      name: this.r.nameOf(n),
      from: from.join(' '),
      to: to.join(' '),
      reason: `changed by ${by === 'admin' ? 'an admin' : `join token ${n.tokenId ?? ''}`}`
    })
    this.d.log.info({ event: 'node.tags', nodeId: n.id, hostname: n.hostname, meshIp: n.meshIp, from, to, by, ...token },
      `${n.hostname} tags: ${to.join(' ') || 'none'} (were ${from.join(' ') || 'none'}; ` +
      `changed by ${by === 'admin' ? 'an admin' : `join token ${n.tokenId ?? ''}`})`)
  }

  /** The node `id` as it is now, after a writer's await: NotFoundError when it was removed meanwhile. */
  private current (id: string): StoredNode {
    const cur = this.r.get(id)
    if (cur === undefined) throw new NotFoundError(`node ${id} was removed meanwhile`)
    return cur
  }
}

/** `n` with `tags` (sorted), or without any when the list is empty. */
function withTags (n: StoredNode, tags: readonly string[]): StoredNode {
  const out: StoredNode = { ...n }
  if (tags.length === 0) delete out.tags; else out.tags = [...tags]
  return out
}

/** `n` with `expiresAt` set, or without one when undefined. */
function withExpiry (n: StoredNode, expiresAt: number | undefined): StoredNode {
  const out: StoredNode = { ...n }
  if (expiresAt === undefined) delete out.expiresAt; else out.expiresAt = expiresAt
  return out
}
