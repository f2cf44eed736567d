/**
 * The store backends the store tests run against, each with a fresh, empty store per test: LevelDB in a temp
 * directory, and etcd under a prefix of its own in one real single-member cluster (sim/etcd.ts) per test file.
 */
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Etcd3 } from 'etcd3'
import { Level } from 'level'
import { systemClock } from '../../lib/clock.js'
import { EtcdStore } from '../../lib/control/etcd-store.js'
import { LevelStore } from '../../lib/control/level-store.js'
import type { RawStore } from '../../lib/control/store.js'
import { EtcdCluster } from '../../sim/etcd.js'
import { tempDir } from './helpers.js'

interface T { teardown (fn: () => unknown): void }

/** A fresh store of one backend: `open` it (again, after a close), or `seed` a raw record while it is closed. */
export interface FreshStore {
  open (): Promise<RawStore>
  seed (key: string, value: string): Promise<void>
}

export interface Backend { name: string, fresh (t: T): Promise<FreshStore> }

export const leveldb: Backend = {
  name: 'leveldb',
  async fresh (t) {
    const dir = join(await tempDir(t), 'db')
    return {
      open: async () => await LevelStore.open(dir),
      seed: async (key, value) => { const db = new Level<string, string>(dir); await db.put(key, value); await db.close() }
    }
  }
}

/** The etcd backend, on a cluster started now and stopped when `t` ends. */
export async function etcdBackend (t: T): Promise<Backend & { cluster: EtcdCluster }> {
  const cluster = await EtcdCluster.start({ members: 1, dir: await tempDir(t) })
  t.teardown(async () => await cluster.stop())
  return {
    name: 'etcd',
    cluster,
    async fresh () {
      const prefix = `/weft-test-${randomBytes(4).toString('hex')}/`
      return {
        open: async () => await EtcdStore.open({ endpoints: cluster.endpoints, prefix, timeoutMs: 5000 }, systemClock),
        seed: async (key, value) => { const c = new Etcd3({ hosts: cluster.endpoints }); await c.put(prefix + key).value(value); c.close() }
      }
    }
  }
}
