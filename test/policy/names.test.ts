import t from 'tap'
import { parsePolicy } from '../../lib/policy/document.js'
import { checkNodeNames } from '../../lib/policy/names.js'

const TEXT = `{
  "groups": { "group:ops": ["bastion", "10.0.0.9"] },
  "tagOwners": { "tag:web": ["autogroup:admin"] },
  "hosts": { "office": "192.0.2.0/24" },
  /* "acls": [{ "src": ["ghost"] }] is a comment, not a use */
  "acls": [
    { "action": "accept", "src": ["tag:web", "web-1", "office", "*", "198.51.100.7"], "dst": ["db-1:5432", "tag:web:80", "office:22", "*:*"] },
  ],
  "tests": [{ "src": "bastion", "accept": ["db-2:22"], "deny": ["192.0.2.0/24:22"] }],
}`

t.test('every node hostname a document uses, with its line and column; groups, tags, hosts, addresses and * are not hostnames', async (t) => {
  t.same(parsePolicy(TEXT).nodeNames.map(u => `${u.at.line}:${u.at.column} ${u.name}`), [
    '2:29 bastion',
    '2:40 10.0.0.9',
    '7:46 web-1',
    '7:95 db-1',
    '9:22 bastion',
    '9:44 db-2'
  ], 'a group member is a hostname whatever it looks like: groups hold nothing else')
})

t.test('the first name no node has is refused at its place, with a hint when only its case differs', async (t) => {
  const p = parsePolicy(TEXT)
  t.doesNotThrow(() => checkNodeNames(p, new Set(['bastion', '10.0.0.9', 'web-1', 'db-1', 'db-2'])))
  t.throws(() => checkNodeNames(p, new Set(['bastion', '10.0.0.9', 'web-1', 'db-1'])), {
    code: 'WEFT_ERR_POLICY',
    message: '9:44: "db-2" is not the hostname of any node, nor a group, tag or host'
  })
  t.throws(() => checkNodeNames(p, new Set(['Bastion'])), {
    message: '2:29: "bastion" is not the hostname of any node, nor a group, tag or host (names are matched exactly; a node is called "Bastion")'
  })
})
