import type { Clock } from '../clock.js'
import { ConflictError, DataDirError, ProofRejectedError, StoreConflictError, TokenRejectedError, UnauthorizedError, WeftError } from '../errors.js'
import type { Logger } from '../log.js'
import type { RegisterRequest, RegisterResponse } from '../wire/api.js'
import { verifyRegistration } from '../wire/proof.js'
import type { StaticKey } from '../wire/keys.js'
import { hashSecret, newSecret } from './auth.js'
import { retryOnConflict, type GroupCommit } from './group-commit.js'
import type { Ipam } from './ipam.js'
import type { ControllerMetrics } from './metrics.js'
import { newNodeId, observedEndpoint, removedError, type Registry } from './registry.js'
import type { StoreOp, StoredNode, StoredToken } from './store.js'
import { recordWrite } from './store-records.js'
import type { TokenBook } from './tokens.js'

/**
 * The IPAM calls registration makes. `allocate` takes the address a re-registering node asks for as a
 * preference (given when no other key holds it); an allocator without that parameter ignores it.
 */
export type RegistrationIpam = Pick<Ipam, 'unreserve'> & { allocate (publicKey: string, now: number, preferred?: string): string }

/** What registration needs. */
export interface RegistrationDeps {
  clock: Clock
  log: Logger
  registry: Registry
  tokens: TokenBook
  ipam: RegistrationIpam
  commit: GroupCommit
  metrics: ControllerMetrics
  /** The controller's key, parsed once (proof verification is the main CPU cost of a registration). */
  controllerKey: StaticKey
  controllerPublicKey: string
  cidr: string
  proofSkewMs: number
  heartbeatIntervalMs: number
  /**
   * Whether other controllers write the store too (etcd): a use of a reusable token is then checked against
   * its record (not revoked meanwhile) without writing it, so that registrations through every controller do
   * not all conflict on the one record.
   */
  sharedStore?: boolean
}

/** The request's transport facts. */
export interface RegisterContext { credential: string | null, sourceIp: string | undefined }

/**
 * `POST /v1/register`. Checks run synchronously up to the one await (the synced batch): proof, replay,
 * credential or token, IP reservation. So concurrent registrations never share an IP or spend one
 * single-use token twice; a failed batch gives back what it reserved. Registrations of the same key are
 * serialized so a key never gets two node ids.
 */
export class Registration {
  private readonly nonces = new Map<string, number>()
  private readonly inFlight = new Map<string, Promise<unknown>>()

  constructor (private readonly d: RegistrationDeps) {}

  /** Loads unexpired nonces at start-up so a restart does not reopen the replay window. */
  restoreNonces (nonces: Array<{ nonce: string, expiresAt: number }>): void {
    for (const n of nonces) this.nonces.set(n.nonce, n.expiresAt)
  }

  /** Forgets nonces whose timestamps are now outside the skew window; returns them for deletion from the store. */
  takeExpiredNonces (): string[] {
    const now = this.d.clock.now()
    const out: string[] = []
    for (const [n, exp] of this.nonces) if (exp <= now) { out.push(n); this.nonces.delete(n) }
    return out
  }

  /**
   * Registers or re-registers; resolves only after the registration is durable. A request refused before
   * its batch was written had no effect, so its nonce is given back: the same signed request may come
   * again (with the right token, say). Once the batch was tried the nonce stays used, whatever the outcome.
   */
  async register (req: RegisterRequest, ctx: RegisterContext): Promise<RegisterResponse> {
    try {
      return await retryOnConflict(async () => await this.registerOnce(req, ctx))
    } catch (err) {
      this.d.metrics.registrations.inc({ result: 'rejected' })
      throw err
    }
  }

  /** Takes in a nonce record another controller wrote (a registration it admitted) or deleted (expired). */
  applyNonce (nonce: string, expiresAt: number | null): void {
    if (expiresAt === null) this.nonces.delete(nonce); else this.nonces.set(nonce, expiresAt)
  }

  private async registerOnce (req: RegisterRequest, ctx: RegisterContext): Promise<RegisterResponse> {
    let nonceTaken = false
    const progress = { writing: false }
    try {
      const nonceExpiresAt = this.checkProof(req)
      nonceTaken = true
      for (let p = this.inFlight.get(req.publicKey); p !== undefined; p = this.inFlight.get(req.publicKey)) await p.catch(() => {})
      const run = (async () => {
        try {
          // Ordered with the registry's other writers of this node's record (Registry.serial), which admit reads.
          const id = this.d.registry.byPublicKey(req.publicKey)?.id
          const admit = async (): Promise<RegisterResponse> => await this.admit(req, ctx, nonceExpiresAt, progress)
          return id === undefined ? await admit() : await this.d.registry.serial(id, admit)
        } finally { this.inFlight.delete(req.publicKey) }
      })()
      this.inFlight.set(req.publicKey, run)
      return await run
    } catch (err) {
      // A conflict wrote nothing: the request is decided again, with its nonce.
      if (nonceTaken && (!progress.writing || err instanceof StoreConflictError)) this.nonces.delete(req.nonce)
      throw err
    }
  }

