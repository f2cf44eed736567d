import t from 'tap'
import { weft } from './weft-cli.js'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

t.test('weft policy check: a good document is summarised and its tests run; a bad one is located, exit 1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-policy-'))
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
