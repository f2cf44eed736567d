import t from 'tap'
import { generateKeyPair } from '../../lib/wire/keys.js'
import { call, registerBody, start, token } from './helpers.js'

t.test('1000 concurrent registrations get 1000 distinct IPs in far fewer synced batches', async (t) => {
  const c = await start(t, { registerRatePerMin: 0 })
  const tok = await token(c, { reusable: true })
  const batchesBefore = c.controller.commit.batches
  const bodies = Array.from({ length: 1000 }, (_, i) => registerBody(c.publicKey, generateKeyPair(), { hostname: `n${i}`, token: tok }))
  const t0 = performance.now()
  const results = await Promise.all(bodies.map(async b => await call(c.url, 'POST', '/v1/register', b)))
  const ms = performance.now() - t0
  t.comment(`1000 concurrent registrations (client in the same process) took ${ms.toFixed(0)} ms`)
  const bad = results.filter(r => r.status !== 200)
  t.equal(bad.length, 0, `all succeed (first failure: ${JSON.stringify(bad[0]?.json)})`)
  const ips = new Set(results.map(r => r.json.meshIp))
  const ids = new Set(results.map(r => r.json.nodeId))
  t.equal(ips.size, 1000, 'distinct IPs')
  t.equal(ids.size, 1000, 'distinct node ids')
  const batches = c.controller.commit.batches - batchesBefore
  t.ok(batches < 1000, `group commit: ${batches} synced batches for 1000 registrations`)
  t.comment(`synced batches for 1000 concurrent registrations: ${batches}`)
  const nm = await call(c.url, 'GET', '/v1/netmap', undefined, results[0]!.json.credential)
  t.equal(nm.json.nodes.length, 1000)
})

t.test('concurrent registrations of the same key yield one node', async (t) => {
  const c = await start(t, { registerRatePerMin: 0 })
  const tok = await token(c, { reusable: true })
  const keys = generateKeyPair()
  const register = async (): Promise<Awaited<ReturnType<typeof call>>> =>
    await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, keys, { token: tok }))
  const results = await Promise.all(Array.from({ length: 20 }, register))
  t.ok(results.every(r => r.status === 200))
  t.equal(new Set(results.map(r => r.json.nodeId)).size, 1)
  t.equal(new Set(results.map(r => r.json.meshIp)).size, 1)
})

t.test('a single-use token raced by 20 registrations admits exactly one', async (t) => {
  const c = await start(t, { registerRatePerMin: 0 })
  const tok = await token(c)
  const register = async (): Promise<Awaited<ReturnType<typeof call>>> =>
    await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, generateKeyPair(), { token: tok }))
  const results = await Promise.all(Array.from({ length: 20 }, register))
  t.equal(results.filter(r => r.status === 200).length, 1)
  t.equal(results.filter(r => r.status === 403).length, 19)
})
