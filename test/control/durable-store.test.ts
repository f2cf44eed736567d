import t from 'tap'
import { resolve } from '../../lib/control/config.js'
import { storeBackend } from '../../lib/control/store-open.js'
import { mkdir, readdir, rm, rmdir, stat, statfs, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { systemClock } from '../../lib/clock.js'
import { DurableStore, type FailStage } from '../../lib/control/durable-store.js'
import { LevelStore } from '../../lib/control/level-store.js'
import { readGuard } from '../../lib/control/store-guard.js'
import type { StoreOp, StoredNode } from '../../lib/control/store.js'
import { StoreUnavailableError } from '../../lib/errors.js'
import { silentLogger } from '../../lib/log.js'
import { tempDir } from './helpers.js'
import { mountTmpfs } from './tmpfs.js'

const node = (i: number, pad = 0): StoredNode => ({
  id: `n${i}`,
  publicKey: `k${i}`,
  hostname: 'h'.repeat(1 + pad),
  meshIp: `100.64.${i >> 8}.${i & 255}`,
  endpoints: [],
  listenPort: 51820,
  swimPort: 7946,
  credentialHash: 'ab'.repeat(32),
  state: 'active',
  createdAt: 1,
  updatedAt: 1
})

/** A DurableStore on a fresh database in `dataDir`, with the stages of its failures recorded. */
async function openDurable (dataDir: string): Promise<{ store: DurableStore, failures: FailStage[] }> {
  const failures: FailStage[] = []
  const raw = await LevelStore.open(join(dataDir, 'db'))
  const config = resolve({ dataDir })
  const store = new DurableStore({
    ...storeBackend(config, systemClock),
    dataDir,
    cidr: config.cidr,
    clock: systemClock,
    log: silentLogger(),
    ipHighWater: () => 7,
    onError: stage => failures.push(stage)
  }, { raw, storeId: 'test', seq: 0, records: new Map() })
  return { store, failures }
}

/** Ids of the node records a fresh open of `dataDir/db` finds. */
async function nodesOnDisk (dataDir: string): Promise<Set<string>> {
  const raw = await LevelStore.open(join(dataDir, 'db'))
  const state = await raw.load()
  await raw.close()
  return new Set(state.nodes.map(n => n.id))
}

t.test('every synced batch stores its sequence number, and the guard follows it', async (t) => {
  const dataDir = await tempDir(t)
  const { store } = await openDurable(dataDir)
  await store.write([{ kind: 'node', node: node(1) }], { sync: true })
  await store.write([{ kind: 'node', node: node(2) }, { kind: 'node', node: node(1) }], { sync: true })
  await store.write([{ kind: 'del-nonce', nonce: 'x' }], { sync: false })
  t.equal(store.lastSeq, 2)
  t.match(await readGuard(dataDir), { format: 1, storeId: 'test', seq: 2, nodes: 2, ipHighWater: 7, cidr: '100.64.0.0/10' })
  t.equal((await stat(join(dataDir, 'store-guard.json'))).mode & 0o777, 0o600)
  t.same((await store.load()).meta.get('seq'), '2')
  await store.close()
})

t.test('a database write that fails with ENOSPC: later writes are refused, recover() resumes once space is back, nothing acknowledged is lost', async (t) => {
  const mount = await mountTmpfs(t, 2048)
  if ('reason' in mount) {
    t.comment(`skipped: ${mount.reason}`)
    t.plan(0, mount.reason)
    return
  }
  const { store, failures } = await openDurable(mount.dir)
  const acked: string[] = []
  let next = 0
  const batch = (): StoreOp[] => Array.from({ length: 16 }, () => ({ kind: 'node' as const, node: node(next++, 4000) }))
  const write = async (): Promise<unknown> => {
    const ops = batch()
    try {
      await store.write(ops, { sync: true })
      acked.push(...ops.map(o => (o as { node: StoredNode }).node.id))
      return null
    } catch (err) { return err }
  }
  for (let i = 0; i < 3; i++) t.equal(await write(), null, 'writes succeed while there is space')
  // 8 KiB left: the next 64 KiB batch cannot fit in LevelDB's log, and fails there, before any guard write.
  const fs = await statfs(mount.dir)
  await writeFile(join(mount.dir, 'filler'), Buffer.alloc(fs.bavail * fs.bsize - 8192))
  const failed = await write()
  t.type(failed, StoreUnavailableError, 'the failing write is answered with StoreUnavailableError')
  t.same(failures, ['write'], 'it failed in the database write')
  t.equal(store.phase, 'failed')
  await rm(join(mount.dir, 'filler'))
  t.type(await write(), StoreUnavailableError, 'with space back but no recovery yet, writes are still refused')
  t.match(String((await write() as Error).message), /refuses writes.*No space left on device/, 'the refusal says why')

  t.equal(await store.recover(), 'healthy', 'recover() reopens, verifies and resumes')
  const after = acked.length
  for (let i = 0; i < 3; i++) t.equal(await write(), null, 'writes succeed again')
  t.equal(acked.length, after + 48)
  await store.close()
  const onDisk = await nodesOnDisk(mount.dir)
  t.same(acked.filter(id => !onDisk.has(id)), [], `all ${acked.length} acknowledged records are on disk after a reopen`)
  t.equal((await readGuard(mount.dir))?.seq, 6, 'the guard counts the six acknowledged batches')
})

t.test('a guard write that fails after a durable batch acknowledges that batch and refuses the next', async (t) => {
  const dataDir = await tempDir(t)
  const { store, failures } = await openDurable(dataDir)
  await store.write([{ kind: 'node', node: node(1) }], { sync: true })
  // A directory where the guard's temp file goes makes the guard write fail (EISDIR) with the database fine.
  const tmp = join(dataDir, `store-guard.json.tmp-${process.pid}`)
  await mkdir(tmp)
  await store.write([{ kind: 'node', node: node(2) }], { sync: true })
  t.same(failures, ['guard'])
  await t.rejects(store.write([{ kind: 'node', node: node(3) }], { sync: true }), StoreUnavailableError)
  t.equal(await store.recover(), 'failed', 'recover() cannot resume while the guard cannot be written')
  await rmdir(tmp)
  t.equal(await store.recover(), 'healthy')
  t.equal((await readGuard(dataDir))?.seq, 2, 'the guard now covers the batch acknowledged while it could not be written')
  await store.write([{ kind: 'node', node: node(4) }], { sync: true })
  await store.close()
  t.same([...await nodesOnDisk(dataDir)].sort(), ['n1', 'n2', 'n4'])
})

t.test('recover() on a database that lost acknowledged records keeps refusing and says lost', async (t) => {
  const dataDir = await tempDir(t)
  const { store } = await openDurable(dataDir)
  for (let i = 0; i < 5; i++) await store.write([{ kind: 'node', node: node(i) }], { sync: true })
  await mkdir(join(dataDir, `store-guard.json.tmp-${process.pid}`))
  await store.write([{ kind: 'node', node: node(9) }], { sync: true })
  const db = join(dataDir, 'db')
  const wal = (await readdir(db)).filter(f => f.endsWith('.log')).sort().pop()!
  await truncate(join(db, wal), 0)
  t.equal(await store.recover(), 'lost')
  await t.rejects(store.write([{ kind: 'node', node: node(10) }], { sync: true }), { code: 'WEFT_ERR_STORE_UNAVAILABLE', message: /lost acknowledged writes/ })
  await store.close()
})
