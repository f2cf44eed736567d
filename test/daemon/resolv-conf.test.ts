import t from 'tap'
import { isManaged, managedUnchanged, recoverOriginal, renderManaged } from '../../lib/daemon/resolv-conf.js'
import { parseResolvConf } from '../../lib/dns/resolv-conf.js'

const BACKUP = '/var/lib/weft/resolv.conf.orig'
const P = { meshIp: '100.64.0.3', domain: 'weft.internal', backupPath: BACKUP }
const MARK = '# Managed by Weft (weft daemon --dns-manage-resolv-conf): 100.64.0.3 answers *.weft.internal. ' +
  'Undo: weft leave, or restart the daemon with --accept-dns=false; the original is /var/lib/weft/resolv.conf.orig'

t.test('the managed file: mark line, mesh IP first, original servers, mesh domain before the original search, options', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['typical cloud VM', 'nameserver 192.0.2.1\nnameserver 192.0.2.2\nsearch ec2.internal\noptions edns0 trust-ad\n',
      `${MARK}\nnameserver 100.64.0.3\nnameserver 192.0.2.1\nnameserver 192.0.2.2\nsearch weft.internal ec2.internal\noptions edns0 trust-ad\n`],
    ['no search, no options', 'nameserver 192.0.2.1\n', `${MARK}\nnameserver 100.64.0.3\nnameserver 192.0.2.1\nsearch weft.internal\n`],
    ['domain keyword becomes part of search', 'domain corp.example\nnameserver 192.0.2.1\n',
      `${MARK}\nnameserver 100.64.0.3\nnameserver 192.0.2.1\nsearch weft.internal corp.example\n`],
    ['rotate dropped: it would send mesh names to upstreams', 'nameserver 192.0.2.1\noptions rotate timeout:2\n',
      `${MARK}\nnameserver 100.64.0.3\nnameserver 192.0.2.1\nsearch weft.internal\noptions timeout:2\n`],
    ['mesh IP and domain already there are not repeated', 'nameserver 100.64.0.3\nnameserver 192.0.2.1\nsearch weft.internal x.example\n',
      `${MARK}\nnameserver 100.64.0.3\nnameserver 192.0.2.1\nsearch weft.internal x.example\n`],
    ['empty original', '', `${MARK}\nnameserver 100.64.0.3\nsearch weft.internal\n`]
  ]
  for (const [name, original, want] of cases) {
    const got = renderManaged(parseResolvConf(original), P)
    t.equal(got, want, name)
    t.ok(isManaged(got))
    t.ok(managedUnchanged(got, original, BACKUP), `${name}: recognised as Weft's unchanged file`)
  }
})

t.test('any edit of the managed file, or another backup, counts as changed since', async (t) => {
  const original = 'nameserver 192.0.2.1\n'
  const mine = renderManaged(parseResolvConf(original), P)
  t.notOk(managedUnchanged(mine + 'nameserver 192.0.2.7\n', original, BACKUP), 'a line appended')
  t.notOk(managedUnchanged(mine.replace('192.0.2.1', '192.0.2.8'), original, BACKUP), 'a server changed')
  t.notOk(managedUnchanged(original, original, BACKUP), 'the original itself is not Weft\'s')
  t.notOk(managedUnchanged(mine, 'nameserver 192.0.2.99\n', BACKUP), 'made from another original')
  t.notOk(managedUnchanged(mine, original, '/elsewhere/resolv.conf.orig'), 'naming another backup')
  const moved = renderManaged(parseResolvConf(original), { ...P, meshIp: '100.64.0.9', domain: 'mesh.example' })
  t.ok(managedUnchanged(moved, original, BACKUP), 'a new mesh IP or domain is still Weft\'s own file')
})

t.test('a lost original is rebuilt from the managed file', async (t) => {
  const original = 'nameserver 192.0.2.1\nsearch corp.example\noptions ndots:2\n'
  const rebuilt = recoverOriginal(renderManaged(parseResolvConf(original), P))
  t.notOk(isManaged(rebuilt))
  t.same(parseResolvConf(rebuilt), parseResolvConf(original))
})
