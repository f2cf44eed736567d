import t from 'tap'
import { execFile } from 'node:child_process'
import { copyFile, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ANNOUNCE_VERSION } from '../../lib/daemon/announce-codec.js'
import { WIRE_VERSION } from '../../lib/swim/codec.js'
import { PROOF_VERSION } from '../../lib/wire/proof.js'
import { generateKeyPair } from '../../lib/wire/keys.js'
import { call, joinNode, registerBody, start, tempDir } from './helpers.js'

const run = promisify(execFile)
const WEFT = join(process.cwd(), 'dist/cmd/weft.js')

/** Runs the CLI; `env` entries add to this process's environment, an undefined one removes the variable. */
async function weft (args: string[], env: Record<string, string | undefined> = {}, cwd?: string): Promise<{ code: number, stdout: string, stderr: string }> {
  const merged = Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([, v]) => v !== undefined)) as Record<string, string>
  try {
    const r = await run(process.execPath, [WEFT, ...args], { env: merged, ...(cwd !== undefined ? { cwd } : {}) })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code: number, stdout: string, stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

t.test('token create prints a bare token that registers a node; nodes list and remove work', async (t) => {
  const c = await start(t)
  const admin = ['--controller', c.url, '--admin-key', c.adminKeyFile]
  const tok = await weft(['token', 'create', ...admin])
  t.equal(tok.code, 0, tok.stderr)
  t.match(tok.stdout, /^wt_[A-Za-z0-9_-]{43}\n$/)
  const n = await joinNode(c, 'cli-node', tok.stdout.trim())

  const json = await weft(['token', 'create', '--reusable', '--ttl', '1h', '--json'], { WEFT_CONTROLLER: c.url, WEFT_ADMIN_KEY_FILE: c.adminKeyFile })
  t.equal(json.code, 0, 'env fallbacks for --controller and --admin-key')
  t.match(JSON.parse(json.stdout), { token: /^wt_/, reusable: true, expiresAt: Number })

  const table = await weft(['nodes', 'list', ...admin])
  t.equal(table.code, 0)
  t.match(table.stdout, /^HOSTNAME\s+NAME\s+ID\s+MESH IP\s+HEALTH\s+LAST SEEN\s+EXPIRES\s+VERSION\s+ADVERTISED\s+OBSERVED\s+ROUTES\s+TAGS\s+REASON\n/)
  t.match(table.stdout, new RegExp(`cli-node\\s+cli-node\\.weft\\.internal\\s+${n.nodeId}\\s+${n.meshIp.replace(/\./g, '\\.')}\\s+online\\s+\\S+ ` +
    'ago\\s+-\\s+-\\s+198\\.18\\.0\\.2:51820\\s+127\\.0\\.0\\.1:51820\\s+\\S'))

  const list = await weft(['nodes', 'list', '--json', ...admin])
  t.same(JSON.parse(list.stdout).nodes.map((x: { id: string }) => x.id), [n.nodeId])

  const rm = await weft(['nodes', 'remove', n.nodeId, ...admin])
  t.equal(rm.code, 0)
  t.equal(rm.stdout, `removed cli-node (${n.nodeId}, ${n.meshIp}): its credential no longer works and ${n.meshIp} is quarantined\n`)
  const again = await weft(['nodes', 'remove', n.nodeId, ...admin])
  t.equal(again.code, 1)
  t.match(again.stderr, /no node has the id, mesh IP, hostname or name .*WEFT_ERR_NOT_FOUND/)
})

t.test('nodes list orders rows by hostname (ids are random), in the table and in --json', async (t) => {
  const c = await start(t)
  const admin = ['--controller', c.url, '--admin-key', c.adminKeyFile]
  const names = ['echo', 'delta', 'charlie', 'bravo', 'alpha', 'foxtrot']
  for (const h of names) await joinNode(c, h)
  const table = await weft(['nodes', 'list', ...admin])
  t.same(table.stdout.trim().split('\n').slice(1).map(l => l.split(/\s+/)[0]), [...names].sort())
  const json = JSON.parse((await weft(['nodes', 'list', '--json', ...admin])).stdout) as { nodes: Array<{ hostname: string }> }
  t.same(json.nodes.map(n => n.hostname), [...names].sort())
})

t.test('admin commands fail clearly on a wrong key or a bad flag; --help works everywhere', async (t) => {
  const c = await start(t)
  const bad = await weft(['nodes', 'list', '--controller', c.url, '--admin-key', '/dev/null'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /admin key file \/dev\/null is empty/)
  const flag = await weft(['token', 'create', '--ttl', 'soon', '--controller', c.url, '--admin-key', c.adminKeyFile])
  t.equal(flag.code, 2)
  t.match(flag.stderr, /--ttl must be a duration/)
  for (const cmd of ['controller', 'token', 'nodes']) {
    const h = await weft([cmd, '--help'])
    t.equal(h.code, 0, `${cmd} --help`)
    t.match(h.stdout, /^Usage: weft /)
  }
  const noData = await weft(['controller'])
  t.equal(noData.code, 2)
  t.match(noData.stderr, /--data DIR is required/)
})

t.test('a controller URL without a scheme is a sentence, not a stack trace, for every command', async (t) => {
  const c = await start(t)
  for (const args of [['nodes', 'list'], ['nodes', 'remove', 'n1'], ['token', 'create']]) {
    const r = await weft([...args, '--controller', '198.18.0.1:8443', '--admin-key', c.adminKeyFile])
    t.equal(r.code, 2, args.join(' '))
    t.equal(r.stderr, 'weft: --controller "198.18.0.1:8443" has no scheme: write https://198.18.0.1:8443 if the controller serves TLS (--tls-cert), ' +
      'or http://198.18.0.1:8443 if it does not (WEFT_ERR_CONFIG)\n', args.join(' '))
  }
  const env = await weft(['nodes', 'list', '--admin-key', c.adminKeyFile], { WEFT_CONTROLLER: 'localhost:8080' })
  t.match(env.stderr, /^weft: --controller "localhost:8080" has no scheme/, 'WEFT_CONTROLLER is checked the same way')
  const daemon = await weft(['daemon', '--controller', '198.18.0.1:8443', '--interface', 'weft0', '--state', await tempDir(t)])
  t.equal(daemon.code, 2)
  t.match(daemon.stderr, /^weft: --controller "198\.18\.0\.1:8443" has no scheme/, 'the daemon too')
})

t.test('admin commands have no default key file: they say where the key is instead of reading ./admin.key', async (t) => {
  const c = await start(t)
  const cwd = await tempDir(t)
  await copyFile(c.adminKeyFile, join(cwd, 'admin.key'))
  const env = { WEFT_ADMIN_KEY_FILE: undefined }
  const r = await weft(['nodes', 'list', '--controller', c.url], env, cwd)
  t.equal(r.code, 2)
  t.equal(r.stderr, 'weft: no admin key: pass --admin-key FILE or set WEFT_ADMIN_KEY_FILE=FILE. The controller writes the key to DATA/admin.key ' +
    '(mode 0600) at its first start, DATA being its --data directory; copy it to this machine by a secure channel if needed (WEFT_ERR_CONFIG)\n')
  t.equal((await weft(['nodes', 'list', '--controller', c.url, '--admin-key', 'admin.key'], env, cwd)).code, 0, 'named explicitly, the same file works')
  const help = await weft(['nodes', '--help'])
  t.match(
    help.stdout,
    /--admin-key FILE\s+file holding the admin key: the controller writes it to DATA\/admin\.key at its first start\n\s+\(env WEFT_ADMIN_KEY_FILE; required\)/
  )
})

t.test('weft version and weft --version print the Weft, protocol and Node.js versions', async (t) => {
  const pkg = JSON.parse(await readFile(join(process.cwd(), 'package.json'), 'utf8')) as { version: string }
  const want = `weft ${pkg.version}
  controller API         v1
  SWIM wire              ${WIRE_VERSION}
  underlay announcement  ${ANNOUNCE_VERSION}
  registration proof     ${PROOF_VERSION}
  Node.js                ${process.version}
`
  for (const args of [['version'], ['--version'], ['-V']]) {
    const r = await weft(args)
    t.equal(r.code, 0, args.join(' '))
    t.equal(r.stdout, want, args.join(' '))
  }
  const json = await weft(['version', '--json'])
  t.same(JSON.parse(json.stdout), {
    weft: pkg.version,
    api: 'v1',
    swimWire: WIRE_VERSION,
    underlayAnnouncement: ANNOUNCE_VERSION,
    registrationProof: PROOF_VERSION,
    node: process.version
  })
  t.match((await weft(['--help'])).stdout, /\n {2}version +print the Weft, protocol and Node\.js versions\n/)
})

t.test('token create shows the id; token list shows state, uses and description, never the token; token revoke stops it at once', async (t) => {
  const c = await start(t)
  const admin = ['--controller', c.url, '--admin-key', c.adminKeyFile]
  const made = await weft(['token', 'create', '--reusable', '--ttl', '90d', '--description', 'web fleet rollout', '--node-ttl', '30d', ...admin])
  t.equal(made.code, 0, made.stderr)
  t.match(made.stdout, /^wt_[A-Za-z0-9_-]{43}\n$/, 'stdout is still the bare token')
  const m = /^token (t[0-9a-f]{12}) created: reusable, expires in 90d; nodes it admits expire 30d after joining\. Revoke it with `weft token revoke (t[0-9a-f]{12})`\n$/.exec(made.stderr)
  t.ok(m !== null && m[1] === m[2], `stderr names the id: ${made.stderr}`)
  const id = m![1]!
  const secret = made.stdout.trim()
  const n = await joinNode(c, 'web-1', secret)
  const single = JSON.parse((await weft(['token', 'create', '--json', ...admin])).stdout) as { token: string, id: string }
  t.match(single, { id: /^t[0-9a-f]{12}$/, description: null, nodeTtlMs: null })

  const table = await weft(['token', 'list', ...admin])
  t.equal(table.code, 0, table.stderr)
  const [head, ...rows] = table.stdout.trimEnd().split('\n')
  t.match(head, /^ID\s+STATE\s+KIND\s+USES\s+CREATED\s+EXPIRES\s+LAST USED\s+NODE TTL\s+TAGS\s+DESCRIPTION$/)
  t.match(rows.find(r => r.startsWith(id)),
    new RegExp(`^${id}\\s+active\\s+reusable\\s+1\\s+\\d+s ago\\s+in 90d\\s+\\d+s ago\\s+30d\\s+-\\s+web fleet rollout$`))
  t.match(rows.find(r => r.startsWith(single.id)), new RegExp(`^${single.id}\\s+active\\s+single-use\\s+0\\s+\\d+s ago\\s+in 24h\\s+-\\s+-\\s+-\\s+-$`))
  t.notOk(table.stdout.includes(secret) || table.stdout.includes(single.token), 'no token in the table')
  const json = JSON.parse((await weft(['token', 'list', '--json', ...admin])).stdout) as { tokens: Array<{ id: string }> }
  t.same(new Set(json.tokens.map(x => x.id)), new Set([id, single.id]))
  t.match((JSON.parse((await weft(['nodes', 'list', '--json', ...admin])).stdout) as { nodes: unknown[] }).nodes, [{
    id: n.nodeId,
    tokenId: id,
    expiresAt: Number
  }])
  t.match((await weft(['nodes', 'list', ...admin])).stdout, /web-1\s+\S+\s+\S+\s+\S+\s+online\s+\d+s ago\s+in 30d\s/, 'nodes list shows when it expires')

  const rev = await weft(['token', 'revoke', id, ...admin])
  t.equal(rev.code, 0, rev.stderr)
  t.match(rev.stdout, new RegExp(`^revoked ${id} \\(web fleet rollout\\) at \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z: reusable, 1 use\\. Nodes it admitted stay in ` +
    'the mesh \\(weft nodes remove NODE\\)\\n$'))
  const refused = await call(c.url, 'POST', '/v1/register', registerBody(c.publicKey, generateKeyPair(), { token: secret }))
  t.equal(refused.json.code, 'WEFT_ERR_TOKEN_REVOKED', 'the token is refused at once')
  t.match((await weft(['token', 'list', ...admin])).stdout, new RegExp(`${id}\\s+revoked\\s+reusable\\s+1\\s`))

  const bySecret = await weft(['token', 'revoke', single.token, '--json', ...admin])
  t.equal(bySecret.code, 0, 'a leaked token itself is taken')
  t.match(JSON.parse(bySecret.stdout), { id: single.id, state: 'revoked', uses: 0 })
  const bad = await weft(['token', 'revoke', 'web', ...admin])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /"web" is not a token id: ids are t and 12 hex digits/)
  const unknown = await weft(['token', 'revoke', 't0123456789ab', ...admin])
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /HTTP 404: no join token with id t0123456789ab/)
  const misplaced = await weft(['token', 'list', '--ttl', '1h', ...admin])
  t.equal(misplaced.code, 2)
  t.match(misplaced.stderr, /--reusable, --ttl, --description, --node-ttl, --tag and --viewer belong to `weft token create`/)
})

