import type { Clock } from '../clock.js'
import { StoreConflictError, StoreUnavailableError } from '../errors.js'
import type { Logger } from '../log.js'
import { trackedChanges } from './store-records.js'
import { judgeReopen } from './store-check.js'
import { writeGuard } from './store-guard.js'
import type { ControlStore, RawStore, StoreCapture, StoreOp, StoredState, WriteOptions } from './store.js'

/**
 * `healthy`: writes go to the database. `failed`: a write failed; every write is refused until `recover`
 * has reopened the database and found everything acknowledged in it. `recovering`: a reopen is under way.
 * `restart-required`: the reopened database holds a batch that was reported as failed, so memory is behind
 * it. `lost`: acknowledged records are missing after the reopen. `closed`: after `close`.
 */
export type StorePhase = 'healthy' | 'failed' | 'recovering' | 'restart-required' | 'lost' | 'suspended' | 'closed'

/** Where a write failed: the database batch, or the guard written after a durable batch. */
export type FailStage = 'write' | 'guard'

/** What the durable store needs. */
export interface DurableStoreDeps {
  /** The data directory: the guard is `DIR/store-guard.json`. */
  dataDir: string
  /**
   * Whether other controllers write the store too (etcd). Then no guard file backs it (no one controller's
   * disk can say what it must hold), batches carry no `meta:seq` (a counter every controller wrote would make
   * all their writes conflict), and a failed write fails only itself: etcd applied it or not, and the store's
   * watch tells this controller which.
   */
  shared?: boolean
  /** Opens the backend again after a failure (LevelDB: a new log; etcd: a new client). */
  reopen: () => Promise<RawStore>
  /** What the reopened backend reported about itself, for the log (LevelDB: bytes its log replay dropped). */
  reopenNotes?: () => Promise<string[]>
  /** What the operator can do when writes fail, for the log: "free space or fix the disk under DIR", say. */
  remedy: string
  cidr: string
  clock: Clock
  log: Logger
  /** Highest IPAM offset ever handed out; stamped into every synced batch and the guard. */
  ipHighWater: () => number
  /** Called once per failed write (first failure and any later one), with where it failed. */
  onError?: (stage: FailStage) => void
  /** Called once per refused write. */
  onRefused?: () => void
  /** Called when only a restart can make memory agree with the database again. */
  onRestartRequired?: (why: string) => void
}

/** The open database and what start-up learnt from it. */
export interface DurableStoreBase {
  raw: RawStore
  storeId: string
  /** `meta:seq` to continue from. */
  seq: number
  /** Digests of the `node:`, `token:` and policy records as loaded (LevelStore.readAll). */
  records: Map<string, string>
}

/**
 * The controller's store: LevelDB plus the guard, and the rule that nothing is acknowledged after a failed
 * write until the database is proven to hold everything acknowledged before it.
 *
 * Every synced batch carries `meta:seq` (one more than the last) and `meta:ipHighWater`; once LevelDB has
 * synced it the guard is rewritten, and only then does the write resolve. Writes run one at a time.
 *
 * Why a failed write stops all writes: when LevelDB's log write fails part-way (ENOSPC), LevelDB reports the
 * error but keeps the log open with its block offset past the bytes it never wrote. Every later record is
 * then misaligned; those writes succeed, are synced and read back fine until the next open, whose log
 * replay drops them all as checksum mismatches. Records written before the failure replay fine. So after a
 * failure nothing more may reach that log: `recover` closes the database, opens it again (LevelDB replays
 * the log up to the failure and starts a new one) and compares what it holds with what was acknowledged.
 */
export class DurableStore implements ControlStore {
  private raw: RawStore | null
  private phase_: StorePhase = 'healthy'
  private seq: number
  private readonly records: Map<string, string>
  private readonly inDoubt = new Set<string>()
  private failedSeq: number | null = null
  private failure: { at: number, cause: string } | null = null
  private lastRecoverError = ''
  private chain: Promise<unknown> = Promise.resolve()
  private recovering: Promise<StorePhase> | null = null
  private nodeCount = 0
  /** Writes refused since the last failure. */
  private refused = 0

  /** The database's id (also in the guard). */
  readonly storeId: string

  constructor (private readonly d: DurableStoreDeps, base: DurableStoreBase) {
    this.raw = base.raw
    this.seq = base.seq
    this.storeId = base.storeId
    this.records = new Map(base.records)
    for (const key of this.records.keys()) if (key.startsWith('node:')) this.nodeCount++
  }

  /** Current phase. */
  get phase (): StorePhase { return this.phase_ }

  /** The backend's limit, less the two meta records every synced batch adds (on a store of its own). */
  get maxOps (): number | undefined { return this.raw?.maxOps === undefined ? undefined : this.raw.maxOps - (this.d.shared === true ? 0 : 2) }

