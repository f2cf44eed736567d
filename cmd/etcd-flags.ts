import type { ControllerConfigInput } from '../lib/control/config.js'
import { parseDuration, splitList } from './cli.js'

/** The flags that say where a controller's store lives (`weft controller`, `weft controller migrate`). */
export const STORE_FLAGS = {
  store: { type: 'string' },
  'etcd-endpoints': { type: 'string' },
  'etcd-prefix': { type: 'string' },
  'etcd-ca': { type: 'string' },
  'etcd-cert': { type: 'string' },
  'etcd-key': { type: 'string' },
  'etcd-timeout': { type: 'string' }
} as const

/** The config fields STORE_FLAGS set; resolve (lib/control/config.ts) checks them. */
export function storeConfig (v: { [K in keyof typeof STORE_FLAGS]?: string }): Partial<ControllerConfigInput> {
  return {
    store: v.store as 'leveldb' | 'etcd' | undefined,
    etcdEndpoints: v['etcd-endpoints'] === undefined ? undefined : splitList(v['etcd-endpoints']),
    etcdPrefix: v['etcd-prefix'],
    etcdCaFile: v['etcd-ca'],
    etcdCertFile: v['etcd-cert'],
    etcdKeyFile: v['etcd-key'],
    etcdTimeoutMs: v['etcd-timeout'] === undefined ? undefined : parseDuration(v['etcd-timeout'], '--etcd-timeout')
  }
}
