import { systemClock } from '../lib/clock.js'
import { formatDuration as d } from '../lib/config-check.js'
import { DEFAULTS, resolve } from '../lib/control/config.js'
import { migrateToEtcd } from '../lib/control/migrate.js'
import { etcdOptions } from '../lib/control/store-open.js'
import { ConfigError } from '../lib/errors.js'
import { createLogger } from '../lib/log.js'
import { parseFlags, type Command } from './cli.js'
import { STORE_FLAGS, storeConfig } from './etcd-flags.js'

const USAGE = `Usage: weft controller migrate --from-data DIR --store etcd --etcd-endpoints URL[,URL...] [flags]

Copies the store of a stopped LevelDB controller (DIR/db) into etcd, checked against its store guard first
and read back after. Then start each controller with --store etcd and the same --etcd-* flags, with
DIR/controller.key and DIR/admin.key copied into its data directory (docs/controllers-etcd.md).

  --from-data DIR         the LevelDB controller's data directory (stopped: LevelDB allows one process)
  --store etcd            where to copy it (the only target)
  --etcd-endpoints URLS   the etcd members' client URLs, comma-separated
  --etcd-prefix PREFIX    key prefix to copy under (default ${DEFAULTS.etcdPrefix}); it must hold no store
  --etcd-ca FILE          PEM CA of the etcd members, for https:// endpoints
  --etcd-cert FILE        PEM client certificate for etcd (with --etcd-key)
  --etcd-key FILE         PEM client key for etcd
  --etcd-timeout DUR      deadline of one etcd request (default ${d(DEFAULTS.etcdTimeoutMs)})
  --replace               delete what the prefix holds first (a migration that did not finish, say)
`

/** `weft controller migrate`: prints what was copied; exits 1 (with the reason) when nothing usable was. */
export const migrate: Command = {
  summary: 'copy a LevelDB controller store into etcd',
  async run (argv) {
    const p = parseFlags(argv, {
      'from-data': { type: 'string' },
      ...STORE_FLAGS,
      replace: { type: 'boolean' }
    }, USAGE)
    if (p === null) return 0
    const v = p.values
    if (v['from-data'] === undefined) throw new ConfigError(`--from-data DIR is required\n\n${USAGE}`)
    if (v.store !== 'etcd') throw new ConfigError(`--store etcd is required: etcd is the only store to migrate to\n\n${USAGE}`)
    // The target's flags are checked as a controller on etcd would check them.
    const target = resolve({ ...storeConfig(v), dataDir: v['from-data'] })
    const log = createLogger({ level: 'warn', name: 'weft-controller' })
    const o = etcdOptions(target)
    const m = await migrateToEtcd({ fromDataDir: v['from-data'], target: o, replace: v.replace === true, clock: systemClock, log })
    const policy = m.policyVersion === null ? 'no access policy' : `access policy v${m.policyVersion}`
    const prefix = o.prefix === DEFAULTS.etcdPrefix ? '' : ` --etcd-prefix ${o.prefix}`
    process.stdout.write(`migrated ${m.nodes} nodes, ${m.tokens} tokens, ${policy} (${m.records} records, store ${m.storeId}) ` +
      `from ${v['from-data']} to etcd prefix ${o.prefix} at ${o.endpoints.join(', ')}\n` +
      `next: start each controller with --store etcd --etcd-endpoints ${o.endpoints.join(',')}${prefix}, ` +
      `with ${v['from-data']}/controller.key and admin.key copied into its --data directory\n`)
    return 0
  }
}
