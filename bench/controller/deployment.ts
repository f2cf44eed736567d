import { accessSync, constants } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { ConfigError } from '../../lib/errors.js'
import { EtcdCluster } from '../../sim/etcd.js'
import { startController, type ControllerProcess, type ControllerProcessOptions } from './controller-process.js'
import { childPidsUnder } from './procstat.js'

/**
 * What one run measures: one controller on LevelDB, or K controllers serving one prefix of a fresh etcd
 * cluster of M members (docs/store.md, "Several controllers at once"), the later ones started with the
 * first one's controller.key and admin.key.
 */

/** The store of one run and how many controllers serve it. */
export type StoreSetup = { store: 'leveldb' } | { store: 'etcd', controllers: number, members: number }

/** The processes of one run. */
export interface Deployment {
  setup: StoreSetup
  /** Controller 0 first: joins, policy changes and admin calls go through it. */
  controllers: ControllerProcess[]
  /** The etcd cluster; null on LevelDB. */
  etcd: { endpoints: string[], pids: number[], dir: string } | null
  /** Stops every controller, then etcd, and removes etcd's data unless `keep`. Idempotent. */
  stop: () => Promise<void>
}

/** The etcd key prefix the controllers share. */
const PREFIX = '/weft-bench/'

/** A short name for logs and report columns: `leveldb`, `etcd 3c/3m` (3 controllers, 3 members). */
export function storeLabel (s: StoreSetup): string {
  return s.store === 'leveldb' ? 'leveldb' : `etcd ${s.controllers}c/${s.members}m`
}

/** Throws a ConfigError saying what to install unless an `etcd` binary is on PATH (sim/etcd.ts runs it from there). */
export function requireEtcd (): void {
  const found = (process.env.PATH ?? '').split(delimiter).some(dir => {
    try {
      accessSync(join(dir, 'etcd'), constants.X_OK)
      return true
    } catch {
      return false
    }
  })
  if (!found) throw new ConfigError('--etcd-controllers needs an etcd binary on PATH; scripts/ensure-deps.sh installs one to /usr/local/bin')
}

/** Starts the processes of `setup`; `base` shapes every controller (extra arguments, profiles, keep). */
export async function startDeployment (setup: StoreSetup, base: ControllerProcessOptions): Promise<Deployment> {
  if (setup.store === 'leveldb') {
    const ctl = await startController(base)
    return { setup, controllers: [ctl], etcd: null, stop: ctl.stop }
  }
  const dir = await mkdtemp(join(tmpdir(), 'weft-bench-etcd-'))
  let cluster: EtcdCluster | null = null
  const controllers: ControllerProcess[] = []
  let stopped: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopped ??= (async () => {
      await Promise.allSettled(controllers.map(async c => await c.stop()))
      await cluster?.stop()
      if (!base.keep) await rm(dir, { recursive: true, force: true })
    })()
    await stopped
  }
  try {
    cluster = await EtcdCluster.start({ members: setup.members, dir })
    const store = ['--store', 'etcd', '--etcd-endpoints', cluster.endpoints.join(','), '--etcd-prefix', PREFIX]
    for (let k = 0; k < setup.controllers; k++) {
      controllers.push(await startController({ ...base, extraArgs: [...store, ...base.extraArgs], keysFrom: controllers[0]?.dataPath ?? null }))
    }
    return { setup, controllers, etcd: { endpoints: cluster.endpoints, pids: childPidsUnder(dir), dir }, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