t.test('nodes remove takes an id, a mesh IP or a hostname; a hostname that fits several nodes is refused with the candidates', async (t) => {
  const c = await start(t)
  const admin = ['--controller', c.url, '--admin-key', c.adminKeyFile]
  const [w1, w2, db] = [await joinNode(c, 'web'), await joinNode(c, 'web'), await joinNode(c, 'db-1')]
  const ids = async (): Promise<string[]> => (JSON.parse((await weft([
    'nodes',
    'list',
    '--json',
    ...admin
  ])).stdout) as { nodes: Array<{ id: string }> }).nodes.map(n => n.id).sort()

  const amb = await weft(['nodes', 'remove', 'web', ...admin])
  t.equal(amb.code, 1)
  t.equal(amb.stdout, '')
  const lines = amb.stderr.trimEnd().split('\n')
  t.equal(lines[0], 'weft: "web" names 2 nodes; name one by its id, mesh IP or DNS name (WEFT_ERR_AMBIGUOUS_NODE)')
  t.match(lines[1], /^ {2}ID\s+MESH IP\s+HOSTNAME\s+NAME\s+HEALTH\s+LAST SEEN$/)
  t.same(lines.slice(2).map(l => l.trim().split(/\s+/).slice(0, 5)).sort(), [
    [w1.nodeId, w1.meshIp, 'web', 'web.weft.internal', 'online'],
    [w2.nodeId, w2.meshIp, 'web', 'web-2.weft.internal', 'online']
  ].sort())
  t.match(lines[2], /\d+s ago$/)
  t.equal(lines.length, 4)
  t.same(await ids(), [w1.nodeId, w2.nodeId, db.nodeId].sort(), 'nothing was removed')

  const byIp = await weft(['nodes', 'remove', w1.meshIp, ...admin])
  t.equal(byIp.code, 0, byIp.stderr)
  t.equal(byIp.stdout, `removed web (${w1.nodeId}, ${w1.meshIp}): its credential no longer works and ${w1.meshIp} is quarantined\n`)
  const byName = await weft(['nodes', 'remove', 'web', '--json', ...admin])
  t.equal(byName.code, 0, 'one exact match needs no confirmation')
  t.same(JSON.parse(byName.stdout), { removed: w2.nodeId, hostname: 'web', meshIp: w2.meshIp })
  const caseless = await weft(['nodes', 'remove', 'DB-1', ...admin])
  t.equal(caseless.stdout, `removed db-1 (${db.nodeId}, ${db.meshIp}): its credential no longer works and ${db.meshIp} is quarantined\n`)
  t.same(await ids(), [])
  const none = await weft(['nodes', 'remove', 'web', ...admin])
  t.equal(none.code, 1)
  t.equal(none.stderr, 'weft: no node has the id, mesh IP, hostname or name "web" (`weft nodes list` shows them) (WEFT_ERR_NOT_FOUND)\n')
})

