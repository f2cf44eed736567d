import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { startController } from '../../lib/control/index.js'
import { policySha256 } from '../../lib/control/store.js'
import { silentLogger } from '../../lib/log.js'
import { parseProm, sampleValue } from '../prom-text.js'
import { spawnController } from './child.js'
import { call, captureLog, joinNode, nextUpdate, openStream, start, tempDir } from './helpers.js'

/** A policy that names real nodes (web-1, db-1) and tags, with tests that hold only with the nodes' real tags. */
const POLICY = `{
  // web servers reach the database; ops reach everything over SSH
  "groups": { "group:ops": ["db-1"] },
  "tagOwners": { "tag:web": ["autogroup:admin"], "tag:db": ["autogroup:admin"] },
  "acls": [
    { "action": "accept", "src": ["tag:web"], "dst": ["db-1:5432"] },
    { "action": "accept", "src": ["group:ops"], "dst": ["*:22"] },
  ],
  "tests": [
    { "src": "web-1", "accept": ["db-1:5432"], "deny": ["db-1:22"] },
  ],
}
`

/** 1-based line of the first line of `text` that contains `marker`. */
const lineOf = (text: string, marker: string): number => text.split('\n').findIndex(l => l.includes(marker)) + 1

/** `line:column` of the first `marker` in `text`. */
const at = (text: string, marker: string): string => {
  const line = lineOf(text, marker)
  return `${line}:${text.split('\n')[line - 1]!.indexOf(marker) + 1}`
}

/** A controller with web-1 (tag:web) and db-1 (tag:db) registered; their credentials. */
async function mesh (t: Parameters<typeof start>[0], o: { dataDir?: string, log?: ReturnType<typeof captureLog>['log'] } = {}) {
  const c = await start(t, o)
  const tok = async (tags: string[]): Promise<string> => (await call(c.url, 'POST', '/v1/tokens', { tags }, c.adminKey)).json.token
  const web = await joinNode(c, 'web-1', await tok(['tag:web']))
  const db = await joinNode(c, 'db-1', await tok(['tag:db']))
  return { c, web, db }
}

t.test('without a policy: GET answers 404 saying so, the netmap has none, and a test accepts everything with a note', async (t) => {
  const { c, web } = await mesh(t)
  const get = await call(c.url, 'GET', '/v1/policy', undefined, c.adminKey)
  t.equal(get.status, 404)
  t.match(get.json, { code: 'WEFT_ERR_NOT_FOUND', message: /no access policy has been set: every node reaches every port of every other/ })
  t.notOk('policy' in (await call(c.url, 'GET', '/v1/netmap', undefined, web.credential)).json)
  const q = await call(c.url, 'POST', '/v1/policy/test', { src: 'web-1', dst: 'db-1:22' }, c.adminKey)
  t.equal(q.status, 200)
  t.same(q.json, {
    version: null,
    proto: 'tcp',
    port: 22,
    accept: true,
    flows: [{ src: 'web-1', dst: 'db-1:22', accept: true, rule: null, line: null }],
    note: 'no access policy is set: every flow is accepted'
  })
  t.equal((await call(c.url, 'POST', '/v1/policy/test', { src: 'web-1', dst: 'db-1:22' }, web.credential)).status, 401, 'a node cannot ask')
  t.equal((await call(c.url, 'PUT', '/v1/policy', { text: '{}' }, web.credential)).status, 401, 'a node cannot set the policy')
  t.equal((await call(c.url, 'GET', '/v1/policy', undefined, web.credential)).status, 401)
})

