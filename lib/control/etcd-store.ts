/**
 * ControlStore on etcd v3 (docs/store.md, "etcd"), shared by every controller of a mesh: the records of
 * store-records.ts under a key prefix (`/weft/node:n1...`), one etcd transaction per write, so a batch is
 * all-or-nothing and on a quorum of members when it resolves (etcd has no unsynced write: `sync` changes
 * nothing). Reads and writes carry a deadline, so a cluster without quorum fails them rather than holding them.
 *
 * Several controllers write at once. Each keeps its state in memory and decides there; a write applies only
 * if every record it writes is still at the revision its decision saw (etcd-revisions.ts), else it is
 * refused whole with StoreConflictError, and the records that changed are taken in before the caller decides
 * again. Uniqueness that spans records is a record of its own: an active node claims its mesh IP
 * (`claim:ip:100.64.0.7`) and its public key (`claim:key:...`), so two controllers that pick the same free
 * address for two new nodes write the same claim, and only one of them applies.
 *
 * A watch from the revision of the start-up read brings every other controller's writes, in order, to
 * `follow`'s listeners; they are handed over between this controller's own transactions, never during one,
 * so a decision and its write are not split by another's change.
 */
import { readFile } from 'node:fs/promises'
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen } from 'cockatiel'
import { Etcd3, isRecoverableError, type IOptions, type Watcher } from 'etcd3'
import type { Clock } from '../clock.js'
import { ConfigError, StoreConflictError, StoreUnavailableError } from '../errors.js'
import { Capture, Revisions } from './etcd-revisions.js'
import type { ControlStore, StoreCapture, StoreOp, StoredNode, StoredState, WriteOptions } from './store.js'
import { RecordReader, recordWrite, type RecordWrite } from './store-records.js'

/** Where the store is and how to reach it (`--etcd-*` flags). */
export interface EtcdOptions {
  /** Client URLs of the members, `http://host:port` or `https://host:port`. */
  endpoints: string[]
  /** Key prefix every record lives under; several meshes can share a cluster with different prefixes. */
  prefix: string
  /** PEM files: the CA that signed the members' certificates, and this controller's client certificate and key. */
  caFile?: string
  certFile?: string
  keyFile?: string
  /** Deadline of one request. */
  timeoutMs: number
}

/** A record another controller wrote (or this one, when its own write's outcome was unknown): the new value, or null when deleted. */
export interface RecordChange { key: string, value: string | null, rev: number }

/** Keys under the prefix that are not records: what controllers say of the nodes they hold (etcd-session.ts). */
export const LIVE_PREFIX = 'live/'

/** Keys under the prefix that are not records either: an active node's claims on its IP, its key and its name (`plan`). */
const CLAIM_PREFIX = 'claim:'

/** The claims an active or left node holds: its mesh IP, its public key and, once it has one, its DNS name. */
function claimsOf (n: StoredNode): string[] {
  const out = [`${CLAIM_PREFIX}ip:${n.meshIp}`, `${CLAIM_PREFIX}key:${n.publicKey}`]
  if (n.name !== undefined) out.push(`${CLAIM_PREFIX}name:${n.name}`)
  return out
}

/**
 * Deadline of one attempt of a request: well above an answer from a live member (milliseconds), and short
 * enough that a request that went to a member that just died is sent again to another within about a second.
 */
const ATTEMPT_MS = 1000

/**
 * Whether `err` says the member gave no answer (gRPC DEADLINE_EXCEEDED or UNAVAILABLE, or the client's breaker
 * for a member that failed just before), rather than refusing the request.
 */
function noAnswer (err: unknown): boolean {
  const e = err as { code?: unknown, message?: unknown }
  return e.code === 4 || e.code === 14 || /DEADLINE_EXCEEDED|UNAVAILABLE|circuit breaker is open/.test(String(e.message))
}

/** Pause before sending again a request that failed at once, so that a cluster that is down is not asked in a busy loop. */
const RETRY_PAUSE_MS = 50

