import t from 'tap'
import { matchNodes, resolveNode } from '../../lib/wire/node-match.js'
import { AmbiguousNodeError } from '../../lib/errors.js'

const nodes = [
  { id: 'n1111111111111111', hostname: 'web', meshIp: '100.64.0.1' },
  { id: 'n2222222222222222', hostname: 'web', meshIp: '100.64.0.2' },
  { id: 'n3333333333333333', hostname: 'db-1', meshIp: '100.64.0.3' },
  { id: 'n4444444444444444', hostname: '100.64.0.9', meshIp: '100.64.0.4' },
  { id: 'n5555555555555555', hostname: 'odd', meshIp: '100.64.0.9' },
  { id: 'n6666666666666666', hostname: 'www', meshIp: '100.64.0.6', name: 'web-2', dnsName: 'web-2.weft.internal' }
]

t.test('a node is named by its id, its mesh IP, its hostname or its DNS name (any case)', async (t) => {
  const cases: Array<[string, string[]]> = [
    ['n3333333333333333', ['n3333333333333333']],
    ['100.64.0.3', ['n3333333333333333']],
    ['db-1', ['n3333333333333333']],
    ['DB-1', ['n3333333333333333']],
    [' db-1 ', ['n3333333333333333']],
    ['web', ['n1111111111111111', 'n2222222222222222']],
    ['web-2', ['n6666666666666666']],
    ['Web-2.weft.internal.', ['n6666666666666666']],
    ['web-2.other', []],
    ['100.64.0.9', ['n4444444444444444', 'n5555555555555555']],
    ['n333', []],
    ['db', []],
    ['', []]
  ]
  for (const [q, want] of cases) t.same(matchNodes(nodes, q).map(n => n.id), want, JSON.stringify(q))
})

t.test('resolveNode: one match, none (not found), several (ambiguous, with the candidates)', async (t) => {
  t.equal(resolveNode(nodes, '100.64.0.2').id, 'n2222222222222222')
  t.throws(() => resolveNode(nodes, 'nope'), { code: 'WEFT_ERR_NOT_FOUND', message: /no node has the id, mesh IP, hostname or name "nope"/ })
  let err: unknown
  try { resolveNode(nodes, 'web') } catch (e) { err = e }
  t.ok(err instanceof AmbiguousNodeError)
  t.match(err, { code: 'WEFT_ERR_AMBIGUOUS_NODE', message: '"web" names 2 nodes; name one by its id, mesh IP or DNS name' })
  t.same((err as AmbiguousNodeError).candidates.map(c => c.meshIp), ['100.64.0.1', '100.64.0.2'])
  t.throws(() => resolveNode(nodes, '100.64.0.9'), { code: 'WEFT_ERR_AMBIGUOUS_NODE' }, 'a mesh IP that is also another node\'s hostname is ambiguous too')
})
