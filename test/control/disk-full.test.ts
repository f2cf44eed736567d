import t from 'tap'
import { readFile, rm, statfs, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '../../lib/wire/keys.js'
import { spawnController } from './child.js'
import { call, registerBody, token, until } from './helpers.js'
import { mountTmpfs } from './tmpfs.js'

/** Registers one fresh key with `tok`; the answer's status, code and (when 200) the node. */
async function register (url: string, publicKey: string, tok: string): Promise<{
  status: number
  code?: string
  keys: ReturnType<typeof generateKeyPair>
  nodeId?: string
  meshIp?: string
}> {
  const keys = generateKeyPair()
  const r = await call(url, 'POST', '/v1/register', registerBody(publicKey, keys, { token: tok }))
  return { status: r.status, code: r.json?.code, keys, nodeId: r.json?.nodeId, meshIp: r.json?.meshIp }
}

t.test('a full disk: writes are refused with 503 until space returns, and every acknowledged registration survives SIGKILL', async (t) => {
  const mount = await mountTmpfs(t, 2048)
  if ('reason' in mount) {
    t.comment(`skipped: ${mount.reason}`)
    t.plan(0, mount.reason)
    return
  }
  const dataDir = join(mount.dir, 'data')
  const first = await spawnController(t, dataDir, ['--store-retry', '200ms'])
  const adminKey = (await readFile(join(dataDir, 'admin.key'), 'utf8')).trim()
  const info = (await call(first.url, 'GET', '/v1/info')).json
  const tok = await token({ url: first.url, adminKey }, { reusable: true })

  const acked = new Map<string, { nodeId: string, meshIp: string }>()
  for (let i = 0; i < 10; i++) {
    const r = await register(first.url, info.publicKey, tok)
    if (r.status === 200) acked.set(r.keys.publicKey, { nodeId: r.nodeId!, meshIp: r.meshIp! })
  }
  t.equal(acked.size, 10, '10 registrations acknowledged before the disk fills')

  // Fill every free page. What fails first is whichever write needs a new page first: LevelDB's log once
  // its last page is full, or the store guard's temp file.
  const fs = await statfs(mount.dir)
  await writeFile(join(mount.dir, 'filler'), Buffer.alloc(fs.bavail * fs.bsize))
  const refused: Array<{ status: number, code?: string }> = []
  let attempts = 0
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (refused.length < 8 && attempts++ < 5000) {
      const r = await register(first.url, info.publicKey, tok)
      if (r.status === 200) acked.set(r.keys.publicKey, { nodeId: r.nodeId!, meshIp: r.meshIp! })
      else refused.push({ status: r.status, code: r.code })
    }
  }))
  t.ok(refused.length >= 8, 'registrations are refused once the disk is full')
  t.same(refused, refused.map(() => ({ status: 503, code: 'WEFT_ERR_STORE_UNAVAILABLE' })), 'each refusal is a 503 with WEFT_ERR_STORE_UNAVAILABLE')
  const tokWhileFull = await call(first.url, 'POST', '/v1/tokens', {}, adminKey)
  t.equal(tokWhileFull.status, 503, 'an admin write is refused too')

  await rm(join(mount.dir, 'filler'))
  const back = await until(async () => {
    const r = await register(first.url, info.publicKey, tok)
    if (r.status === 200) acked.set(r.keys.publicKey, { nodeId: r.nodeId!, meshIp: r.meshIp! })
    return r.status === 200
  }, 30_000)
  t.ok(back, 'registrations are accepted again once space is back')
  let after = 0
  for (let i = 0; i < 20; i++) {
    const r = await register(first.url, info.publicKey, tok)
    if (r.status === 200) { acked.set(r.keys.publicKey, { nodeId: r.nodeId!, meshIp: r.meshIp! }); after++ }
  }
  t.equal(after, 20, '20 more registrations acknowledged after space returned')

  first.child.kill('SIGKILL')
  await first.exited
  for (const e of first.logs.filter(e => String(e.event).startsWith('store.'))) t.comment(`${String(e.event)} ${String(e.stage ?? '')}: ${String(e.msg)}`)
  const events = first.logs.map(e => e.event)
  t.equal(events.filter(e => e === 'store.error').length, 1, 'the write error is logged once as store.error')
  t.notOk(events.includes('http.error'), 'refused writes are not logged as http.error')
  t.ok(events.includes('store.recovered'), 'the recovery is logged')

  const second = await spawnController(t, dataDir)
  const list = await call(second.url, 'GET', '/v1/nodes', undefined, adminKey)
  t.equal(list.status, 200)
  const byKey = new Map<string, { id: string, meshIp: string }>(list.json.nodes.map((n: { publicKey: string, id: string, meshIp: string }) => [n.publicKey, n]))
  const missing = [...acked].filter(([key, a]) => byKey.get(key)?.id !== a.nodeId || byKey.get(key)?.meshIp !== a.meshIp)
  t.equal(missing.length, 0, `every one of ${acked.size} acknowledged registrations survived with its id and IP`)
  const ips = list.json.nodes.map((n: { meshIp: string }) => n.meshIp)
  t.equal(new Set(ips).size, ips.length, 'no IP is held twice')
  second.child.kill('SIGTERM')
  t.equal(await second.exited, 0)
})