t.test('nodes rename gives a node a DNS name, found afterwards by it; a taken or malformed name is refused', async (t) => {
  const c = await start(t)
  const admin = ['--controller', c.url, '--admin-key', c.adminKeyFile]
  const a = await joinNode(c, 'web')
  const b = await joinNode(c, 'web')
  const renamed = await weft(['nodes', 'rename', 'web-2.weft.internal', 'api', ...admin])
  t.equal(renamed.code, 0, renamed.stderr)
  t.equal(renamed.stdout, `web (${b.nodeId}, ${b.meshIp}) is api.weft.internal (was web-2.weft.internal)\n`)
  const json = await weft(['nodes', 'rename', 'api', 'API-1', '--json', ...admin])
  t.match(JSON.parse(json.stdout), { id: b.nodeId, name: 'api-1', dnsName: 'api-1.weft.internal' })
  const taken = await weft(['nodes', 'rename', a.meshIp, 'api-1', ...admin])
  t.equal(taken.code, 1)
  t.match(taken.stderr, /HTTP 409: the name api-1 is taken by web \(/)
  const bad = await weft(['nodes', 'rename', a.meshIp, 'no_such', ...admin])
  t.match(bad.stderr, /HTTP 400: "no_such" is not a DNS label/)
  t.equal((await weft(['nodes', 'rename', a.meshIp, ...admin])).code, 2, 'NAME is required')
  const removed = await weft(['nodes', 'remove', 'api-1.weft.internal', ...admin])
  t.equal(removed.code, 0, removed.stderr)
  t.match(removed.stdout, new RegExp(`removed web \\(${b.nodeId}`))
})

t.test('nodes expire sets and clears a node\'s expiry by name; nonsense is refused', async (t) => {
  const c = await start(t)
  const admin = ['--controller', c.url, '--admin-key', c.adminKeyFile]
  const n = await joinNode(c, 'build-7')
  const set = await weft(['nodes', 'expire', 'build-7', '--in', '12h', ...admin])
  t.equal(set.code, 0, set.stderr)
  t.match(set.stdout, new RegExp(`^build-7 \\(${n.nodeId}, ${n.meshIp.replace(/\./g, '\\.')}\\) expires at \\d{4}-[0-9-]+T[0-9:.]+Z \\(in 12h\\); the ` +
    'controller then removes it\\n$'))
  t.match((await weft(['nodes', 'list', ...admin])).stdout, /build-7\s+\S+\s+\S+\s+\S+\s+online\s+\d+s ago\s+in 12h\s/)
  const at = await weft(['nodes', 'expire', n.meshIp, '--at', '2999-01-01', '--json', ...admin])
  t.equal(JSON.parse(at.stdout).expiresAt, Date.parse('2999-01-01T00:00:00Z'), 'a date is midnight UTC')
  const never = await weft(['nodes', 'expire', n.nodeId, '--never', ...admin])
  t.equal(never.stdout, `build-7 (${n.nodeId}, ${n.meshIp}) no longer expires\n`)
  const past = await weft(['nodes', 'expire', 'build-7', '--at', '2000-01-01T00:00:00Z', ...admin])
  t.equal(past.code, 1)
  t.match(past.stderr, /HTTP 400: expiresAt 2000-01-01T00:00:00\.000Z is not in the future/)
  for (const flags of [[], ['--in', '1h', '--never'], ['--at', 'tomorrow'], ['--in', 'soon']]) {
    const r = await weft(['nodes', 'expire', 'build-7', ...flags, ...admin])
    t.equal(r.code, 2, flags.join(' ') || 'no flag')
  }
  t.equal((await weft(['nodes', 'remove', 'build-7', '--never', ...admin])).code, 2, '--never belongs to expire')
})

t.test('routes list shows each route\'s state; approve and reject name the node by hostname', async (t) => {
  const c = await start(t)
  const admin = ['--controller', c.url, '--admin-key', c.adminKeyFile]
  t.equal((await weft(['routes', 'list', ...admin])).stdout, 'no node advertises a route\n')
  const r = await joinNode(c, 'router-1')
  t.equal((await call(c.url, 'PUT', '/v1/node/routes', { routes: ['192.0.2.0/24', '198.51.100.0/24'], exitNode: true, priority: 3 }, r.credential)).status, 200)
  const before = await weft(['routes', 'list', ...admin])
  t.match(before.stdout, /^HOSTNAME\s+ID\s+MESH IP\s+HEALTH\s+ROUTE\s+PRIORITY\s+STATE\n/)
  t.match(before.stdout, /router-1\s+\S+\s+\S+\s+\S+\s+192\.0\.2\.0\/24\s+3\s+awaiting approval\n/)
  t.match(before.stdout, /router-1\s+\S+\s+\S+\s+\S+\s+exit\s+3\s+awaiting approval\n/)

  const ok = await weft(['routes', 'approve', 'router-1', '192.0.2.0/24', 'exit', ...admin])
  t.equal(ok.code, 0, ok.stderr)
  t.equal(ok.stdout, `router-1 (${r.nodeId}, ${r.meshIp}): approved 192.0.2.0/24 exit; enabled now: 192.0.2.0/24 exit\n`)
  const no = await weft(['routes', 'reject', 'router-1', 'exit', ...admin])
  t.match(no.stdout, /rejected exit; enabled now: 192\.0\.2\.0\/24\n$/)
  const json = JSON.parse((await weft(['routes', 'list', '--json', ...admin])).stdout)
  t.same(json.routes.map((x: { route: string, state: string }) => [x.route, x.state]),
    [['192.0.2.0/24', 'enabled'], ['198.51.100.0/24', 'awaiting approval'], ['exit', 'awaiting approval']])
  const bad = await weft(['routes', 'approve', 'router-1', '192.0.2.7/24', ...admin])
  t.equal(bad.code, 1)
  t.match(bad.stderr, /192\.0\.2\.7\/24 has host bits set; the network is 192\.0\.2\.0\/24/)
})