/** Most operations in one transaction; etcd refuses more (its `--max-txn-ops` default). */
export const ETCD_MAX_TXN_OPS = 128

/** Most etcd operations one store op becomes: a node, its IP, key and name claims, and the freed claim of its old name. */
const KEYS_PER_OP = 5

type Listener = (changes: RecordChange[]) => void

/** A transaction's writes: the records, with the claims they make or free, and the claims they keep (compared, not written). */
interface Plan { writes: Map<string, RecordWrite>, holds: Map<string, string> }

export class EtcdStore implements ControlStore {
  /** Store ops per write: each may become KEYS_PER_OP etcd operations. */
  readonly maxOps = Math.floor(ETCD_MAX_TXN_OPS / KEYS_PER_OP)
  private readonly revisions = new Revisions()
  /** Revision of the start-up read; the watch starts after it. */
  private loadedRev = 0
  private watcher: Watcher | null = null
  /** Whether the watch's stream is up (the client reconnects it, after a member or the quorum is back). */
  private watchUp = false
  private watchWaiters: Array<() => void> = []
  private onRecords: Listener = () => {}
  private onLive: Listener = () => {}
  private readonly queue: RecordChange[] = []
  private writing = 0
  private drainScheduled = false
  private settleWaiters: Array<() => void> = []

  private constructor (private readonly client: Etcd3, private readonly o: EtcdOptions, private readonly clock: Clock) {}

  /**
   * Connects to `o.endpoints` and checks that the cluster answers. Throws ConfigError for unreadable TLS files,
   * StoreUnavailableError when no member answers within the deadline.
   */
  static async open (o: EtcdOptions, clock: Clock): Promise<EtcdStore> {
    const client = new Etcd3(await clientOptions(o))
    const store = new EtcdStore(client, o, clock)
    try {
      await client.kv.range({ key: Buffer.from(o.prefix), limit: 1 }, store.deadline())
    } catch (err) {
      client.close()
      throw new StoreUnavailableError(`etcd at ${o.endpoints.join(', ')} does not answer: ${causeOf(err)}`, { cause: err })
    }
    return store
  }

  /** The client, for the session that shares its connection (etcd-session.ts). */
  get etcd (): Etcd3 { return this.client }

  async load (): Promise<StoredState> {
    return (await this.readAll()).state
  }

  /** Every record under the prefix, parsed, with the digests DurableStore compares after a failure; notes their revisions. */
  async readAll (): Promise<{ state: StoredState, records: Map<string, string> }> {
    const all = await this.rangeAll().catch((err: unknown) => {
      throw new StoreUnavailableError(`cannot read etcd at ${this.o.endpoints.join(', ')}: ${causeOf(err)}`, { cause: err })
    })
    const reader = new RecordReader()
    for (const kv of all.kvs) {
      // Live keys reach the controller through `follow`, like those written after this read.
      if (kv.key.startsWith(LIVE_PREFIX)) { this.queue.push(kv); continue }
      this.revisions.observe(kv.key, kv.value, kv.rev)
      reader.add(kv.key, kv.value)
    }
    this.loadedRev = all.rev
    return { state: reader.state, records: reader.records }
  }

  async dump (): Promise<Array<[string, string]>> {
    const all = await this.rangeAll()
    return all.kvs.filter(kv => !kv.key.startsWith(LIVE_PREFIX) && !kv.key.startsWith(CLAIM_PREFIX)).map(kv => [kv.key, kv.value])
  }

  /** Every key under the prefix (without it), at one revision: the store's revision then, and each key's own. */
  private async rangeAll (): Promise<{ rev: number, kvs: Array<RecordChange & { value: string }> }> {
    const start = Buffer.from(this.o.prefix)
    const res = await this.withRetry(async options => await this.client.kv.range({ key: start, range_end: prefixEnd(start) }, options))
    return {
      rev: Number(res.header.revision),
      kvs: res.kvs.map(kv => ({ key: kv.key.toString('utf8').slice(this.o.prefix.length), value: kv.value.toString('utf8'), rev: Number(kv.mod_revision) }))
    }
  }