t.test('a policy is checked against the registry, stored as sent, published in the full map and as a delta, audited, and asked', async (t) => {
  const { log, events } = captureLog()
  const { c, web, db } = await mesh(t, { log })
  const stream = await openStream(c.url, db.credential)
  t.teardown(() => stream.close())
  const first = await nextUpdate(stream)
  t.notOk(first.type === 'full' && 'policy' in first.netmap, 'before: no policy in the map')

  const put = await call(c.url, 'PUT', '/v1/policy', { text: POLICY }, c.adminKey)
  t.equal(put.status, 200, JSON.stringify(put.json))
  t.match(put.json, { version: 1, changed: true, sha256: policySha256(POLICY), updatedAt: Number })
  const get = await call(c.url, 'GET', '/v1/policy', undefined, c.adminKey)
  t.same(get.json, { version: 1, text: POLICY, updatedAt: put.json.updatedAt, sha256: policySha256(POLICY) }, 'the text as sent, comments and all')

  let d
  do d = await nextUpdate(stream); while (d.type === 'delta' && d.policy === undefined)
  t.match(d, { type: 'delta', policy: { version: 1, text: POLICY } }, 'daemons get the policy in a delta')
  t.same((await call(c.url, 'GET', '/v1/netmap', undefined, web.credential)).json.policy, { version: 1, text: POLICY }, 'and in the full map')
  t.match(events.filter(e => e.event === 'policy.change'), [{
    by: 'admin', source: '127.0.0.1', from: null, to: 1, sha256: policySha256(POLICY), rules: 2, groups: 1, tags: 2, hosts: 0, tests: 1
  }])

  const ask = async (body: object): Promise<any> => {
    const r = await call(c.url, 'POST', '/v1/policy/test', body, c.adminKey)
    t.equal(r.status, 200, JSON.stringify(r.json))
    return r.json
  }
  const ip = (n: { meshIp: string }): string => n.meshIp
  t.same(await ask({ src: 'web-1', dst: 'db-1:5432' }), {
    version: 1,
    proto: 'tcp',
    port: 5432,
    accept: true,
    flows: [{ src: `web-1 (${ip(web)})`, dst: `db-1 (${ip(db)})`, accept: true, rule: 0, line: lineOf(POLICY, 'tag:web"], "dst"') }]
  }, 'a node name stands for the registry\'s node, with its tags')
  t.match(await ask({ src: web.meshIp, dst: 'db-1:22' }), { accept: false, flows: [{ src: `web-1 (${ip(web)})`, accept: false, rule: null, line: null }] },
    'a mesh IP names its node too')
  t.match(await ask({ src: 'group:ops', dst: 'web-1:22', proto: 'tcp' }),
    { accept: true, flows: [{ src: `db-1 (${ip(db)})`, rule: 1, line: lineOf(POLICY, 'group:ops"], "dst"') }] })
  t.match(await ask({ src: 'tag:web', dst: 'db-1:5432', proto: 'udp' }), { proto: 'udp', accept: true, flows: [{ src: 'tag:web', rule: 0 }] })
  t.match(await ask({ src: '*', dst: 'db-1', proto: 'icmp' }), { proto: 'icmp', port: 0, accept: false })
  for (const [body, why] of [
    [{ src: 'web-2', dst: 'db-1:22' }, /"web-2" is not the hostname or mesh IP of any node/],
    [{ src: 'web-1', dst: 'db-1' }, /destination "db-1" needs one port/],
    [{ src: 'group:dev', dst: 'db-1:22' }, /group:dev is not defined/],
    [{ src: 'web-1', dst: 'db-1:22', proto: 'sctp' }, /proto/]
  ] as const) {
    const r = await call(c.url, 'POST', '/v1/policy/test', body, c.adminKey)
    t.equal(r.status, 400, JSON.stringify(body))
    t.match(r.json.message, why)
  }

  const same = await call(c.url, 'PUT', '/v1/policy', { text: POLICY }, c.adminKey)
  t.same(same.json, { ...put.json, changed: false }, 'the same text again writes nothing and answers the version in force')
  const next = POLICY.replace('"*:22"', '"*:22,2222"')
  const put2 = await call(c.url, 'PUT', '/v1/policy', { text: next }, c.adminKey)
  t.match(put2.json, { version: 2, changed: true })
  t.match(events.filter(e => e.event === 'policy.change').map(e => [e.from, e.to]), [[null, 1], [1, 2]])
  const fam = parseProm(await (await fetch(new URL('/metrics', c.url))).text())
  t.equal(sampleValue(fam, 'weft_policy_version'), 2)
  t.equal(sampleValue(fam, 'weft_policy_changes_total'), 2, 'the repeated text is not a change')
})

