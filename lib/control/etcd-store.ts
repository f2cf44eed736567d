/**
 * ControlStore on etcd v3 (docs/store.md, "etcd"): the records of store-records.ts under a key prefix
 * (`/weft/node:n1...`), one etcd transaction per write, so a batch is all-or-nothing, and durable on a quorum
 * of members when it resolves (etcd has no unsynced write: `sync` changes nothing). Reads and writes carry a
 * deadline, so a cluster without quorum fails them rather than holding them forever. The client's own retry of
 * a request that did not reach a member is harmless: a write only puts and deletes whole records.
 */
import { readFile } from 'node:fs/promises'
import { Etcd3, type IOptions } from 'etcd3'
import type { Clock } from '../clock.js'
import { ConfigError, StoreUnavailableError } from '../errors.js'
import type { ControlStore, StoreOp, StoredState } from './store.js'
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

/**
 * Deadline of one attempt of a request: well above an answer from a live member (milliseconds), and short
 * enough that a request that went to a member that just died is sent again to another within about a second.
 */
const ATTEMPT_MS = 1000

/** Whether `err` says the member gave no answer (gRPC DEADLINE_EXCEEDED or UNAVAILABLE), rather than refusing the request. */
function noAnswer (err: unknown): boolean {
  const e = err as { code?: unknown, message?: unknown }
  return e.code === 4 || e.code === 14 || /DEADLINE_EXCEEDED|UNAVAILABLE/.test(String(e.message))
}

/** Most operations in one transaction; etcd refuses more (its `--max-txn-ops` default). */
export const ETCD_MAX_TXN_OPS = 128

export class EtcdStore implements ControlStore {
  readonly maxOps = ETCD_MAX_TXN_OPS

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

  async load (): Promise<StoredState> {
    return (await this.readAll()).state
  }

  /** Every record under the prefix, parsed, with the digests DurableStore compares after a failure. */
  async readAll (): Promise<{ state: StoredState, records: Map<string, string> }> {
    const start = Buffer.from(this.o.prefix)
    const range = async (options: { deadline: number }): Promise<Awaited<ReturnType<Etcd3['kv']['range']>>> =>
      await this.client.kv.range({ key: start, range_end: prefixEnd(start) }, options)
    const res = await this.withRetry(range).catch((err: unknown) => {
      throw new StoreUnavailableError(`cannot read etcd at ${this.o.endpoints.join(', ')}: ${causeOf(err)}`, { cause: err })
    })
    const reader = new RecordReader()
    for (const kv of res.kvs) reader.add(kv.key.toString('utf8').slice(this.o.prefix.length), kv.value.toString('utf8'))
    return { state: reader.state, records: reader.records }
  }

  /**
   * One transaction. etcd refuses a transaction that names a key twice, while a group commit may carry two
   * writes of one record (a registration and a route change of the same node): the last write of each key is
   * kept, which is what applying the batch in order leaves.
   */
  async write (ops: StoreOp[]): Promise<void> {
    if (ops.length === 0) return
    const last = new Map<string, RecordWrite>()
    for (const op of ops) {
      const w = recordWrite(op)
      last.delete(w.key)
      last.set(w.key, w)
    }
    if (last.size > ETCD_MAX_TXN_OPS) throw new StoreUnavailableError(`one write of ${last.size} records; etcd takes at most ${ETCD_MAX_TXN_OPS}`)
    const success = [...last.values()].map(w => {
      const key = Buffer.from(this.o.prefix + w.key)
      return w.type === 'put' ? { request_put: { key, value: Buffer.from(w.value) } } : { request_delete_range: { key } }
    })
    await this.withRetry(async options => await this.client.kv.txn({ success }, options))
  }

  /**
   * Runs `call` with a deadline of at most ATTEMPT_MS, again on a fresh deadline while the overall `timeoutMs`
   * lasts, when the member it went to did not answer: the client's channel to a member that just died waits
   * for it until the deadline, and the next call goes to another member. A write that timed out may have been
   * applied; applying it again changes nothing, since it only puts and deletes whole records.
   */
  private async withRetry<T> (call: (options: { deadline: number }) => Promise<T>): Promise<T> {
    const end = this.clock.now() + this.o.timeoutMs
    for (;;) {
      const deadline = Math.min(end, this.clock.now() + ATTEMPT_MS)
      try {
        return await call({ deadline })
      } catch (err) {
        if (!noAnswer(err) || this.clock.now() >= end) throw err
      }
    }
  }

  /** Deletes every record under the prefix (`weft controller migrate --replace`). */
  async deleteAll (): Promise<void> {
    const start = Buffer.from(this.o.prefix)
    await this.client.kv.deleteRange({ key: start, range_end: prefixEnd(start) }, this.deadline())
  }

  async close (): Promise<void> {
    this.client.close()
  }

  private deadline (): { deadline: number } {
    return { deadline: this.clock.now() + this.o.timeoutMs }
  }
}

/** The etcd3 client's options for `o`; throws ConfigError naming a TLS file it cannot read. */
export async function clientOptions (o: EtcdOptions): Promise<IOptions> {
  const options: IOptions = { hosts: o.endpoints, dialTimeout: o.timeoutMs }
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

/** The end of the key range of everything starting with `prefix` (etcd's prefix idiom: the last byte plus one). */
function prefixEnd (prefix: Buffer): Buffer {
  const end = Buffer.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) { end[i]!++; return end.subarray(0, i + 1) }
  }
  return Buffer.from([0])
}

export function causeOf (err: unknown): string {
  return ((err as Error)?.message ?? String(err)).split('\n')[0]!.slice(0, 200)
}
