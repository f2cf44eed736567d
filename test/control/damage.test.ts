import t from 'tap'
import { cp, open, readdir, rm, stat, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { startController } from '../../lib/control/index.js'
import { silentLogger } from '../../lib/log.js'
import { call, captureLog, joinNode, start, tempDir, token } from './helpers.js'

type Node = Awaited<ReturnType<typeof joinNode>>

/** A data dir whose controller registered `n` nodes and was stopped; the records sit in LevelDB's log. */
async function dataDirWith (t: Parameters<typeof tempDir>[0], n: number): Promise<{ dataDir: string, nodes: Node[] }> {
  const dataDir = join(await tempDir(t), 'data')
  const c = await start(t, { dataDir })
  const tok = await token(c, { reusable: true })
  const nodes: Node[] = []
  for (let i = 0; i < n; i++) nodes.push(await joinNode(c, `n${i}`, tok))
  await c.close()
  return { dataDir, nodes }
}

/** The write-ahead log file of the database (the newest `.log`). */
async function walOf (dataDir: string): Promise<string> {
  const db = join(dataDir, 'db')
  const logs = (await readdir(db)).filter(f => f.endsWith('.log')).sort()
  return join(db, logs[logs.length - 1]!)
}

const opts = (dataDir: string): {
  dataDir: string
  listen: string
  log: ReturnType<typeof silentLogger>
} => ({ dataDir, listen: '127.0.0.1:0', log: silentLogger() })
const REFUSAL = { code: 'WEFT_ERR_STORE_BEHIND', message: /[Rr]estore .*db.* from a backup.*--accept-data-loss/s }

/** What a plain start on `dataDir` throws; a start that succeeds is closed and reported as undefined. */
async function startError (dataDir: string): Promise<unknown> {
  const r = await startController(opts(dataDir)).then(c => c, (err: unknown) => ({ err }))
  if ('err' in r) return r.err
  await r.close()
  return undefined
}

const damages: Record<string, (dataDir: string, wal: string) => Promise<void>> = {
  'the log truncated': async (_dir, wal) => { await truncate(wal, Math.floor((await stat(wal)).size * 0.6)) },
  'the log garbled': async (_dir, wal) => {
    const size = (await stat(wal)).size
    const fh = await open(wal, 'r+')
    await fh.write(Buffer.alloc(Math.floor(size / 3), 0x5a), 0, Math.floor(size / 3), Math.floor(size / 2))
    await fh.close()
  },
  'db emptied': async (dir) => { for (const f of await readdir(join(dir, 'db'))) await rm(join(dir, 'db', f)) },
  'db deleted': async (dir) => { await rm(join(dir, 'db'), { recursive: true }) }
}

for (const [name, damage] of Object.entries(damages)) {
  t.test(`${name}: start is refused; --accept-data-loss starts and never re-issues a forgotten IP`, async (t) => {
    const { dataDir, nodes } = await dataDirWith(t, 4)
    await damage(dataDir, await walOf(dataDir).catch(() => ''))
    t.match(await startError(dataDir), REFUSAL, 'a plain start is refused')
    t.match(await startError(dataDir), REFUSAL, 'a second try is refused too (the first did not rewrite anything)')

    const { log, events } = captureLog()
    const c = await start(t, { dataDir, log, acceptDataLoss: true })
    const accepted = events.find(e => e.event === 'store.data_loss_accepted')
    t.ok(accepted, 'store.data_loss_accepted is logged')
    t.ok(accepted !== undefined && accepted.level >= 40, 'at warn level or above')
    t.ok(accepted !== undefined && accepted.nodesLost >= 1 && accepted.nodesBefore === 4, `counts what was lost: ${JSON.stringify(accepted)}`)
    const known = (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes.length
    t.ok(known < 4, `the controller knows ${known} of 4 nodes`)
    const old = new Set(nodes.map(n => n.meshIp))
    const fresh = await joinNode(c, 'fresh', await token(c))
    t.notOk(old.has(fresh.meshIp), `a new node gets ${fresh.meshIp}, none of the forgotten ones`)
    await c.close()

    const again = await start(t, { dataDir })
    const later = await joinNode(again, 'later', await token(again))
    t.notOk(old.has(later.meshIp), 'after a plain restart the forgotten IPs are still not handed out')
  })
}

t.test('a database older than the guard (an old backup restored alone) is refused', async (t) => {
  const { dataDir, nodes } = await dataDirWith(t, 1)
  const backup = join(await tempDir(t), 'db-backup')
  await cp(join(dataDir, 'db'), backup, { recursive: true })
  const c = await start(t, { dataDir })
  const tok = await token(c, { reusable: true })
  const newer = [await joinNode(c, 'b', tok), await joinNode(c, 'c', tok)]
  await c.close()
  await rm(join(dataDir, 'db'), { recursive: true })
  await cp(backup, join(dataDir, 'db'), { recursive: true })
  t.match(await startError(dataDir), REFUSAL, 'a plain start is refused')

  const back = await start(t, { dataDir, acceptDataLoss: true })
  const list = (await call(back.url, 'GET', '/v1/nodes', undefined, back.adminKey)).json.nodes.map((n: { id: string }) => n.id)
  t.same(list, [nodes[0]!.nodeId], 'the backup\'s node is back')
  const fresh = await joinNode(back, 'd', await token(back))
  t.notOk(newer.some(n => n.meshIp === fresh.meshIp), 'nodes registered after the backup keep their IPs reserved')
})

t.test('--accept-data-loss on an intact store changes nothing and says so', async (t) => {
  const { dataDir, nodes } = await dataDirWith(t, 2)
  const { log, events } = captureLog()
  const c = await start(t, { dataDir, log, acceptDataLoss: true })
  t.notOk(events.some(e => e.event === 'store.data_loss_accepted'), 'nothing was lost, so nothing is accepted')
  t.ok(events.some(e => e.event === 'store.accept_data_loss_unused'), 'the flag is reported as unused')
  t.equal((await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes.length, nodes.length)
})
