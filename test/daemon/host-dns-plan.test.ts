import t from 'tap'
import {
  chooseMode, digHint, planFileApply, planFileRevert, resolvedApplyCommands, resolvedRevertCommand,
  type HostProbe, type ModeOptions
} from '../../lib/daemon/host-dns-plan.js'
import { renderManaged } from '../../lib/daemon/resolv-conf.js'
import { parseResolvConf } from '../../lib/dns/resolv-conf.js'

const FILE = '/etc/resolv.conf'
const BACKUP = '/var/lib/weft/resolv.conf.orig'
const P = { meshIp: '100.64.0.3', domain: 'weft.internal', backupPath: BACKUP }

t.test('mode: off when asked, resolved where it runs, the file only when allowed and plain, else none with a reason', async (t) => {
  const opts = (o: Partial<ModeOptions> = {}): ModeOptions => ({ acceptDns: true, manageResolvConf: false, resolvConfPath: FILE, ...o })
  const probe = (o: Partial<HostProbe> = {}): HostProbe => ({
    resolvedRunning: false, resolvectl: '/usr/bin/resolvectl', resolvConf: { kind: 'file', text: 'nameserver 192.0.2.1\n' }, ...o
  })
  const stub = { kind: 'symlink' as const, target: '../run/systemd/resolve/stub-resolv.conf' }
  const cases: Array<[string, ModeOptions, HostProbe, string, RegExp]> = [
    ['--accept-dns=false wins over everything', opts({ acceptDns: false, manageResolvConf: true }), probe({ resolvedRunning: true }), 'off', /--accept-dns=false/],
    ['resolved running, resolv.conf its stub link', opts(), probe({ resolvedRunning: true, resolvConf: stub }), 'resolved', /^systemd-resolved runs[^;]*$/],
    ['resolved running, resolv.conf names 127.0.0.53', opts(), probe({ resolvedRunning: true, resolvConf: { kind: 'file', text: 'nameserver 127.0.0.53\n' } }),
      'resolved', /^systemd-resolved runs[^;]*$/],
    ['resolved running beside a plain resolv.conf: resolved, with a warning', opts({ manageResolvConf: true }), probe({ resolvedRunning: true }),
      'resolved', /does not point at resolved/],
    ['resolved running without resolvectl', opts(), probe({ resolvedRunning: true, resolvectl: null }), 'none', /resolvectl is not on PATH/],
    ['no resolved, no permission to manage the file', opts(), probe(), 'none',
      /^systemd-resolved not running; pass --dns-manage-resolv-conf to point \/etc\/resolv.conf at Weft$/],
    ['no resolved, allowed, plain file', opts({ manageResolvConf: true }), probe(), 'resolv-conf', /--dns-manage-resolv-conf/],
    ['no resolved, allowed, no file yet', opts({ manageResolvConf: true }), probe({ resolvConf: { kind: 'missing' } }), 'resolv-conf', /writes/],
    ['no resolved, allowed, but a symlink: someone else manages it', opts({ manageResolvConf: true }),
      probe({ resolvConf: { kind: 'symlink', target: '/run/resolvconf/resolv.conf' } }), 'none', /symlink to \/run\/resolvconf\/resolv.conf/],
    ['no resolved, allowed, a directory', opts({ manageResolvConf: true }), probe({ resolvConf: { kind: 'other' } }), 'none', /not a regular file/]
  ]
  for (const [name, o, p, mode, reason] of cases) {
    const got = chooseMode(o, p)
    t.equal(got.mode, mode, name)
    t.match(got.reason, reason, name)
  }
})

t.test('resolved: the interface gets the server and ~domain, and never the default route; revert drops it all', async (t) => {
  t.same(resolvedApplyCommands('/usr/bin/resolvectl', 'weft0', '100.64.0.3', 'weft.internal'), [
    ['/usr/bin/resolvectl', 'dns', 'weft0', '100.64.0.3'],
    ['/usr/bin/resolvectl', 'domain', 'weft0', '~weft.internal'],
    ['/usr/bin/resolvectl', 'default-route', 'weft0', 'false']
  ])
  t.same(resolvedRevertCommand('/usr/bin/resolvectl', 'weft0'), ['/usr/bin/resolvectl', 'revert', 'weft0'])
  t.equal(digHint('100.64.0.3', 'weft.internal'), 'dig @100.64.0.3 <name>.weft.internal')
})

t.test('file apply: the backup always holds the last content Weft did not write', async (t) => {
  const original = 'nameserver 192.0.2.1\nsearch corp.example\n'
  const managed = renderManaged(parseResolvConf(original), P)
  const dhcp = 'nameserver 198.51.100.1\n'

  const first = planFileApply({ current: original, backup: null }, P)
  t.same(first, { backupStep: 'create', writeBackup: original, writeFile: managed, managed }, 'first start backs up, then writes')

  const again = planFileApply({ current: managed, backup: original }, P)
  t.same(again, { backupStep: 'keep', writeBackup: null, writeFile: null, managed }, 'applied again: nothing to write')

  const moved = planFileApply({ current: managed, backup: original }, { ...P, meshIp: '100.64.0.9' })
  t.equal(moved.backupStep, 'keep', 'a new mesh IP keeps the real original')
  t.equal(moved.writeBackup, null)
  t.match(moved.writeFile, /^nameserver 100\.64\.0\.9\nnameserver 192\.0\.2\.1$/m)

  const replaced = planFileApply({ current: dhcp, backup: original }, P)
  t.equal(replaced.backupStep, 'replace', 'someone rewrote the file meanwhile: theirs is the original now')
  t.equal(replaced.writeBackup, dhcp)
  t.match(replaced.writeFile, /nameserver 198\.51\.100\.1/)

  const crashed = planFileApply({ current: original, backup: original }, P)
  t.same([crashed.backupStep, crashed.writeBackup, crashed.writeFile], ['keep', null, managed], 'backup made, file not yet written: the backup stands')

  const lost = planFileApply({ current: managed, backup: null }, P)
  t.equal(lost.backupStep, 'recover', 'state dir wiped: the original is rebuilt from Weft\'s file')
  t.same(parseResolvConf(lost.writeBackup ?? ''), parseResolvConf(original))
  t.equal(lost.writeFile, null)

  const missing = planFileApply({ current: null, backup: null }, P)
  t.same([missing.backupStep, missing.writeBackup], ['create', ''], 'no file: the original is an empty one')
})

t.test('file revert: the original goes back only over Weft\'s unchanged file; the backup goes either way', async (t) => {
  const original = 'nameserver 192.0.2.1\n'
  const managed = renderManaged(parseResolvConf(original), P)
  t.same(planFileRevert({ current: managed, backup: original }, BACKUP), { outcome: 'restored', restore: original, deleteBackup: true })
  t.same(planFileRevert({ current: managed + 'nameserver 192.0.2.50\n', backup: original }, BACKUP),
    { outcome: 'changed-since', restore: null, deleteBackup: true }, 'an operator\'s edit stays')
  t.same(planFileRevert({ current: 'nameserver 198.51.100.1\n', backup: original }, BACKUP),
    { outcome: 'changed-since', restore: null, deleteBackup: true }, 'a DHCP client\'s file stays')
  t.same(planFileRevert({ current: null, backup: original }, BACKUP),
    { outcome: 'changed-since', restore: null, deleteBackup: true }, 'a symlink or no file at all: someone else took over')
  t.same(planFileRevert({ current: managed, backup: null }, BACKUP), { outcome: 'nothing', restore: null, deleteBackup: false })
})
