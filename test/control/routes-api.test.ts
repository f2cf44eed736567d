import t from 'tap'
import { join } from 'node:path'
import { call, captureLog, joinNode, nextUpdate, openStream, registerBody, start, tempDir } from './helpers.js'

const adv = (routes: string[], exitNode = false, priority = 0): { routes: string[], exitNode: boolean, priority: number } => ({ routes, exitNode, priority })

t.test('an advertised route reaches the netmap only once approved, as a delta, and stays across a restart', async (t) => {
  const { log, events } = captureLog()
  const dataDir = join(await tempDir(t), 'data')
  const c = await start(t, { log, dataDir })
  const router = await joinNode(c, 'router')
  const client = await joinNode(c, 'client')
  const stream = await openStream(c.url, client.credential)
  t.teardown(() => stream.close())
  await stream.next()

  const put = await call(c.url, 'PUT', '/v1/node/routes', adv(['192.0.2.0/24'], true, 7), router.credential)
  t.equal(put.status, 200)
  t.same(put.json, { advertised: ['192.0.2.0/24'], approved: [], enabled: [], exitNode: { advertised: true, approved: false }, priority: 7 })
  let snap = (await call(c.url, 'GET', '/v1/netmap', undefined, client.credential)).json
  t.notOk('routes' in snap.nodes.find((n: any) => n.id === router.nodeId), 'not approved: not in the netmap')

  const approved = await call(c.url, 'POST', `/v1/nodes/${router.nodeId}/routes`, { approve: ['192.0.2.0/24', 'exit'] }, c.adminKey)
  t.equal(approved.status, 200)
  t.same(approved.json.routing.enabled, ['192.0.2.0/24'])
  let delta: any
  do delta = await nextUpdate(stream); while (delta.type === 'delta' && !delta.upsert.some((n: any) => n.id === router.nodeId && n.routes !== undefined))
  t.match(delta, { type: 'delta', upsert: [{ id: router.nodeId, routes: ['192.0.2.0/24'], exitNode: true, routePriority: 7 }] }, 'daemons get it as a delta')
  t.match(events.find(e => e.event === 'routes.change' && e.by === 'admin'), { nodeId: router.nodeId, to: { enabled: ['192.0.2.0/24'] } })

  const list = (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes
  t.match(list.find((n: any) => n.id === router.nodeId),
    { routing: { advertised: ['192.0.2.0/24'], approved: ['192.0.2.0/24'], exitNode: { advertised: true, approved: true } } })

  await c.close()
  const again = await start(t, { dataDir })
  const re = await call(again.url, 'POST', '/v1/heartbeat', { endpoints: [], listenPort: 51820 }, client.credential)
  t.equal(re.status, 200)
  snap = (await call(again.url, 'GET', '/v1/netmap', undefined, client.credential)).json
  t.match(snap.nodes.find((n: any) => n.id === router.nodeId), { routes: ['192.0.2.0/24'], exitNode: true, routePriority: 7 },
    'after a restart, before the router says anything, its routes are in the netmap')
})

t.test('an advertisement that changes nothing writes nothing; bad input is refused with the reason', async (t) => {
  const { log, events } = captureLog()
  const c = await start(t, { log, autoApproveRoutes: ['198.51.100.0/24'] })
  const r = await joinNode(c, 'router')
  const first = await call(c.url, 'PUT', '/v1/node/routes', adv(['198.51.100.0/25']), r.credential)
  t.same(first.json.enabled, ['198.51.100.0/25'], 'inside --auto-approve-routes: enabled at once')
  await call(c.url, 'PUT', '/v1/node/routes', adv(['198.51.100.0/25']), r.credential)
  t.equal(events.filter(e => e.event === 'routes.change').length, 1, 'the repeated advertisement changed nothing')

  const cases: Array<[unknown, RegExp]> = [
    [adv(['192.0.2.1/24']), /host bits set/],
    [adv(['100.64.0.0/16']), /overlaps the mesh range/],
    [{ routes: ['192.0.2.0/24'], exitNode: 'yes', priority: 0 }, /exitNode/],
    [{ routes: ['192.0.2.0/24'], exitNode: false, priority: 5000 }, /priority/],
    [{ routes: ['192.0.2.0/24'] }, /required/]
  ]
  for (const [body, why] of cases) {
    const res = await call(c.url, 'PUT', '/v1/node/routes', body, r.credential)
    t.equal(res.status, 400, JSON.stringify(body))
    t.match(res.json, { code: 'WEFT_ERR_INVALID_INPUT', message: why })
  }
  t.equal((await call(c.url, 'PUT', '/v1/node/routes', adv([]), 'wn_nope')).status, 401, 'a node credential is needed')
  t.equal((await call(c.url, 'POST', `/v1/nodes/${r.nodeId}/routes`, { approve: ['192.0.2.0/24'] }, r.credential)).status, 401, 'approval needs the admin key')
  t.equal((await call(c.url, 'POST', '/v1/nodes/n0000000000000000/routes', { approve: ['192.0.2.0/24'] }, c.adminKey)).status, 404)
  t.match((await call(c.url, 'POST', `/v1/nodes/${r.nodeId}/routes`, { approve: ['203.0.113.1/24'] }, c.adminKey)).json, { code: 'WEFT_ERR_INVALID_INPUT', message: /host bits set/ })
})

t.test('a registration racing an advertisement does not write back the record without it', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const c = await start(t, { dataDir })
  const r = await joinNode(c, 'router')
  for (let k = 0; k < 20; k++) {
    const route = `198.51.100.${k * 8}/29`
    // The daemon does this at every start: its update channel opens (advertisement) while it registers again.
    const [put, reg] = await Promise.all([
      call(c.url, 'PUT', '/v1/node/routes', adv([route]), r.credential),
      call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, r.keys, { hostname: 'router' }), r.credential)
    ])
    t.equal(put.status, 200)
    t.equal(reg.status, 200)
    const n = (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes.find((x: any) => x.id === r.nodeId)
    if (n.routing.advertised[0] !== route) { t.fail(`round ${k}: the registration wrote back the record without ${route}`); break }
  }
  await c.close()
  const again = await start(t, { dataDir })
  const n = (await call(again.url, 'GET', '/v1/nodes', undefined, again.adminKey)).json.nodes.find((x: any) => x.id === r.nodeId)
  t.same(n.routing.advertised, ['198.51.100.152/29'], 'the last advertisement is what the store holds')
})
