import t from 'tap'
import { join } from 'node:path'
import { call, joinNode, openStream, registerBody, start, tempDir, token } from './helpers.js'

const beat = { endpoints: [], listenPort: 51820 }

t.test('a removed node is told so (403 NODE_REMOVED) on every node route; a credential never issued gets 401', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  let c = await start(t, { dataDir })
  const gone = await joinNode(c, 'gone')
  const stays = await joinNode(c, 'stays')
  t.equal((await call(c.url, 'DELETE', `/v1/nodes/${gone.nodeId}`, undefined, c.adminKey)).status, 204)
  const check = async (label: string): Promise<void> => {
    for (const [method, path, body] of [['POST', '/v1/heartbeat', beat], ['GET', '/v1/netmap', undefined], ['POST', '/v1/leave', {}]] as const) {
      const r = await call(c.url, method, path, body, gone.credential)
      t.equal(r.status, 403, `${label}: ${method} ${path} -> 403`)
      t.equal(r.json.code, 'WEFT_ERR_NODE_REMOVED', `${label}: ${method} ${path} says removed`)
      t.match(r.json.message, new RegExp(`${gone.nodeId} was removed by an admin`))
    }
    const s = await openStream(c.url, gone.credential)
    s.close()
    t.equal(s.status, 403, `${label}: the update channel -> 403`)
    const unknown = await call(c.url, 'POST', '/v1/heartbeat', beat, 'wn_' + 'z'.repeat(43))
    t.equal(unknown.status, 401, `${label}: a credential the controller never issued -> 401`)
    t.equal(unknown.json.code, 'WEFT_ERR_UNAUTHORIZED')
    const r = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, gone.keys, {}), gone.credential)
    t.equal(r.json.code, 'WEFT_ERR_NODE_REMOVED', `${label}: re-registering with the removed credential`)
    t.equal((await call(c.url, 'POST', '/v1/heartbeat', beat, stays.credential)).status, 200, `${label}: the other node is unaffected`)
  }
  await check('at once')
  await c.close()
  c = await start(t, { dataDir })
  await check('after a restart')
})

t.test('a removed key registering again from fresh state with a token comes back as a new node', async (t) => {
  const c = await start(t)
  const tok = await token(c, { reusable: true })
  const a = await joinNode(c, 'a', tok)
  t.equal((await call(c.url, 'DELETE', `/v1/nodes/${a.nodeId}`, undefined, c.adminKey)).status, 204)
  const back = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, a.keys, { token: tok }))
  t.equal(back.status, 200)
  t.not(back.json.nodeId, a.nodeId)
  t.equal((await call(c.url, 'POST', '/v1/heartbeat', beat, back.json.credential)).status, 200, 'its new credential works')
  t.equal((await call(c.url, 'POST', '/v1/heartbeat', beat, a.credential)).json.code, 'WEFT_ERR_NODE_REMOVED', 'the old one still says removed')
})