  /**
   * Watches the prefix from just after the start-up read: `onRecords` gets the records other controllers
   * write, `onLive` the `live/` keys, between this controller's own transactions. `onBroken` is called if the
   * watch ends for good (its revision was compacted away), after which memory can only be rebuilt by a restart.
   */
  async follow (onRecords: Listener, onLive: Listener, onBroken: (why: string) => void): Promise<void> {
    this.onRecords = onRecords
    this.onLive = onLive
    const watcher = await this.client.watch().prefix(this.o.prefix).startRevision(String(this.loadedRev + 1)).create()
    watcher.on('data', res => {
      for (const ev of res.events) {
        const key = ev.kv.key.toString('utf8').slice(this.o.prefix.length)
        const value = ev.type === 'Put' ? ev.kv.value.toString('utf8') : null
        this.queue.push({ key, value, rev: Number(ev.kv.mod_revision) })
      }
      this.scheduleDrain()
    })
    watcher.on('error', (err: Error) => onBroken(`the watch of etcd prefix ${this.o.prefix} ended: ${causeOf(err)}`))
    watcher.on('disconnected', () => { this.watchUp = false })
    watcher.on('connected', () => {
      this.watchUp = true
      for (const w of this.watchWaiters.splice(0)) w()
    })
    this.watchUp = true
    this.watcher = watcher
    this.scheduleDrain()
  }

  /** Resolves once the watch's stream is up again (at once when it is): what others write reaches memory again. */
  async watching (): Promise<void> {
    if (this.watchUp) return
    await new Promise<void>(resolve => this.watchWaiters.push(resolve))
  }

  /** Notes what the records `ops` write, and those in `reads`, are now (ControlStore.capture). */
  capture (ops: readonly StoreOp[], reads: readonly string[] = []): StoreCapture {
    return this.revisions.capture(new Set([...this.plan(ops).writes.keys(), ...reads]))
  }

  /**
   * One transaction. etcd refuses a transaction that names a key twice, while a group commit may carry two
   * writes of one record (a registration and a route change of the same node): the last write of each key is
   * kept, which is what applying the batch in order leaves. With captures, the transaction applies only if
   * each record is at the revision its decision saw; refused, it reads them back, and rejects with a
   * StoreConflictError whose `settled` resolves once they are taken in.
   */
  async write (ops: StoreOp[], opts: WriteOptions = { sync: true }): Promise<void> {
    if (ops.length === 0) return
    const { writes, holds } = this.plan(ops)
    const captures = (opts.captures ?? []) as Capture[]
    const expected = captures.length > 0 ? this.revisions.expected(captures) : new Map<string, number>()
    const key = (k: string): Buffer => Buffer.from(this.o.prefix + k)
    const compare = [
      ...[...expected].map(([k, rev]) => ({ key: key(k), target: 'Mod' as const, result: 'Equal' as const, mod_revision: String(rev) })),
      ...(captures.length > 0 ? [...holds].map(([k, v]) => ({ key: key(k), target: 'Value' as const, result: 'Equal' as const, value: Buffer.from(v) })) : [])
    ]
    const checked = [...new Set([...expected.keys(), ...(captures.length > 0 ? holds.keys() : []), ...writes.keys()])]
    if (writes.size > ETCD_MAX_TXN_OPS || compare.length > ETCD_MAX_TXN_OPS || checked.length > ETCD_MAX_TXN_OPS) {
      this.revisions.failed(captures)
      throw new StoreUnavailableError(`one write of ${writes.size} records; etcd takes at most ${ETCD_MAX_TXN_OPS}`)
    }
    const success = [...writes.values()].map(w => w.type === 'put'
      ? { request_put: { key: key(w.key), value: Buffer.from(w.value) } }
      : { request_delete_range: { key: key(w.key) } })
    const failure = checked.map(k => ({ request_range: { key: key(k) } }))
    this.writing++
    let attempts = 0
    try {
      const res = await this.withRetry(async options => { attempts++; return await this.client.kv.txn({ compare, success, failure }, options) })
      const rev = Number(res.header.revision)
      const values = new Map([...writes].map(([k, w]) => [k, w.type === 'put' ? w.value : null]))
      if (res.succeeded) {
        this.revisions.wrote(captures, values, rev)
        return
      }
      // Refused: the records as they are now, to take in before anyone decides again.
      const found = checked.map((k, i) => {
        const kv = res.responses[i]?.response_range.kvs[0]
        return { key: k, value: kv === undefined ? null : kv.value.toString('utf8'), rev: kv === undefined ? rev : Number(kv.mod_revision) }
      })
      // A transaction sent again after no answer finds its own first attempt, applied: that is success.
      if (attempts > 1 && found.every(f => !values.has(f.key) || f.value === values.get(f.key))) {
        this.revisions.wrote(captures, values, Math.max(...found.filter(f => values.has(f.key)).map(f => f.rev)))
        return
      }
      this.revisions.failed(captures)
      const changed = found.filter(f => expected.has(f.key) && f.rev !== expected.get(f.key)).map(f => f.key)
      this.queue.push(...found)
      throw new StoreConflictError(`another controller changed ${changed.slice(0, 3).join(', ') || 'a record this write depends on'} at the same moment; ` +
        'nothing was written', this.settled())
    } catch (err) {
      if (!(err instanceof StoreConflictError)) this.revisions.failed(captures)
      throw err
    } finally {
      this.writing--
      this.scheduleDrain()
    }
  }

