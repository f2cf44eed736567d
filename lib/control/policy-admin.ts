import type { Clock } from '../clock.js'
import { ConflictError, InvalidInputError, NotFoundError, PolicyError } from '../errors.js'
import type { Logger } from '../log.js'
import { parsePolicy, type Policy } from '../policy/document.js'
import { runTests, type PolicyNode } from '../policy/evaluate.js'
import { checkNodeNames } from '../policy/names.js'
import { askPolicy, splitDestination } from '../policy/query.js'
import type { PolicyInfo, PolicyTestRequest, PolicyTestResponse, SetPolicyRequest, SetPolicyResponse } from '../wire/api.js'
import type { NetmapPolicy } from '../wire/netmap.js'
import { checkTags } from '../wire/tags.js'
import { retryOnConflict, type GroupCommit } from './group-commit.js'
import type { ControllerMetrics } from './metrics.js'
import { policySha256, type StoredPolicy } from './store.js'

/** What PolicyAdmin needs. */
export interface PolicyAdminDeps {
  clock: Clock
  log: Logger
  commit: GroupCommit
  metrics: ControllerMetrics
  /** Takes each new policy to the netmap (NetmapLog.setPolicy). */
  publish: (p: NetmapPolicy) => void
  /** Every node as the policy sees it, from the registry. */
  nodes: () => PolicyNode[]
}

/**
 * The admin's side of the access policy: read, set, ask. A new document is checked whole before anything is
 * written: parsed (lib/policy/document.ts), every node hostname it uses matched against the registry, and its
 * tests run against the real nodes with their tags and addresses. A refused one leaves the policy as it was.
 * An accepted one is in a synced batch, with the next version, before it is answered and published. Sets run
 * one at a time, so versions count changes exactly and `ifVersion` is a true compare-and-set.
 */
export class PolicyAdmin {
  private current: { stored: StoredPolicy, parsed: Policy | null } | null = null
  private chain: Promise<unknown> = Promise.resolve()

  constructor (private readonly d: PolicyAdminDeps) {}

  /**
   * Loads the stored policy at start-up and returns what the netmap carries of it. A stored text that no
   * longer parses (a stricter release) is still served, so daemons keep what they enforce; it is logged, and
   * tag checks and `test` wait for a new policy.
   */
  restore (stored: StoredPolicy | null): NetmapPolicy | null {
    if (stored === null) return null
    let parsed: Policy | null = null
    try {
      parsed = parsePolicy(stored.text)
    } catch (err) {
      this.d.log.error({ event: 'policy.unreadable', version: stored.version, err },
        `the stored access policy (version ${stored.version}) does not parse: ${(err as Error).message}; it is still served as it is. Set a corrected one ` +
        'with `weft policy set`')
    }
    this.current = { stored, parsed }
    return { version: stored.version, text: stored.text }
  }

  /** Takes in a policy another controller set in the shared store, and publishes it as a change made here would be. */
  applyStored (stored: StoredPolicy): void {
    const from = this.version
    if (stored.version <= from) return
    const p = this.restore(stored)!
    this.d.publish(p)
    this.d.log.info({ event: 'policy.change', by: 'store', from, to: stored.version, sha256: stored.sha256 },
      `access policy version ${stored.version} set through another controller`)
  }

  /** Version in force; 0 when none was ever set. */
  get version (): number {
    return this.current?.stored.version ?? 0
  }

  /** The policy as stored. Throws NotFoundError when none was ever set. */
  get (): PolicyInfo {
    if (this.current === null) {
      throw new NotFoundError('no access policy has been set: every node reaches every port of every other. Set one with `weft policy set FILE`')
    }
    const { version, text, updatedAt, sha256 } = this.current.stored
    return { version, text, updatedAt, sha256 }
  }

  /**
   * Sets a new policy (see the class comment); `source` is the request's address, for the audit log. Throws
   * ConflictError when `ifVersion` is not the current version, PolicyError (line:column first) for a document
   * that is refused, StoreUnavailableError when the store refuses the write.
   */
  async set (req: SetPolicyRequest, source: string): Promise<SetPolicyResponse> {
    const run = this.chain.then(async () => await retryOnConflict(async () => await this.setNow(req, source)))
    this.chain = run.catch(() => {})
    return await run
  }

