import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '../../lib/wire/keys.js'
import { spawnController } from './child.js'
import { call, registerBody, tempDir, token } from './helpers.js'

t.test('SIGKILL mid-burst loses no acknowledged registration and duplicates no IP', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const first = await spawnController(t, dataDir)
  const adminKey = (await readFile(join(dataDir, 'admin.key'), 'utf8')).trim()
  const info = (await call(first.url, 'GET', '/v1/info')).json
  const tok = await token({ url: first.url, adminKey }, { reusable: true })

  const acked = new Map<string, { nodeId: string, meshIp: string }>()
  let killed = false
  let attempted = 0
  // Signed up front, so the burst is limited by the controller and many requests are in flight at the kill.
  const pending = Array.from({ length: 800 }, (_, i) => {
    const keys = generateKeyPair()
    return { keys, body: registerBody(info.publicKey, keys, { hostname: `h${i}`, token: tok }) }
  })
  const worker = async (): Promise<void> => {
    // eslint-disable-next-line no-unmodified-loop-condition -- the kill, in another task, sets killed
    for (let job = pending.pop(); job !== undefined && !killed; job = pending.pop()) {
      const { keys, body } = job
      attempted++
      try {
        const r = await call(first.url, 'POST', '/v1/register', body)
        if (r.status === 200) acked.set(keys.publicKey, { nodeId: r.json.nodeId, meshIp: r.json.meshIp })
      } catch { /* the controller died under this request: not acknowledged */ }
    }
  }
  const workers = Array.from({ length: 32 }, worker)
  const deadline = Date.now() + 30_000
  while (acked.size < 300 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
  first.child.kill('SIGKILL')
  killed = true
  await Promise.all(workers)
  await first.exited
  t.ok(acked.size >= 300, `${acked.size} registrations acknowledged before the kill (${attempted} attempted)`)

  const second = await spawnController(t, dataDir)
  const list = await call(second.url, 'GET', '/v1/nodes', undefined, adminKey)
  t.equal(list.status, 200)
  const byKey = new Map<string, { id: string, meshIp: string }>(list.json.nodes.map((n: { publicKey: string, id: string, meshIp: string }) => [n.publicKey, n]))
  let missing = 0
  let moved = 0
  for (const [key, a] of acked) {
    const n = byKey.get(key)
    if (n === undefined) missing++
    else if (n.id !== a.nodeId || n.meshIp !== a.meshIp) moved++
  }
  t.equal(missing, 0, 'every acknowledged registration survived')
  t.equal(moved, 0, 'with the same node id and IP')
  const ips = list.json.nodes.map((n: { meshIp: string }) => n.meshIp)
  t.equal(new Set(ips).size, ips.length, `no IP held twice among ${ips.length} nodes`)
  t.ok(ips.length <= attempted, 'no phantom nodes')
  second.child.kill('SIGTERM')
  t.equal(await second.exited, 0, 'SIGTERM stops the controller cleanly')
})