  /**
   * The etcd writes of `ops`: each record's last write, plus the claims of nodes. An active or left node claims
   * its IP, key and DNS name (kept, not written again, when it holds them already); a claim its stored record held
   * and the new one does not (a renamed node's old name; every claim of a removed or deleted node) is freed.
   */
  private plan (ops: readonly StoreOp[]): Plan {
    const writes = new Map<string, RecordWrite>()
    const holds = new Map<string, string>()
    const put = (w: RecordWrite): void => { writes.delete(w.key); writes.set(w.key, w) }
    for (const op of ops) {
      put(recordWrite(op))
      const id = op.kind === 'node' ? op.node.id : op.kind === 'del-node' ? op.id : undefined
      if (id === undefined) continue
      const stored = this.knownNode(id)
      const next = op.kind === 'node' && op.node.state !== 'removed' ? claimsOf(op.node) : []
      for (const claim of next) {
        if (this.revisions.value(claim) === id) holds.set(claim, id)
        else put({ type: 'put', key: claim, value: id })
      }
      const before = stored !== undefined ? claimsOf(stored) : op.kind === 'node' ? claimsOf(op.node) : []
      for (const claim of before) if (!next.includes(claim) && this.revisions.value(claim) === id) put({ type: 'del', key: claim })
    }
    for (const k of writes.keys()) holds.delete(k)
    return { writes, holds }
  }

  private knownNode (id: string): StoredNode | undefined {
    const v = this.revisions.value(`node:${id}`)
    if (v === null) return undefined
    try { return JSON.parse(v) as StoredNode } catch { return undefined }
  }

  /** Resolves after the next hand-over of changes to the listeners. */
  private async settled (): Promise<void> {
    return await new Promise<void>(resolve => this.settleWaiters.push(resolve))
  }

  private scheduleDrain (): void {
    if (this.drainScheduled || this.writing > 0) return
    this.drainScheduled = true
    // After the continuations of the write that just ended (its callers' rollbacks), not in the middle of them.
    setImmediate(() => { this.drainScheduled = false; this.drain() })
  }

  private drain (): void {
    if (this.writing > 0) return
    const batch = this.queue.splice(0)
    const records: RecordChange[] = []
    const live: RecordChange[] = []
    for (const c of batch) {
      if (!this.revisions.observe(c.key, c.value, c.rev)) continue
      if (c.key.startsWith(LIVE_PREFIX)) live.push(c)
      else if (!c.key.startsWith(CLAIM_PREFIX)) records.push(c)
    }
    if (records.length > 0) this.onRecords(records)
    if (live.length > 0) this.onLive(live)
    const waiters = this.settleWaiters
    this.settleWaiters = []
    for (const w of waiters) w()
  }