t.test('a refused policy leaves the one in force: malformed JSON, an unknown hostname, a test that fails on the real nodes', async (t) => {
  const { log, events } = captureLog()
  const { c, web } = await mesh(t, { log })
  t.equal((await call(c.url, 'PUT', '/v1/policy', { text: POLICY }, c.adminKey)).status, 200)
  const unknownHost = POLICY.replace('"dst": ["db-1:5432"]', '"dst": ["db-2:5432"]')
  const unknownMember = POLICY.replace('["db-1"]', '["db-1", "Web-1"]')
  const failing = POLICY.replace('"deny": ["db-1:22"]', '"deny": ["db-1:5432"]')
  const cases: Array<[string, string, string]> = [
    ['malformed JSON', '{\n  "acls": [\n    { "action": "accept" \n  ]\n}', '4:3: not valid JSON: comma expected'],
    ['unknown hostname', unknownHost, `${at(unknownHost, '"db-2:5432"')}: "db-2" is not the hostname of any node, nor a group, tag or host`],
    ['unknown member', unknownMember,
      `${at(unknownMember, '"Web-1"')}: "Web-1" is not the hostname of any node, nor a group, tag or host ` +
      '(names are matched exactly; a node is called "web-1")'],
    ['failing test', failing,
      `${at(failing, '{ "src": "web-1"')}: test 0 fails: web-1 -> db-1:5432/tcp should be denied, ` +
      `but rule 0 (line ${lineOf(POLICY, 'tag:web"], "dst"')}) accepts it`]
  ]
  for (const [name, text, message] of cases) {
    const r = await call(c.url, 'PUT', '/v1/policy', { text }, c.adminKey)
    t.equal(r.status, 400, name)
    t.same(r.json, { statusCode: 400, code: 'WEFT_ERR_POLICY', error: 'Bad Request', message }, name)
  }
  t.match((await call(c.url, 'GET', '/v1/policy', undefined, c.adminKey)).json, { version: 1, text: POLICY }, 'version 1 is still in force')
  t.same((await call(c.url, 'GET', '/v1/netmap', undefined, web.credential)).json.policy, { version: 1, text: POLICY })
  t.equal(events.filter(e => e.event === 'policy.change').length, 1)
  t.equal(events.filter(e => e.event === 'policy.reject').length, 4, 'each refusal is logged')
  t.equal((await call(c.url, 'PUT', '/v1/policy', { text: POLICY.replace('db-1:5432', 'db-1:5433') }, c.adminKey)).status, 400,
    'with web-1\'s real tags the test no longer holds: refused')
})

t.test('ifVersion is a compare-and-set: a policy that changed since it was read is not overwritten (409)', async (t) => {
  const c = await start(t)
  t.match((await call(c.url, 'PUT', '/v1/policy', { text: '{}', ifVersion: 0 }, c.adminKey)).json, { version: 1 }, '0: only while none is set')
  const stale = await call(c.url, 'PUT', '/v1/policy', { text: '{ }', ifVersion: 0 }, c.adminKey)
  t.equal(stale.status, 409)
  t.match(stale.json, { code: 'WEFT_ERR_CONFLICT', message: /the policy is at version 1, not 0: it changed since it was read/ })
  t.match((await call(c.url, 'PUT', '/v1/policy', { text: '{ }', ifVersion: 1 }, c.adminKey)).json, { version: 2 })
  const raced = await Promise.all([1, 2].map(async i =>
    await call(c.url, 'PUT', '/v1/policy', { text: `{ "hosts": { "h${i}": "192.0.2.${i}" } }`, ifVersion: 2 }, c.adminKey)))
  t.same(raced.map(r => r.status).sort(), [200, 409], 'two sets from the same version: one wins, the other is refused')
  t.equal((await call(c.url, 'GET', '/v1/policy', undefined, c.adminKey)).json.version, 3)
})

t.test('the policy, its version and node tags outlive a restart; the next change counts on', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const { c, web } = await mesh(t, { dataDir })
  await call(c.url, 'PUT', '/v1/policy', { text: '{}' }, c.adminKey)
  const v2 = (await call(c.url, 'PUT', '/v1/policy', { text: POLICY }, c.adminKey)).json
  await c.close()
  const c2 = await start(t, { dataDir })
  t.same((await call(c2.url, 'GET', '/v1/policy', undefined, c2.adminKey)).json, { version: 2, text: POLICY, updatedAt: v2.updatedAt, sha256: v2.sha256 })
  const map = (await call(c2.url, 'GET', '/v1/netmap', undefined, web.credential)).json
  t.same(map.policy, { version: 2, text: POLICY }, 'the new epoch\'s first map carries it')
  t.same(map.nodes.find((n: { hostname: string }) => n.hostname === 'web-1').tags, ['tag:web'])
  t.match((await call(c2.url, 'POST', '/v1/policy/test', { src: 'web-1', dst: 'db-1:5432' }, c2.adminKey)).json, { version: 2, accept: true })
  t.equal(sampleValue(parseProm(await (await fetch(new URL('/metrics', c2.url))).text()), 'weft_policy_version'), 2)
  t.match((await call(c2.url, 'PUT', '/v1/policy', { text: '{}' }, c2.adminKey)).json, { version: 3, changed: true })
})