  /**
   * Verifies timestamp, nonce and proof; marks the nonce used (register gives it back if the request is
   * refused before its batch). Returns when the nonce may be forgotten.
   */
  private checkProof (req: RegisterRequest): number {
    const skew = req.timestamp - this.d.clock.now()
    if (Math.abs(skew) > this.d.proofSkewMs) {
      throw new ProofRejectedError(`registration timestamp is ${Math.round(skew / 1000)} s off the controller clock (allowed ` +
        `±${this.d.proofSkewMs / 1000} s); fix the node's clock (NTP)`)
    }
    if (this.nonces.has(req.nonce)) {
      throw new ProofRejectedError('registration nonce was already used (replayed request); sign every request with a fresh ' +
        'nonce')
    }
    let ok = false
    try {
      ok = verifyRegistration(this.d.controllerKey, req, req.proof)
    } catch { ok = false }
    if (!ok) {
      throw new ProofRejectedError('proof of key possession does not verify: it must be the HMAC of the canonical message under the key shared by ' +
        'this public key and the controller key (docs/api.md)')
    }
    const expiresAt = req.timestamp + this.d.proofSkewMs + 1
    this.nonces.set(req.nonce, expiresAt)
    return expiresAt
  }

  /** Admits `req` (proof checked); sets `progress.writing` just before the batch is written. */
  private async admit (req: RegisterRequest, ctx: RegisterContext, nonceExpiresAt: number, progress: { writing: boolean }): Promise<RegisterResponse> {
    const { registry, tokens, ipam, clock } = this.d
    const existing = registry.byPublicKey(req.publicKey)
    if (existing !== undefined && registry.isRemoving(existing.id)) {
      throw new ConflictError('this node is being removed by an admin; register again with ' +
        'a join token once that is done')
    }
    const byCred = ctx.credential === null ? undefined : registry.byCredential(ctx.credential)
    const viaCredential = existing !== undefined && byCred?.id === existing.id
    if (!viaCredential && ctx.credential !== null && req.token === undefined) {
      if (byCred !== undefined) throw new UnauthorizedError('node credential belongs to another public key')
      registry.authenticate(ctx.credential) // throws: removed (403) or unknown (401)
    }
    if (!viaCredential && req.token === undefined) {
      throw new TokenRejectedError('a join token is required to register this key (no credential for it was ' +
        'presented)')
    }
    // A request with meshIp comes from a node with saved state: it does not undo an admin's removal, whatever token it holds.
    const removal = existing === undefined && req.meshIp !== undefined ? registry.removalOfKey(req.publicKey) : undefined
    if (removal !== undefined) throw removedError(removal)

    const now = clock.now()
    let claimed: StoredToken | null = null
    let reservedIp = false
    let takenName: string | null = null
    let credential: string | undefined
    let node: StoredNode
    if (!viaCredential) claimed = tokens.claim(req.token!)
    try {
      const base = {
        hostname: req.hostname,
        signingKey: req.signingKey,
        endpoints: [...req.endpoints],
        listenPort: req.listenPort,
        swimPort: req.swimPort,
        updatedAt: now
      }
      if (!viaCredential) credential = newSecret('wn_')
      const credentialHash = credential === undefined ? existing!.credentialHash : hashSecret(credential)
      // A node keeps its name across registrations, whatever hostname it comes with; only an admin renames it.
      if (existing?.name === undefined) takenName = registry.takeName(req.hostname, req.publicKey)
      const name = existing?.name ?? takenName!
      if (existing !== undefined) {
        node = { ...existing, ...base, name, credentialHash, state: 'active' }
      } else {
        const meshIp = ipam.allocate(req.publicKey, now, req.meshIp)
        reservedIp = true
        node = { id: newNodeId(), publicKey: req.publicKey, meshIp, ...base, name, credentialHash, state: 'active', createdAt: now }
      }
      if (claimed !== null) node = tokens.stampNode(node, claimed, now)
      const observed = this.d.sharedStore === true ? observedEndpoint(ctx.sourceIp, req.listenPort) : null
      if (observed !== null) node = { ...node, observedEndpoint: observed }
      const ops: StoreOp[] = [{ kind: 'node', node }, { kind: 'nonce', nonce: req.nonce, expiresAt: nonceExpiresAt }]
      const reads: string[] = []
      const spend: StoreOp | null = claimed === null ? null : { kind: 'token', token: claimed }
      if (spend !== null && claimed!.reusable && this.d.sharedStore === true) reads.push(recordWrite(spend).key)
      else if (spend !== null) ops.push(spend)
      progress.writing = true
      await this.d.commit.commit(ops, reads)
    } catch (err) {
      if (reservedIp) ipam.unreserve(req.publicKey)
      if (takenName !== null) registry.releaseName(takenName, req.publicKey)
      if (claimed !== null) tokens.unclaim(claimed)
      if (err instanceof WeftError) throw err
      throw new DataDirError(`could not persist the registration: ${(err as Error).message}`, { cause: err })
    }
    registry.admit(node, existing, ctx.sourceIp)
    const result = existing === undefined ? 'new' : viaCredential ? 'reregistered' : 'rotated'
    this.d.metrics.registrations.inc({ result })
    this.d.log.info({
      event: 'node.register',
      nodeId: node.id,
      meshIp: node.meshIp,
      hostname: node.hostname,
      name: node.name,
      result,
      tags: node.tags ?? []
    }, `node ${node.hostname} registered (${result})`)
    const tagsBefore = existing?.tags ?? []
    if ((node.tags ?? []).join(',') !== tagsBefore.join(',')) registry.edits.logTags(node, tagsBefore, node.tags ?? [], 'token')
    const res: RegisterResponse = {
      nodeId: node.id,
      meshIp: node.meshIp,
      cidr: this.d.cidr,
      controllerPublicKey: this.d.controllerPublicKey,
      heartbeatIntervalMs: this.d.heartbeatIntervalMs
    }
    if (credential !== undefined) res.credential = credential
    return res
  }

  /** True while a registration of `publicKey` is under way (waiting for another, or writing its batch). */
  busy (publicKey: string): boolean {
    return this.inFlight.has(publicKey)
  }
}
