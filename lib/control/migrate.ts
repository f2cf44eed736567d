/**
 * `weft controller migrate`: copies a LevelDB controller's store into etcd (docs/controllers-etcd.md). The
 * LevelDB store is opened as a controller would open it, store guard included, so a database that lost
 * acknowledged writes is not copied. The etcd prefix must be empty (or emptied, with
 * `replace`). A `meta:migrating` record goes first and is removed with the last batch, so a controller never
 * starts on half a copy; the copy is then read back and compared record by record.
 */
import type { Clock } from '../clock.js'
import { ConfigError, DataDirError } from '../errors.js'
import type { Logger } from '../log.js'
import { resolve } from './config.js'
import { EtcdStore, type EtcdOptions } from './etcd-store.js'
import { readGuard } from './store-guard.js'
import { MIGRATING, openStore } from './store-open.js'
import { recordOps } from './store-records.js'
import type { StoreOp } from './store.js'

/** What was copied. */
export interface Migration { nodes: number, tokens: number, policyVersion: number | null, records: number, storeId: string }

export async function migrateToEtcd (o: { fromDataDir: string, target: EtcdOptions, replace: boolean, clock: Clock, log: Logger }): Promise<Migration> {
  const guard = await readGuard(o.fromDataDir)
  const config = resolve({ dataDir: o.fromDataDir, ...(guard !== null ? { cidr: guard.cidr } : {}) })
  const source = await openStore(config, { clock: o.clock, log: o.log })
  try {
    const { state } = source
    if (state.meta.get('cidr') === undefined) throw new ConfigError(`${o.fromDataDir} holds no controller store to migrate`)
    const target = await EtcdStore.open(o.target, o.clock)
    try {
      const found = await target.readAll()
      if (found.state.meta.size > 0 || found.records.size > 0) {
        if (!o.replace) {
          throw new ConfigError(`etcd prefix ${o.target.prefix} already holds a store (${found.state.nodes.length} nodes); ` +
            'migrate into another --etcd-prefix, or pass --replace to overwrite it')
        }
        await target.deleteAll()
      }
      const storeId = source.base.storeId
      const meta = new Map(state.meta)
      for (const op of source.meta) if (op.kind === 'meta') meta.set(op.key, op.value)
      meta.set('storeId', storeId)
      const records = recordOps(state)
      const metaOps: StoreOp[] = [...meta].map(([key, value]) => ({ kind: 'meta', key, value }))
      await target.write([{ kind: 'meta', key: MIGRATING, value: storeId }])
      const per = target.maxOps
      for (let i = 0; i < records.length; i += per) await target.write(records.slice(i, i + per))
      for (let i = 0; i < metaOps.length; i += per) await target.write(metaOps.slice(i, i + per))
      await target.write([{ kind: 'del-meta', key: MIGRATING }])
      const copy = await target.readAll()
      const lost = [...source.base.records].filter(([key, digest]) => copy.records.get(key) !== digest).map(([key]) => key)
      if (lost.length > 0 || copy.state.meta.has(MIGRATING)) {
        throw new DataDirError(`the copy in etcd differs from ${o.fromDataDir} in ${lost.length} records (${lost.slice(0, 3).join(', ')}); ` +
          'run the migration again with --replace')
      }
      const policyVersion = state.policy?.version ?? null
      return { nodes: state.nodes.length, tokens: state.tokens.length, policyVersion, records: records.length + metaOps.length, storeId }
    } finally {
      await target.close()
    }
  } finally {
    await source.base.raw.close()
  }
}
