import t from 'tap'
import { ControlClient } from '../../lib/daemon/control-client.js'
import { call, joinNode, start } from '../control/helpers.js'

t.test('leave: the controller answers 204 with no body, and the client takes it as done', async (t) => {
  const c = await start(t)
  const n = await joinNode(c, 'leaver')
  const client = new ControlClient(c.url)
  await t.resolves(client.leave(n.credential), 'a 204 is a success')
  const list = await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)
  t.equal(list.json.nodes.find((x: { id: string }) => x.id === n.nodeId)?.health, 'left', 'the controller recorded the leave')
})

t.test('every node route answers what the client expects of it', async (t) => {
  const c = await start(t)
  const n = await joinNode(c, 'n1')
  const client = new ControlClient(c.url)
  t.match(await client.info(), { publicKey: c.publicKey })
  t.match(await client.heartbeat(n.credential, { endpoints: [], listenPort: 51820 }), { epoch: String, version: Number })
  await t.resolves(client.leave(n.credential))
  await t.rejects(client.heartbeat('wn_nope', { endpoints: [], listenPort: 51820 }), {
    code: 'WEFT_ERR_CONTROLLER',
    statusCode: 401,
    remoteCode: 'WEFT_ERR_UNAUTHORIZED'
  })
})
