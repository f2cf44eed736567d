import t from 'tap'
import { domainProblem, freeLabel, isLabel, labelOf, MAX_LABEL } from '../../lib/wire/names.js'

t.test('labelOf: the first part of the hostname, lower case, runs of other characters as one -', async (t) => {
  const cases: Array<[string, string]> = [
    ['web-1', 'web-1'],
    ['Web_1.example.com', 'web-1'],
    ['DB..x', 'db'],
    ['__a__b__', 'a-b'],
    ['-edge-', 'edge'],
    ['___', 'node'],
    ['.hidden', 'node'],
    ['x'.repeat(80), 'x'.repeat(MAX_LABEL)],
    ['a'.repeat(62) + '_b', 'a'.repeat(62)]
  ]
  for (const [hostname, want] of cases) {
    t.equal(labelOf(hostname), want, hostname)
    t.ok(isLabel(labelOf(hostname)), `${hostname} gives a label`)
  }
})

t.test('freeLabel: the plain label first, then -2, -3, ... shortened to stay a label', async (t) => {
  const taken = new Set(['web', 'web-2'])
  t.equal(freeLabel('db', l => taken.has(l)), 'db')
  t.equal(freeLabel('web', l => taken.has(l)), 'web-3')
  const long = 'y'.repeat(MAX_LABEL)
  const got = freeLabel(long, l => l === long)
  t.equal(got, 'y'.repeat(MAX_LABEL - 2) + '-2')
  t.ok(isLabel(got))
  t.equal(freeLabel('a' + '-'.repeat(61) + 'b', l => l.endsWith('b')), 'a-2', 'a shortened label loses the hyphens it would end with')
})

t.test('isLabel', async (t) => {
  for (const ok of ['a', 'web-1', '1', 'x'.repeat(63)]) t.ok(isLabel(ok), ok)
  for (const bad of ['', '-a', 'a-', 'A', 'a_b', 'a.b', 'x'.repeat(64), 'é']) t.notOk(isLabel(bad), bad)
})

t.test('domainProblem: lower-case labels, not .local or .arpa, short enough for a label in front', async (t) => {
  for (const ok of ['weft.internal', 'mesh', 'a.b.c.example']) t.equal(domainProblem(ok), null, ok)
  t.match(domainProblem(''), /1-189 characters/)
  t.match(domainProblem('Weft.internal'), /"Weft" is not a lower-case DNS label/)
  t.match(domainProblem('weft.internal.'), /"" is not/)
  t.match(domainProblem('a..b'), /"" is not/)
  t.match(domainProblem('weft.local'), /mDNS/)
  t.match(domainProblem('in-addr.arpa'), /reverse lookups/)
  t.match(domainProblem('a.'.repeat(100) + 'b'), /1-189 characters/)
})
