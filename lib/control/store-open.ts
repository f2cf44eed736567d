import { randomBytes } from 'node:crypto'
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import type { Clock } from '../clock.js'
import { ConfigError, DataDirError, StoreBehindError } from '../errors.js'
import type { Logger } from '../log.js'
import type { ControllerConfig } from './config.js'
import type { DurableStoreBase, DurableStoreDeps } from './durable-store.js'
import { EtcdStore, type EtcdOptions } from './etcd-store.js'
import { LevelStore } from './level-store.js'
import { droppedBytes, recoveryWarnings } from './leveldb-log.js'
import { checkStart, type Loss } from './store-check.js'
import { GUARD_FILE, readGuard, writeGuard } from './store-guard.js'
import type { StoreOp, StoredState } from './store.js'

/** The database as opened at start, with what the first synced batch must add and what was accepted. */
export interface OpenedStore {
  base: DurableStoreBase
  state: StoredState
  /** High-water mark to continue from: the larger of the database's and the guard's. */
  ipHighWater: number
  /** Orphaned addresses (up to `upTo`, until `until`), from an accepted loss now or before; null when none. */
  orphans: { upTo: number, until: number } | null
  /** Meta records the first synced batch writes (store id, orphaned addresses). */
  meta: StoreOp[]
  /** The loss accepted with --accept-data-loss, for the controller to log with what it reserved. */
  accepted: { why: string, loss: Loss } | null
  /** On etcd: the store shared with the other controllers, to follow their writes (EtcdStore.follow). */
  etcd: EtcdStore | null
}

/** What openStore needs besides the config. */
export interface OpenStoreDeps {
  clock: Clock
  log: Logger
}

/**
 * Opens `DIR/db` and checks it against `DIR/store-guard.json` before anything is served or written.
 * Refuses (StoreBehindError, saying what to do) a database that lost acknowledged writes unless
 * `config.acceptDataLoss`; says loudly when LevelDB dropped data while opening; writes the first guard of a
 * new data directory, and a guard for a database that has none.
 */
export async function openStore (config: ControllerConfig, deps: OpenStoreDeps): Promise<OpenedStore> {
  if (config.store === 'etcd') return await openEtcd(config, deps)
  const dbDir = join(config.dataDir, 'db')
  const guard = await readGuard(config.dataDir)
  if (guard !== null && guard.cidr !== config.cidr) throw cidrMismatch(guard.cidr)
  const controllerKeyExists = await access(join(config.dataDir, 'controller.key')).then(() => true, () => false)
  const raw = await LevelStore.open(dbDir)
  try {
    const drops = await recoveryWarnings(dbDir)
    const { state, records } = await raw.readAll()
    const meta = state.meta
    const storedCidr = meta.get('cidr')
    if (storedCidr !== undefined && storedCidr !== config.cidr) throw cidrMismatch(storedCidr)
    const db = {
      storeId: meta.get('storeId'),
      seq: Number(meta.get('seq') ?? 0),
      nodes: state.nodes.length,
      empty: state.nodes.length === 0 && state.tokens.length === 0 && state.nonces.length === 0 && meta.size === 0
    }
    if (drops.length > 0) {
      deps.log.error({ event: 'store.log_dropped', bytes: droppedBytes(drops), leveldb: drops },
        `LevelDB dropped ${droppedBytes(drops)} bytes of its write-ahead log while opening ${dbDir} (its account is in db/LOG); checking the database ` +
        'against the store guard')
    }
    const verdict = checkStart({ guard, db, controllerKeyExists, drops })
    let storeId = db.storeId ?? guard?.storeId ?? randomBytes(8).toString('hex')
    let seq = db.seq
    let orphans = storedOrphans(meta)
    let accepted: OpenedStore['accepted'] = null
    switch (verdict.kind) {
      case 'first-start':
        // Written before controller.key exists, so that a directory with a key but no database and no guard
        // is known to have lost its database.
        await writeGuard(config.dataDir, { format: 1, storeId, seq: 0, nodes: 0, ipHighWater: 0, cidr: config.cidr, writtenAt: deps.clock.now() })
        break
      case 'intact':
        break
      case 'unguarded':
        await writeGuard(config.dataDir, {
          format: 1,
          storeId,
          seq,
          nodes: db.nodes,
          ipHighWater: Number(meta.get('ipHighWater') ?? 0),
          cidr: config.cidr,
          writtenAt: deps.clock.now()
        })
        deps.log.warn({ event: 'store.guard_created', seq, nodes: db.nodes },
          `${join(config.dataDir, GUARD_FILE)} was missing; wrote it from the database, which this start could not check for losses`)
        break
      case 'behind': {
        if (!config.acceptDataLoss) {
          throw new StoreBehindError(`the database in ${dbDir} is behind what this controller acknowledged: ${verdict.why}. ` +
            `Restore ${dbDir} from a backup (keep ${join(config.dataDir, GUARD_FILE)}: it is what detects the loss), or start once with --accept-data-loss ` +
            'to serve what the database holds (forgotten nodes must join again with a token; their mesh IPs stay reserved)')
        }
        storeId = db.storeId ?? storeId
        seq = Math.max(db.seq, guard?.seq ?? 0)
        const upTo = Math.max(guard?.ipHighWater ?? 0, orphans?.upTo ?? 0)
        orphans = { upTo, until: Math.max(deps.clock.now() + config.ipQuarantineMs, orphans?.until ?? 0) }
        accepted = { why: verdict.why, loss: verdict.loss }
        break
      }
      default: { const never: never = verdict; throw new Error(`unknown verdict ${String(never)}`) }
    }
    if (config.acceptDataLoss && accepted === null) {
      deps.log.warn({ event: 'store.accept_data_loss_unused' }, '--accept-data-loss is set but the database lost nothing; remove the flag, or a future ' +
        'loss is accepted without anyone looking')
    }
    const metaOps: StoreOp[] = []
    if (db.storeId !== storeId) metaOps.push({ kind: 'meta', key: 'storeId', value: storeId })
    if (accepted !== null && orphans !== null) {
      metaOps.push({ kind: 'meta', key: 'ipOrphanedUpTo', value: String(orphans.upTo) }, { kind: 'meta', key: 'ipOrphanedUntil', value: String(orphans.until) })
    }
    return {
      base: { raw, storeId, seq, records },
      state,
      ipHighWater: Math.max(Number(meta.get('ipHighWater') ?? 0), guard?.ipHighWater ?? 0),
      orphans,
      meta: metaOps,
      accepted,
      etcd: null
    }
  } catch (err) {
    await raw.close().catch(() => {})
    throw err
  }
}

