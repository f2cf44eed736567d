/**
 * Several controllers serving one etcd prefix at once, on a real etcd: writes through any of them are
 * transactions against what the others wrote, and each follows the others' writes into its netmap.
 */
import t from 'tap'
import { copyFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { EtcdCluster } from '../../sim/etcd.js'
import { generateKeyPair } from '../../lib/wire/keys.js'
import type { NetmapMessage } from '../../lib/wire/netmap.js'
import { call, joinNode, openStream, registerBody, start, tempDir, token, until, type Stream } from './helpers.js'

const cluster = await EtcdCluster.start({ members: 1, dir: await tempDir(t) })
t.teardown(async () => await cluster.stop())

type Running = Awaited<ReturnType<typeof start>>

/** `n` controllers on etcd prefix `prefix`, sharing the controller and admin keys as docs/controllers-etcd.md says. */
async function controllers (t: Parameters<typeof tempDir>[0], prefix: string, n: number, extra: Record<string, unknown> = {}): Promise<Running[]> {
  const root = await tempDir(t)
  const o = { store: 'etcd' as const, etcdEndpoints: cluster.endpoints, etcdPrefix: prefix, ...extra }
  const first = await start(t, { ...o, dataDir: join(root, 'c0') })
  const out = [first]
  for (let i = 1; i < n; i++) {
    const dir = join(root, `c${i}`)
    await mkdir(dir, { mode: 0o700 })
    for (const f of ['controller.key', 'admin.key']) await copyFile(join(root, 'c0', f), join(dir, f))
    out.push(await start(t, { ...o, dataDir: dir }))
  }
  return out
}

async function nodes (c: Running): Promise<Array<{ id: string, meshIp: string, hostname: string, health: string, connected: boolean }>> {
  return (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes
}

async function register (c: Running, hostname: string, tok: string): Promise<{ status: number, json: any }> {
  return await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, generateKeyPair(), { hostname, token: tok }))
}

/** Reads `s` until a message satisfies `pred`, or fails after `ms`. */
async function seen (s: Stream, pred: (m: NetmapMessage) => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms
  for (;;) {
    const left = end - Date.now()
    if (left <= 0) return false
    try { if (pred(await s.next(left))) return true } catch { return false }
  }
}

t.test('concurrent registrations through three controllers get distinct IPs, and a single-use token admits one node', async (t) => {
  const cs = await controllers(t, '/concurrent/', 3)
  const reusable = await token(cs[0]!, { reusable: true })
  const single = await token(cs[1]!)
  t.ok(await until(async () => (await Promise.all(cs.map(async c => (await call(c.url, 'GET', '/v1/tokens', undefined, c.adminKey)).json.tokens.length)))
    .every(n => n === 2), 5000), 'every controller knows both tokens')
  const burst = cs.flatMap((c, k) => Array.from({ length: 15 }, async (_, i) => await register(c, `r${k}-${i}`, reusable)))
  const spend = cs.map(async (c, k) => await register(c, `s${k}`, single))
  const [done, spent] = await Promise.all([Promise.all(burst), Promise.all(spend)])
  t.same(done.map(r => r.status).filter(s => s !== 200), [], 'every registration with the reusable token is admitted')
  const ips = done.map(r => r.json.meshIp as string)
  t.equal(new Set(ips).size, 45, '45 registrations, 45 addresses')
  t.same(spent.map(r => r.status).sort(), [200, 403, 403], 'the single-use token admits exactly one node')
  t.match(spent.filter(r => r.status === 403).map(r => r.json.code), ['WEFT_ERR_TOKEN_REJECTED', 'WEFT_ERR_TOKEN_REJECTED'])
  const winner = spent.find(r => r.status === 200)!.json.meshIp as string
  t.notOk(ips.includes(winner), 'nor does it share an address')
  for (const c of cs) {
    t.ok(await until(async () => (await nodes(c)).length === 46, 5000), `${c.url} lists all 46 nodes`)
    t.same((await nodes(c)).map(n => n.meshIp).sort(), [...ips, winner].sort())
  }
})