  private async setNow (req: SetPolicyRequest, source: string): Promise<SetPolicyResponse> {
    const was = this.current?.stored ?? null
    const from = was?.version ?? 0
    if (req.ifVersion !== undefined && req.ifVersion !== from) {
      throw new ConflictError(`the policy is at version ${from}${from === 0 ? ' (none set)' : ''}, not ${req.ifVersion}: it changed since it was read; ` +
        'read it again (`weft policy get`) and make the change on that')
    }
    if (was !== null && was.text === req.text) return { version: was.version, updatedAt: was.updatedAt, sha256: was.sha256, changed: false }
    let p: Policy
    try {
      p = this.check(req.text)
    } catch (err) {
      if (err instanceof PolicyError) {
        this.d.log.info({ event: 'policy.reject', by: 'admin', source, version: from, reason: err.message }, `access policy refused: ${err.message}`)
      }
      throw err
    }
    const stored: StoredPolicy = { version: from + 1, text: req.text, updatedAt: this.d.clock.now(), sha256: policySha256(req.text) }
    await this.d.commit.commit([{ kind: 'policy', policy: stored }])
    this.current = { stored, parsed: p }
    this.d.publish({ version: stored.version, text: stored.text })
    this.d.metrics.policyChanges.inc()
    const counts = { rules: p.acls.length, groups: p.groups.size, tags: p.tagOwners.size, hosts: p.hosts.size, tests: p.tests.length }
    this.d.log.info({ event: 'policy.change', by: 'admin', source, from: was?.version ?? null, to: stored.version, sha256: stored.sha256, ...counts },
      `access policy version ${stored.version} set by an admin from ${source}: ${counts.rules} rules, ${counts.groups} groups, ${counts.tags} tags, ` +
      `${counts.hosts} hosts; ${counts.tests} tests pass`)
    return { version: stored.version, updatedAt: stored.updatedAt, sha256: stored.sha256, changed: true }
  }

  /** `text` parsed, its node hostnames found in the registry and its tests passed against the registry's nodes; else PolicyError. */
  private check (text: string): Policy {
    const p = parsePolicy(text)
    const nodes = this.d.nodes()
    checkNodeNames(p, new Set(nodes.map(n => n.name)))
    runTests(p, nodes)
    return p
  }

  /** What the policy in force says about `req`'s flows; without a policy, every flow is accepted. */
  test (req: PolicyTestRequest): PolicyTestResponse {
    const proto = req.proto ?? 'tcp'
    if (this.current === null) {
      const { port } = splitDestination(req.dst, proto)
      return {
        version: null,
        proto,
        port,
        accept: true,
        flows: [{ src: req.src, dst: req.dst, accept: true, rule: null, line: null }],
        note: 'no access policy is set: every flow is accepted'
      }
    }
    const { stored, parsed } = this.current
    if (parsed === null) {
      throw new PolicyError(`the access policy in force (version ${stored.version}) does not parse; set a corrected one with \`weft policy set\``)
    }
    const { port, flows } = askPolicy(parsed, this.d.nodes(), req.src, req.dst, proto)
    return { version: stored.version, proto, port, accept: flows.every(f => f.accept), flows }
  }

  /**
   * `tags` checked (lib/wire/tags.ts) and sorted, for a token or a node. With a policy in force, each must be
   * declared in its `tagOwners`. Throws InvalidInputError for a malformed tag, PolicyError for an undeclared one.
   */
  admitTags (tags: readonly unknown[]): string[] {
    const c = checkTags(tags)
    if ('error' in c) throw new InvalidInputError(c.error)
    const p = this.current?.parsed
    if (p === undefined || p === null) return c.tags
    const undeclared = c.tags.filter(t => !p.tagOwners.has(t))
    if (undeclared.length > 0) {
      throw new PolicyError(`${undeclared.join(', ')} ${undeclared.length === 1 ? 'is' : 'are'} not declared in the access policy's "tagOwners" ` +
        `(version ${this.version}); declare ${undeclared.length === 1 ? 'it' : 'them'} there first (\`weft policy set\`)`)
    }
    return c.tags
  }
}