  /** Sequence number of the last acknowledged synced batch. */
  get lastSeq (): number { return this.seq }

  async load (): Promise<StoredState> {
    if (this.raw === null) throw this.refusal()
    return await this.raw.load()
  }

  /** The backend's capture, on a shared store (ControlStore.capture). */
  capture (ops: readonly StoreOp[], reads?: readonly string[]): StoreCapture | undefined {
    return this.raw?.capture?.(ops, reads)
  }

  /** Every record, read at one moment (RawStore.dump): what a backup holds. */
  async dump (): Promise<Array<[string, string]>> {
    if (this.raw === null) throw this.refusal()
    return await this.raw.dump()
  }

  /** Whether other controllers write this store too (etcd). */
  get shared (): boolean { return this.d.shared === true }

  /**
   * Applies `ops` atomically. With `sync`, resolves once the batch is on stable storage and the guard says
   * so. Throws StoreUnavailableError while the store is not healthy, and for the write that fails; on a shared
   * store, StoreConflictError when another controller changed a record the batch writes.
   */
  async write (ops: StoreOp[], opts: WriteOptions): Promise<void> {
    if (ops.length === 0) return
    const run = this.chain.then(async () => await (this.d.shared === true ? this.writeShared(ops, opts) : this.writeNow(ops, opts.sync)))
    this.chain = run.catch(() => {})
    await run
  }

  /**
   * Refuses every write from now on, for a reason outside the store: memory can no longer follow the shared
   * store (its watch ended). Only a restart ends it.
   */
  refuseFromNow (why: string): void {
    if (this.phase_ === 'closed') return
    this.phase_ = 'restart-required'
    this.failure = { at: this.d.clock.now(), cause: why }
  }

  /** Refuses writes until `resume`: this controller lost its session with the shared store (etcd-session.ts). */
  suspend (why: string): void {
    if (this.phase_ !== 'healthy') return
    this.phase_ = 'suspended'
    this.failure = { at: this.d.clock.now(), cause: why }
  }

  /** Takes writes again after `suspend`. */
  resume (): void {
    if (this.phase_ !== 'suspended') return
    this.phase_ = 'healthy'
    this.failure = null
  }

  /**
   * After a failure: closes the database, opens it again and judges what it holds. Resumes writing when it
   * holds exactly what was acknowledged; otherwise stays refusing (`lost`) or asks for a restart. Returns
   * the phase reached; does nothing unless the phase is `failed`.
   */
  async recover (): Promise<StorePhase> {
    if (this.phase_ !== 'failed') return this.phase_
    this.phase_ = 'recovering'
    this.recovering = this.reopen()
    try {
      return await this.recovering
    } finally {
      this.recovering = null
    }
  }

  async close (): Promise<void> {
    if (this.phase_ === 'closed') return
    await this.recovering
    const wasHealthy = this.phase_ === 'healthy'
    this.phase_ = 'closed'
    await this.chain
    if (wasHealthy) await this.raw?.close()
    else await this.raw?.close().catch(() => {})
    this.raw = null
  }

  private async reopen (): Promise<StorePhase> {
    await this.chain
    await this.raw?.close().catch(() => {})
    this.raw = null
    let reopened: RawStore
    try {
      reopened = await this.d.reopen()
    } catch (err) {
      return this.stillFailed(err)
    }
    let found: Awaited<ReturnType<RawStore['readAll']>>
    let drops: string[]
    try {
      drops = await this.d.reopenNotes?.() ?? []
      found = await reopened.readAll()
    } catch (err) {
      await reopened.close().catch(() => {})
      return this.stillFailed(err)
    }
    const verdict = judgeReopen({
      ackedSeq: this.seq,
      failedSeq: this.failedSeq,
      dbSeq: Number(found.state.meta.get('seq') ?? 0),
      expected: this.records,
      found: found.records,
      inDoubt: this.inDoubt
    })
    this.raw = reopened
    switch (verdict.kind) {
      case 'resume':
        try {
          await this.writeGuard()
        } catch (err) {
          return this.stillFailed(err)
        }
        this.d.log.warn({
          event: 'store.recovered',
          downMs: this.d.clock.now() - (this.failure?.at ?? 0),
          refused: this.refused,
          seq: this.seq,
          leveldb: drops
        }, 'the database was reopened and holds every acknowledged write; writes are accepted again')
        this.phase_ = 'healthy'
        this.inDoubt.clear()
        this.failedSeq = null
        this.failure = null
        this.refused = 0
        this.lastRecoverError = ''
        return this.phase_
      case 'restart':
        this.phase_ = 'restart-required'
        this.d.log.error({ event: 'store.error', stage: 'verify', reason: verdict.why, leveldb: drops },
          `the reopened database is ahead of this process (${verdict.why}); the controller must restart to load it`)
        this.d.onRestartRequired?.(verdict.why)
        return this.phase_
      case 'lost':
        this.phase_ = 'lost'
        this.d.log.error({ event: 'store.error', stage: 'verify', reason: verdict.why, missing: verdict.missing, changed: verdict.changed, leveldb: drops },
          `the reopened database lost acknowledged writes (${verdict.why}); writes stay refused. The store guard keeps a restart from serving this database: ` +
          'restore db/ from a backup, or restart with --accept-data-loss')
        return this.phase_
      default: { const never: never = verdict; throw new Error(`unknown verdict ${String(never)}`) }
    }
  }