t.test('a change accepted by one controller reaches the daemons of another within a second', async (t) => {
  const [a, b] = await controllers(t, '/follow/', 2)
  const x = await joinNode(a!, 'x')
  t.ok(await until(async () => (await nodes(b!)).some(n => n.id === x.nodeId), 3000), 'b knows x')
  const s = await openStream(b!.url, x.credential)
  t.teardown(() => s.close())
  t.equal(s.status, 200)
  const first = await s.next()
  t.equal(first.type, 'full')
  const started = Date.now()
  const y = await joinNode(a!, 'y')
  t.ok(await seen(s, m => m.type === 'delta' && m.upsert.some(r => r.id === y.nodeId)), 'a registration through a reaches x on b')
  t.ok(Date.now() - started < 1500, `within ${Date.now() - started} ms`)
  await call(a!.url, 'PUT', '/v1/policy', { text: '{ "acls": [ { "action": "accept", "src": ["*"], "dst": ["*:*"] } ] }' }, a!.adminKey)
  t.ok(await seen(s, m => m.type === 'delta' && m.policy?.version === 1), 'a policy set through a reaches x on b')
  const removed = await call(b!.url, 'DELETE', `/v1/nodes/${y.nodeId}`, undefined, b!.adminKey)
  t.equal(removed.status, 204)
  t.ok(await until(async () => !(await nodes(a!)).some(n => n.id === y.nodeId), 3000), 'a removal through b reaches a')
  const hb = await call(a!.url, 'POST', '/v1/heartbeat', { endpoints: [], listenPort: 51820 }, y.credential)
  t.equal(hb.json?.code, 'WEFT_ERR_NODE_REMOVED', 'and a refuses the removed node\'s credential')
})

t.test('a removal through one controller closes the node\'s update channel on another', async (t) => {
  const [a, b] = await controllers(t, '/close/', 2)
  const x = await joinNode(a!, 'x')
  t.ok(await until(async () => (await nodes(b!)).some(n => n.id === x.nodeId), 3000))
  const s = await openStream(b!.url, x.credential)
  t.teardown(() => s.close())
  await s.next()
  await call(a!.url, 'DELETE', `/v1/nodes/${x.nodeId}`, undefined, a!.adminKey)
  t.ok(await s.ended(3000), 'b closed the channel')
})