/** What DurableStore needs of the backend `config` names: how to reopen it, whether it is shared, what to tell the operator. */
export function storeBackend (config: ControllerConfig, clock: Clock): Pick<DurableStoreDeps, 'shared' | 'reopen' | 'reopenNotes' | 'remedy'> {
  if (config.store === 'etcd') {
    const o = etcdOptions(config)
    const remedy = `bring a quorum of the etcd members at ${o.endpoints.join(', ')} back`
    return { shared: true, reopen: async () => await EtcdStore.open(o, clock), remedy }
  }
  const dbDir = join(config.dataDir, 'db')
  return {
    reopen: async () => await LevelStore.open(dbDir),
    reopenNotes: async () => await recoveryWarnings(dbDir),
    remedy: `free space or fix the disk under ${config.dataDir}`
  }
}

/** The etcd flags of `config` as EtcdStore takes them. */
export function etcdOptions (config: ControllerConfig): EtcdOptions {
  return {
    endpoints: config.etcdEndpoints,
    prefix: config.etcdPrefix,
    timeoutMs: config.etcdTimeoutMs,
    ...(config.etcdCaFile !== undefined ? { caFile: config.etcdCaFile } : {}),
    ...(config.etcdCertFile !== undefined ? { certFile: config.etcdCertFile } : {}),
    ...(config.etcdKeyFile !== undefined ? { keyFile: config.etcdKeyFile } : {})
  }
}

/**
 * Opens the etcd store, shared with every other controller of the mesh (etcd-store.ts). No guard file: etcd
 * replicates every write to a quorum before it answers, and no one controller's disk could say what the
 * shared store must hold. The mesh CIDR it was created with is checked as in a data directory.
 */
async function openEtcd (config: ControllerConfig, deps: OpenStoreDeps): Promise<OpenedStore> {
  const raw = await EtcdStore.open(etcdOptions(config), deps.clock)
  try {
    const { state, records } = await raw.readAll()
    const meta = state.meta
    if (meta.has(MIGRATING)) {
      throw new DataDirError(`a migration into etcd prefix ${config.etcdPrefix} did not finish; run \`weft controller migrate\` again with --replace`)
    }
    const storedCidr = meta.get('cidr')
    if (storedCidr !== undefined && storedCidr !== config.cidr) throw cidrMismatch(storedCidr)
    const storeId = meta.get('storeId') ?? randomBytes(8).toString('hex')
    return {
      base: { raw, storeId, seq: 0, records },
      state,
      ipHighWater: Number(meta.get('ipHighWater') ?? 0),
      orphans: storedOrphans(meta),
      meta: meta.has('storeId') ? [] : [{ kind: 'meta', key: 'storeId', value: storeId }],
      accepted: null,
      etcd: raw
    }
  } catch (err) {
    await raw.close().catch(() => {})
    throw err
  }
}

/** The meta record a migration into etcd writes first and removes last (migrate.ts): while it is there, no controller starts. */
export const MIGRATING = 'migrating'

function cidrMismatch (cidr: string): ConfigError {
  return new ConfigError(`this data directory was created with --cidr ${cidr}; start with that CIDR (changing it would move every node's IP)`)
}

/** The orphaned range recorded by an earlier accepted loss, if any. */
function storedOrphans (meta: Map<string, string>): { upTo: number, until: number } | null {
  const upTo = Number(meta.get('ipOrphanedUpTo') ?? 0)
  const until = Number(meta.get('ipOrphanedUntil') ?? 0)
  return upTo > 0 ? { upTo, until } : null
}