  private async writeShared (ops: StoreOp[], opts: WriteOptions): Promise<void> {
    if (this.phase_ !== 'healthy' || this.raw === null) throw this.refusal()
    try {
      await this.raw.write(ops, opts)
    } catch (err) {
      if (err instanceof StoreConflictError || err instanceof StoreUnavailableError) throw err
      this.d.onError?.('write')
      throw new StoreUnavailableError(`the shared store failed this write (${causeOf(err)}); retry later`, { cause: err })
    }
  }

  private async writeNow (ops: StoreOp[], sync: boolean): Promise<void> {
    if (this.phase_ !== 'healthy' || this.raw === null) throw this.refusal()
    const seq = sync ? this.seq + 1 : null
    const batch = seq === null
      ? ops
      : [...ops, { kind: 'meta' as const, key: 'seq', value: String(seq) }, { kind: 'meta' as const, key: 'ipHighWater', value: String(this.d.ipHighWater()) }]
    const changes = trackedChanges(batch)
    try {
      await this.raw.write(batch, { sync })
    } catch (err) {
      for (const [key] of changes) this.inDoubt.add(key)
      if (seq !== null) this.failedSeq = seq
      this.fail('write', err)
      throw new StoreUnavailableError(`the controller's database failed this write (${causeOf(err)}); writes are refused until it has been reopened and ` +
        'verified, retry later', { cause: err })
    }
    for (const [key, digest] of changes) {
      const had = this.records.has(key)
      if (digest === null) this.records.delete(key)
      else this.records.set(key, digest)
      if (key.startsWith('node:')) this.nodeCount += (digest === null ? 0 : 1) - (had ? 1 : 0)
    }
    if (seq === null) return
    this.seq = seq
    try {
      await this.writeGuard()
    } catch (err) {
      // The batch itself is synced in the database, so it is acknowledged; nothing more is until the
      // database is reopened, verified and the guard written again.
      this.fail('guard', err)
    }
  }

  private async writeGuard (): Promise<void> {
    if (this.d.shared === true) return
    await writeGuard(this.d.dataDir, {
      format: 1,
      storeId: this.storeId,
      seq: this.seq,
      nodes: this.nodeCount,
      ipHighWater: this.d.ipHighWater(),
      cidr: this.d.cidr,
      writtenAt: this.d.clock.now()
    })
  }

  private fail (stage: FailStage, err: unknown): void {
    this.d.onError?.(stage)
    if (this.phase_ !== 'healthy') return
    this.phase_ = 'failed'
    this.failure = { at: this.d.clock.now(), cause: causeOf(err) }
    this.d.log.error({ event: 'store.error', stage, err },
      `the controller's database failed a write (${this.failure.cause}); writes are refused until it has been reopened and verified (${this.d.remedy})`)
  }

  private stillFailed (err: unknown): StorePhase {
    this.phase_ = 'failed'
    const cause = causeOf(err)
    if (cause !== this.lastRecoverError) {
      this.lastRecoverError = cause
      this.d.log.warn({ event: 'store.recover_failed', err }, `reopening the database failed (${cause}); writes stay refused, trying again`)
    }
    return this.phase_
  }

  private refusal (): StoreUnavailableError {
    this.refused++
    this.d.onRefused?.()
    const cause = this.failure?.cause ?? 'unknown'
    const why = {
      lost: 'it lost acknowledged writes and needs an operator (see the controller log)',
      'restart-required': `it must restart to load its database (${cause})`,
      suspended: `this controller is cut off from it (${cause}); daemons and admins go to another controller`,
      closed: 'it is shutting down'
    }[this.phase_ as string] ?? `a write failed (${cause}) and the database has not yet been reopened and verified`
    return new StoreUnavailableError(`the controller's database refuses writes: ${why}; retry later`)
  }
}

/** The short cause of a store error, without paths: "No space left on device", not the file it was writing. */
function causeOf (err: unknown): string {
  const e = err as { message?: string, cause?: { message?: string }, code?: string }
  if (typeof e?.code === 'string' && /^E[A-Z0-9]+$/.test(e.code)) return (e.message ?? e.code).split(',')[0]!.slice(0, 200)
  const msg = e?.cause?.message ?? e?.message ?? String(err)
  return (msg.split(': ').pop() ?? msg).slice(0, 200)
}