t.test('a policy record damaged on disk stops the start with a sentence naming it', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const { c } = await mesh(t, { dataDir })
  t.equal((await call(c.url, 'PUT', '/v1/policy', { text: POLICY }, c.adminKey)).status, 200)
  await c.close()
  const db = new Level<string, string>(join(dataDir, 'db'))
  const rec = JSON.parse(await db.get('policy:current') as string)
  await db.put('policy:current', JSON.stringify({ ...rec, text: rec.text.replace('5432', '5433') }))
  await db.close()
  await t.rejects(startController({ dataDir, listen: '127.0.0.1:0', log: silentLogger() }), {
    code: 'WEFT_ERR_DATA_DIR',
    message: /record policy:current in the controller database is damaged: its text does not match its sha256; restore the data directory from a backup/
  })
})

t.test('a document above the 64 KiB body limit of other routes is taken, up to the policy\'s own 1 MiB', async (t) => {
  const c = await start(t)
  const big = `{\n${'  // padding padding padding padding padding padding padding padding padding padding\n'.repeat(2000)}  "acls": []\n}\n`
  t.ok(big.length > 150_000)
  const r = await call(c.url, 'PUT', '/v1/policy', { text: big }, c.adminKey)
  t.equal(r.status, 200, JSON.stringify(r.json).slice(0, 200))
  const huge = await call(c.url, 'PUT', '/v1/policy', { text: ' '.repeat((1 << 20) + 1) }, c.adminKey)
  t.equal(huge.status, 400)
  t.match(huge.json.message, /text must NOT have more than 1048576 characters/)
})

t.test('a channel catching up across a policy change gets the policy in its one merged delta', async (t) => {
  const { c, web } = await mesh(t)
  c.controller.netmap.flush()
  const since = c.controller.netmap.version
  t.equal((await call(c.url, 'PUT', '/v1/policy', { text: POLICY }, c.adminKey)).status, 200)
  c.controller.netmap.flush()
  await joinNode(c, 'late')
  c.controller.netmap.flush()
  const s = await openStream(c.url, web.credential, `?epoch=${c.controller.epoch}&since=${since}`)
  t.teardown(() => s.close())
  t.match(await s.next(), { type: 'delta', from: since, to: c.controller.netmap.version, policy: { version: 1, text: POLICY } })
})

t.test('an acknowledged policy survives kill -9 of the controller, version and all', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const first = await spawnController(t, dataDir)
  const adminKey = (await readFile(join(dataDir, 'admin.key'), 'utf8')).trim()
  const set = await call(first.url, 'PUT', '/v1/policy', { text: '{ "hosts": { "office": "192.0.2.0/24" } }' }, adminKey)
  t.match(set.json, { version: 1, changed: true })
  first.child.kill('SIGKILL')
  await first.exited
  const second = await spawnController(t, dataDir)
  t.match((await call(second.url, 'GET', '/v1/policy', undefined, adminKey)).json, { version: 1, sha256: set.json.sha256 })
  second.child.kill('SIGTERM')
  t.equal(await second.exited, 0)
})

t.test('a stored policy that no longer parses is still served, and said so; a new one replaces it', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const c = await start(t, { dataDir })
  await c.close()
  const text = '{ "acls": [], "future": {} }'
  const db = new Level<string, string>(join(dataDir, 'db'))
  await db.put('policy:current', JSON.stringify({ version: 7, text, updatedAt: 1, sha256: policySha256(text) }))
  await db.close()
  const { log, events } = captureLog()
  const c2 = await start(t, { dataDir, log })
  t.match(events.find(e => e.event === 'policy.unreadable'), { level: 50, version: 7, msg: /does not parse: 1:15: unknown section "future"/ })
  const n = await joinNode(c2, 'n-1')
  t.same((await call(c2.url, 'GET', '/v1/netmap', undefined, n.credential)).json.policy, { version: 7, text }, 'daemons keep getting what they enforce')
  const q = await call(c2.url, 'POST', '/v1/policy/test', { src: '*', dst: 'n-1:22' }, c2.adminKey)
  t.equal(q.status, 400)
  t.match(q.json.message, /the access policy in force \(version 7\) does not parse; set a corrected one/)
  t.match((await call(c2.url, 'PUT', '/v1/policy', { text: '{}' }, c2.adminKey)).json, { version: 8, changed: true })
})
