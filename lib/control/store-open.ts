import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { ConfigError } from '../errors.js'
import type { ControllerConfig } from './config.js'
import type { DurableStoreBase } from './durable-store.js'
import { LevelStore } from './level-store.js'
import type { StoreOp, StoredState } from './store.js'

/** The database as opened at start, with what the first synced batch must add. */
export interface OpenedStore {
  base: DurableStoreBase
  state: StoredState
  /** High-water mark to continue from. */
  ipHighWater: number
  /** Meta records the first synced batch writes (store id). */
  meta: StoreOp[]
}

/** Opens `DIR/db` and reads it before anything is served or written. */
export async function openStore (config: ControllerConfig): Promise<OpenedStore> {
  const dbDir = join(config.dataDir, 'db')
  const raw = await LevelStore.open(dbDir)
  try {
    const { state, records } = await raw.readAll()
    const meta = state.meta
    const storedCidr = meta.get('cidr')
    if (storedCidr !== undefined && storedCidr !== config.cidr) throw cidrMismatch(storedCidr)
    const storeId = meta.get('storeId') ?? randomBytes(8).toString('hex')
    const metaOps: StoreOp[] = []
    if (meta.get('storeId') !== storeId) metaOps.push({ kind: 'meta', key: 'storeId', value: storeId })
    return {
      base: { raw, storeId, seq: Number(meta.get('seq') ?? 0), records },
      state,
      ipHighWater: Number(meta.get('ipHighWater') ?? 0),
      meta: metaOps
    }
  } catch (err) {
    await raw.close().catch(() => {})
    throw err
  }
}

function cidrMismatch (cidr: string): ConfigError {
  return new ConfigError(`this data directory was created with --cidr ${cidr}; start with that CIDR (changing it would move every node's IP)`)
}
