import t from 'tap'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { renderPolicyTest } from '../../cmd/policy.js'
import { joinNode, start, tempDir } from '../control/helpers.js'
import { weft } from './weft-cli.js'

t.test('weft policy check: a good document is summarised and its tests run; a bad one is located, exit 1', async (t) => {
  const dir = await tempDir(t)
  const good = join(dir, 'good.json')
  await writeFile(good, `{
  "tagOwners": { "tag:web": ["autogroup:admin"], "tag:db": ["autogroup:admin"] },
  // the web tier reaches the database, nothing else does
  "acls": [{ "action": "accept", "src": ["tag:web"], "dst": ["tag:db:5432"] }],
  "tests": [{ "src": "tag:web", "accept": ["tag:db:5432"], "deny": ["tag:db:22"] }],
}\n`)
  const ok = await weft(['policy', 'check', good])
  t.equal(ok.code, 0)
  t.equal(ok.stdout, `${good}: 0 groups, 2 tags, 0 hosts, 1 rule; 1 test passes\n`)
  const failing = join(dir, 'failing.json')
  await writeFile(failing, `{
  "tagOwners": { "tag:web": ["autogroup:admin"], "tag:db": ["autogroup:admin"] },
  "acls": [{ "action": "accept", "src": ["tag:web"], "dst": ["tag:db:*"] }],
  "tests": [{ "src": "tag:web", "deny": ["tag:db:22"] }]
}\n`)
  const bad = await weft(['policy', 'check', failing])
  t.equal(bad.code, 1)
  t.match(bad.stderr, `weft: ${failing}:4:13: test 0 fails: tag:web -> tag:db:22/tcp should be denied, but rule 0 (line 3) accepts it (WEFT_ERR_POLICY)`)
  const missing = await weft(['policy', 'check', join(dir, 'nope.json')])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /cannot read .*nope\.json/)
  t.equal((await weft(['policy', 'apply', good])).code, 2, 'an unknown subcommand is a usage error')
})

t.test('what weft policy test prints: the version, then one line per pair with its verdict and deciding rule', async (t) => {
  t.equal(renderPolicyTest({
    version: 3,
    proto: 'tcp',
    port: 5432,
    accept: false,
    flows: [
      { src: 'web (100.64.0.2)', dst: 'db-1 (100.64.0.3)', accept: true, rule: 0, line: 6 },
      { src: 'web (100.64.0.15)', dst: 'db-1 (100.64.0.3)', accept: false, rule: null, line: null }
    ]
  }), [
    'policy version 3, tcp port 5432:',
    'accept  web (100.64.0.2) -> db-1 (100.64.0.3)   rule 0 (line 6)',
    'deny    web (100.64.0.15) -> db-1 (100.64.0.3)  no rule accepts it',
    ''
  ].join('\n'))
  t.equal(renderPolicyTest({
    version: null, proto: 'icmp', port: 0, accept: true, flows: [{ src: 'a', dst: 'b', accept: true, rule: null, line: null }], note: 'none'
  }), 'no access policy is set: every flow is accepted (icmp)\naccept  a -> b  no policy\n')
})

t.test('weft policy set, get and test against a controller; a refused document names FILE:line:column and changes nothing', async (t) => {
  const c = await start(t)
  const admin = ['--controller', c.url, '--admin-key', c.adminKeyFile]
  for (const [host, tag] of [['web-1', 'tag:web'], ['db-1', 'tag:db']]) {
    const tok = await weft(['token', 'create', '--tag', tag!, ...admin])
    t.equal(tok.code, 0, tok.stderr)
    await joinNode(c, host, tok.stdout.trim())
  }
  const none = await weft(['policy', 'get', ...admin])
  t.equal(none.code, 1)
  t.match(none.stderr, /no access policy has been set: every node reaches every port of every other/)

  const dir = await tempDir(t)
  const file = join(dir, 'policy.hujson')
  const text = `{
  "tagOwners": { "tag:web": ["autogroup:admin"], "tag:db": ["autogroup:admin"] },
  "acls": [
    { "action": "accept", "src": ["tag:web"], "dst": ["db-1:5432"] }, // by name: db-1 must exist
  ],
  "tests": [{ "src": "web-1", "accept": ["db-1:5432"], "deny": ["db-1:22"] }],
}
`
  await writeFile(file, text)
  const set = await weft(['policy', 'set', file, '--if-version', '0', ...admin])
  t.equal(set.code, 0, set.stderr)
  t.match(set.stdout, new RegExp(`^policy version 1 set from ${file} \\(sha256 [0-9a-f]{64}\\)\\n$`))
  const again = await weft(['policy', 'set', file, ...admin])
  t.equal(again.stdout, `policy unchanged: version 1 already holds the text of ${file}\n`)

  const get = await weft(['policy', 'get', ...admin])
  t.equal(get.stdout, text, 'stdout is the document exactly as set')
  t.match(get.stderr, /^policy version 1, set \d{4}-\d\d-\d\dT[\d:.]+Z, sha256 [0-9a-f]{64}\n$/)
  const out = join(dir, 'copy.hujson')
  t.equal((await weft(['policy', 'get', '--out', out, ...admin])).code, 0)
  t.equal(await readFile(out, 'utf8'), text)

  const bad = join(dir, 'bad.hujson')
  await writeFile(bad, text.replace('"db-1:5432"] },', '"db-2:5432"] },'))
  const refused = await weft(['policy', 'set', bad, ...admin])
  t.equal(refused.code, 1)
  t.equal(refused.stderr, `weft: ${bad}:4:55: "db-2" is not the hostname of any node, nor a group, tag or host (WEFT_ERR_POLICY)\n`)
  const stale = await weft(['policy', 'set', bad, '--if-version', '0', ...admin])
  t.equal(stale.code, 1)
  t.match(stale.stderr, /HTTP 409: the policy is at version 1, not 0/)
  t.equal((await weft(['policy', 'get', ...admin])).stdout, text, 'the refused documents changed nothing')

  const yes = await weft(['policy', 'test', 'web-1', 'db-1:5432', ...admin])
  t.equal(yes.code, 0, yes.stderr)
  t.match(yes.stdout, /^policy version 1, tcp port 5432:\naccept {2}web-1 \(100\.64\.0\.\d+\) -> db-1 \(100\.64\.0\.\d+\) {2}rule 0 \(line 4\)\n$/)
  const no = await weft(['policy', 'test', 'db-1', 'tag:web:80', '--proto', 'udp', ...admin])
  t.equal(no.code, 0, 'a deny is an answer, not a failure')
  t.match(no.stdout, /^policy version 1, udp port 80:\ndeny {4}db-1 \(100\.64\.0\.\d+\) -> tag:web {2}no rule accepts it\n$/)
  const json = JSON.parse((await weft(['policy', 'test', 'web-1', 'db-1:22', '--json', ...admin])).stdout)
  t.match(json, { version: 1, accept: false, flows: [{ rule: null }] })
  t.equal((await weft(['policy', 'test', 'web-1', 'db-1:22', '--proto', 'sctp', ...admin])).code, 2)
  t.equal((await weft(['policy', 'get', '--if-version', '1', ...admin])).code, 2, 'a flag of another subcommand is a usage error')
})