  /**
   * Runs `call` with a deadline of at most ATTEMPT_MS, again on a fresh deadline while the overall `timeoutMs`
   * lasts, when the member it went to did not answer: the client's channel to a member that just died waits
   * for it until the deadline, and the next call goes to another member.
   */
  private async withRetry<T> (call: (options: { deadline: number }) => Promise<T>): Promise<T> {
    const end = this.clock.now() + this.o.timeoutMs
    for (;;) {
      const deadline = Math.min(end, this.clock.now() + ATTEMPT_MS)
      try {
        return await call({ deadline })
      } catch (err) {
        if (!noAnswer(err) || this.clock.now() >= end) throw err
        if (this.clock.now() < deadline) await this.clock.sleep(RETRY_PAUSE_MS)
      }
    }
  }

  /** Deletes every record under the prefix (`weft controller migrate --replace`). */
  async deleteAll (): Promise<void> {
    const start = Buffer.from(this.o.prefix)
    await this.client.kv.deleteRange({ key: start, range_end: prefixEnd(start) }, this.deadline())
  }

  async close (): Promise<void> {
    await this.watcher?.cancel().catch(() => {})
    this.watcher = null
    this.client.close()
  }

  private deadline (): { deadline: number } {
    return { deadline: this.clock.now() + this.o.timeoutMs }
  }
}

/** The etcd3 client's options for `o`; throws ConfigError naming a TLS file it cannot read. */
export async function clientOptions (o: EtcdOptions): Promise<IOptions> {
  const options: IOptions = {
    hosts: o.endpoints,
    dialTimeout: o.timeoutMs,
    // A watch whose member went away tries again within a second, not after the client's default of up to 30 s.
    // The client takes the backoff factory (it calls next() on it), whatever its type declaration says.
    faultHandling: { host: () => hostBreaker(), watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }) as unknown as WatchBackoff }
  }
  if (o.caFile === undefined) return options
  const read = async (flag: string, file: string | undefined): Promise<Buffer | undefined> => {
    if (file === undefined) return undefined
    try { return await readFile(file) } catch (err) { throw new ConfigError(`${flag} ${file}: ${(err as Error).message}`) }
  }
  const rootCertificate = (await read('--etcd-ca', o.caFile))!
  const privateKey = await read('--etcd-key', o.keyFile)
  const certChain = await read('--etcd-cert', o.certFile)
  options.credentials = { rootCertificate, ...(privateKey !== undefined ? { privateKey } : {}), ...(certChain !== undefined ? { certChain } : {}) }
  return options
}

/**
 * The client's breaker of one member: after 3 failures in a row, calls skip it for HOST_PAUSE_MS. The client's
 * default of 5 s outlasts an etcd leader election, during which the live members fail calls too: every
 * member's breaker opened when the leader died, and writes failed for 5 s after the cluster had a new leader.
 */
function hostBreaker (): ReturnType<typeof circuitBreaker> {
  return circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: HOST_PAUSE_MS, breaker: new ConsecutiveBreaker(3) })
}

type WatchBackoff = NonNullable<NonNullable<IOptions['faultHandling']>['watchBackoff']>

/** How long the client skips a member whose calls failed, ms. */
const HOST_PAUSE_MS = 500

/** The end of the key range of everything starting with `prefix` (etcd's prefix idiom: the last byte plus one). */
export function prefixEnd (prefix: Buffer): Buffer {
  const end = Buffer.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) { end[i]!++; return end.subarray(0, i + 1) }
  }
  return Buffer.from([0])
}

export function causeOf (err: unknown): string {
  return ((err as Error)?.message ?? String(err)).split('\n')[0]!.slice(0, 200)
}