t.test('a node one controller hears from is online on the others, and stays online when it moves', async (t) => {
  const [a, b] = await controllers(t, '/health/', 2, { heartbeatIntervalMs: 1000, controlStaleMs: 1500, streamGraceMs: 500 })
  const x = await joinNode(a!, 'x')
  const sa = await openStream(a!.url, x.credential)
  await sa.next()
  const beat = async (c: Running): Promise<number> =>
    (await call(c.url, 'POST', '/v1/heartbeat', { endpoints: ['198.18.0.9:51820'], listenPort: 51820 }, x.credential)).status
  t.equal(await beat(a!), 200)
  const onB = async (): Promise<{ health: string, connected: boolean } | undefined> => (await nodes(b!)).find(n => n.id === x.nodeId)
  t.ok(await until(async () => (await onB())?.connected === true, 3000), 'b sees that a holds x')
  t.ok(await until(async () => (await nodes(b!)).find(n => n.id === x.nodeId)?.meshIp !== undefined, 1000))
  // Past controlStaleMs with heartbeats only to a: b still holds it online from a's live key.
  const healths = new Set<string>()
  const end = Date.now() + 2500
  while (Date.now() < end) {
    await beat(a!)
    healths.add((await onB())!.health)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  t.same([...healths], ['online'], 'b holds it online throughout')
  // It moves: its channel to a closes, one to b opens, heartbeats go to b.
  sa.close()
  const sb = await openStream(b!.url, x.credential)
  t.teardown(() => sb.close())
  await sb.next()
  const seenA = new Set<string>()
  const end2 = Date.now() + 3000
  while (Date.now() < end2) {
    await beat(b!)
    seenA.add((await nodes(a!)).find(n => n.id === x.nodeId)!.health)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  t.same([...seenA], ['online'], 'a holds it online while it moves to b')
})

t.test('a node that only heartbeats to one controller, with no update channel yet, is online at the others', async (t) => {
  const [a, b] = await controllers(t, '/beats/', 2, { heartbeatIntervalMs: 1000, controlStaleMs: 1500, streamGraceMs: 500 })
  const x = await joinNode(a!, 'x')
  const healths = new Set<string>()
  const end = Date.now() + 3000
  while (Date.now() < end) {
    t.equal((await call(a!.url, 'POST', '/v1/heartbeat', { endpoints: [], listenPort: 51820 }, x.credential)).status, 200)
    const onB = (await nodes(b!)).find(n => n.id === x.nodeId)
    if (onB !== undefined) healths.add(onB.health)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  t.same([...healths], ['online'], 'b holds it online past --control-stale, as a does')
})

t.test('names are unique across controllers: one hostname registered through three at once, and renames through either', async (t) => {
  const cs = await controllers(t, '/names/', 3)
  const tok = await token(cs[0]!, { reusable: true })
  t.ok(await until(async () => (await Promise.all(cs.map(async c => (await call(c.url, 'GET', '/v1/tokens', undefined, c.adminKey)).json.tokens.length)))
    .every(n => n === 1), 5000), 'every controller knows the token')
  const done = await Promise.all(cs.flatMap(c => Array.from({ length: 4 }, async () => await register(c, 'web', tok))))
  t.same(done.map(r => r.status).filter(s => s !== 200), [])
  const dnsNames = async (c: Running): Promise<string[]> =>
    (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes.map((n: { dnsName: string }) => n.dnsName).sort()
  const want = ['web', ...Array.from({ length: 11 }, (_, i) => `web-${i + 2}`)].map(l => `${l}.weft.internal`).sort()
  // Each controller follows the others' registrations through its etcd watch; on a loaded CI host that lags.
  for (const c of cs) {
    const whole = await until(async () => (await dnsNames(c)).join() === want.join(), 15_000)
    t.ok(whole, `${c.url} lists twelve distinct names${whole ? '' : `: ${(await dnsNames(c)).join(' ')}`}`)
  }

  const [a, b] = [done[0]!.json.nodeId as string, done[5]!.json.nodeId as string]
  t.equal((await call(cs[0]!.url, 'PUT', `/v1/nodes/${a}/name`, { name: 'front' }, cs[0]!.adminKey)).status, 200)
  const onB = async (): Promise<string | undefined> =>
    (await call(cs[1]!.url, 'GET', '/v1/nodes', undefined, cs[1]!.adminKey)).json.nodes.find((n: { id: string }) => n.id === a)?.dnsName
  t.ok(await until(async () => await onB() === 'front.weft.internal', 3000), 'the other controllers follow a rename')
  const clash = await call(cs[1]!.url, 'PUT', `/v1/nodes/${b}/name`, { name: 'front' }, cs[1]!.adminKey)
  t.equal(clash.status, 409, 'a name taken through another controller is refused')
  const race = await Promise.all([
    call(cs[1]!.url, 'PUT', `/v1/nodes/${b}/name`, { name: 'back' }, cs[1]!.adminKey),
    call(cs[2]!.url, 'PUT', `/v1/nodes/${done[9]!.json.nodeId as string}/name`, { name: 'back' }, cs[2]!.adminKey)
  ])
  t.same(race.map(r => r.status).sort(), [200, 409], 'two renames to one name at once through two controllers: one wins')
  const freed = await register(cs[2]!, 'web', tok)
  t.equal(freed.status, 200)
  t.ok(await until(async () => (await dnsNames(cs[0]!)).includes('web.weft.internal'), 3000), 'the renamed node\'s old name is free again')
})
