import t from 'tap'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { ManualClock, systemClock } from '../../lib/clock.js'
import { resolve, type DaemonConfig } from '../../lib/daemon/config.js'
import { ControlClient } from '../../lib/daemon/control-client.js'
import { ensureJoined, register, registerAgain } from '../../lib/daemon/join.js'
import { StateDir, type NodeIdentity } from '../../lib/daemon/state.js'
import { ControllerError, NodeRemovedError } from '../../lib/errors.js'
import { silentLogger } from '../../lib/log.js'
import { generateKeyPair } from '../../lib/wire/keys.js'
import { call, joinNode, start, tempDir, token } from '../control/helpers.js'

const deps = { clock: systemClock, log: silentLogger() }

function config (controllerUrl: string, stateDir: string, joinToken?: string): DaemonConfig {
  return resolve({
    controllerUrls: [controllerUrl],
    stateDir,
    ifname: 'weft-test',
    joinToken,
    endpoints: ['198.18.0.9:51820'],
    hostname: 'node-j'
  })
}

/** A loopback URL where nothing listens: every request to it fails at once. */
async function deadUrl (): Promise<string> {
  const srv = createServer()
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', () => resolve()))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>(resolve => srv.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

t.test('a saved identity is used at once, join token or not, with the controller unreachable', async (t) => {
  const dir = join(await tempDir(t), 'state')
  const state = await StateDir.open(dir, { clock: systemClock })
  const keys = await state.loadOrCreateKey()
  const saved: NodeIdentity = {
    nodeId: 'n0123456789abcdef',
    meshIp: '100.64.0.5',
    cidr: '100.64.0.0/10',
    credential: 'wn_x',
    controllerPublicKey: generateKeyPair().publicKey
  }
  await state.saveIdentity(saved)
  const url = await deadUrl()
  const t0 = Date.now()
  const got = await ensureJoined(config(url, dir, 'wt_token-of-the-service-unit'), new ControlClient(url), state, await state.loadIdentity(), keys, deps)
  t.same(got, saved)
  t.ok(Date.now() - t0 < 1000, `no registration attempted (${Date.now() - t0} ms)`)
})

t.test('a saved identity that records a removal does not start, token or not', async (t) => {
  const dir = join(await tempDir(t), 'state')
  const state = await StateDir.open(dir, { clock: systemClock })
  const keys = await state.loadOrCreateKey()
  await state.saveIdentity({
    nodeId: 'n0123456789abcdef',
    meshIp: '100.64.0.5',
    cidr: '100.64.0.0/10',
    credential: 'wn_x',
    controllerPublicKey: 'k',
    removedAt: 1_700_000_000_000
  })
  const url = await deadUrl()
  const err = await ensureJoined(config(url, dir, 'wt_t'), new ControlClient(url), state, await state.loadIdentity(), keys, deps).catch((e: unknown) => e)
  t.ok(err instanceof NodeRemovedError, 'NodeRemovedError')
  t.match((err as Error).message, /removed from the mesh by an admin at 2023-11-14T22:13:20\.000Z/)
  t.match((err as Error).message, new RegExp(`delete ${join(dir, 'node.json')} and start the daemon with a join token`))
})

t.test('registerAgain: a controller that lost the node registers it again, asking for the saved mesh IP', async (t) => {
  const c = await start(t)
  const tok = await token(c, { reusable: true })
  await joinNode(c, 'other', tok)
  const dir = join(await tempDir(t), 'state')
  const state = await StateDir.open(dir, { clock: systemClock })
  const keys = await state.loadOrCreateKey()
  const saved: NodeIdentity = {
    nodeId: 'n0123456789abcdef',
    meshIp: '100.64.0.99',
    cidr: '100.64.0.0/10',
    credential: 'wn_lost',
    controllerPublicKey: c.publicKey
  }
  await state.saveIdentity(saved)
  const again = await registerAgain(config(c.url, dir, tok), new ControlClient(c.url), state, saved, keys, deps)
  t.not(again.nodeId, saved.nodeId, 'a new node id: the controller had no record of the old one')
  t.match(again.credential, /^wn_/)
  t.not(again.credential, saved.credential)
  t.same(await state.loadIdentity(), again, 'saved before it returns')
  const nodes = (await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes as Array<{
    id: string
    publicKey: string
    meshIp: string
    hostname: string
  }>
  t.match(nodes.find(n => n.id === again.nodeId), { publicKey: keys.publicKey, meshIp: again.meshIp, hostname: 'node-j' })
})

t.test('registerAgain: a removed node is refused with NODE_REMOVED, not registered', async (t) => {
  const c = await start(t)
  const tok = await token(c, { reusable: true })
  const dir = join(await tempDir(t), 'state')
  const state = await StateDir.open(dir, { clock: systemClock })
  const keys = await state.loadOrCreateKey()
  const first = await registerAgain(config(c.url, dir, tok), new ControlClient(c.url), state,
    { nodeId: 'n0000000000000000', meshIp: '100.64.0.1', cidr: '100.64.0.0/10', credential: 'wn_old', controllerPublicKey: c.publicKey }, keys, deps)
  t.equal((await call(c.url, 'DELETE', `/v1/nodes/${first.nodeId}`, undefined, c.adminKey)).status, 204)
  const err = await registerAgain(config(c.url, dir, tok), new ControlClient(c.url), state, first, keys, deps).catch((e: unknown) => e)
  t.ok(err instanceof ControllerError)
  t.equal((err as ControllerError).remoteCode, 'WEFT_ERR_NODE_REMOVED')
  t.equal((await call(c.url, 'GET', '/v1/nodes', undefined, c.adminKey)).json.nodes.length, 0)
})

t.test('a first registration retries on the clock\'s backoff while the controller is unreachable, until aborted', async (t) => {
  const dir = join(await tempDir(t), 'state')
  const state = await StateDir.open(dir, { clock: systemClock })
  const keys = await state.loadOrCreateKey()
  let attempts = 0
  const unreachable = {
    info: async () => { attempts++; throw new Error('connect ECONNREFUSED') }, baseUrl: 'http://127.0.0.1:1', controllers: ['http://127.0.0.1:1'], size: 1, advance: () => false
  } as unknown as ControlClient
  const clock = new ManualClock()
  const ac = new AbortController()
  const outcome = ensureJoined(config('http://127.0.0.1:1', dir, 'wt_t'), unreachable, state, null, keys, { clock, log: silentLogger() }, { signal: ac.signal })
    .then(() => null, (err: unknown) => err)
  await clock.advanceAsync(0)
  t.equal(attempts, 1, 'the first attempt at once')
  // The waits are jittered: read each one off the clock rather than guess it.
  const waitOf = (): number => (clock.nextAt() ?? Infinity) - clock.now()
  const first = waitOf()
  t.ok(first >= 0 && first < 500, `the first wait (${first} ms) within the first backoff ceiling (500 ms)`)
  await clock.advanceAsync(first)
  t.equal(attempts, 2, 'the second attempt when the first wait ends')
  const second = waitOf()
  t.ok(second >= 0 && second < 1000, `the second wait (${second} ms) within the next ceiling (1 s)`)
  await clock.advanceAsync(second)
  t.equal(attempts, 3, 'the third attempt when the second wait ends')
  ac.abort()
  t.match(await outcome, { name: 'AbortError' }, 'an abort ends the retries')
  t.equal(clock.timers, 0, 'no retry left waiting')
  t.equal(attempts, 3)
})

t.test('a controller that speaks another API or registration proof is refused before any registration, saying which', async (t) => {
  const c = await start(t)
  const dir = join(await tempDir(t), 'state')
  const state = await StateDir.open(dir, { clock: systemClock })
  const keys = await state.loadOrCreateKey()
  const real = new ControlClient(c.url)
  const info = await real.info()
  t.match(info.protocols, { api: 'v1', registrationProof: 'weft-register-v2' }, 'a controller says what it speaks')
  let registered = 0
  const newer = {
    baseUrl: c.url,
    info: async () => ({ ...info, protocols: { api: 'v2', registrationProof: 'weft-register-v3', weft: '0.2.0' } }),
    register: async () => { registered++; throw new Error('must not be called') }
  } as unknown as ControlClient
  const params = { keys, hostname: 'node-j', endpoints: ['198.18.0.2:51820'], listenPort: 51820, swimPort: 7946, joinToken: await token(c) }
  await t.rejects(register(newer, state, null, params, deps), {
    code: 'WEFT_ERR_CONTROLLER',
    message: /\(Weft 0\.2\.0\) speaks API v2 \(this node: v1\) and registration proof weft-register-v3 \(this node: weft-register-v2\); this node runs Weft/
  })
  t.equal(registered, 0, 'nothing was sent that the controller would misread')
})
