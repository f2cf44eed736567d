import t from 'tap'
import { readFile } from 'node:fs/promises'
import { accountName, CAP, checkNetAdmin, hasCap, parseProcStatus, readProcessFacts, type ProcessFacts } from '../../../lib/daemon/checks/process.js'

const status = (uid: number, eff: string, amb: string): string =>
  `Name:\tnode\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t${uid}\t${uid}\t${uid}\t${uid}\nGroups:\t4 27 ` +
  `\nCapInh:\t0000000000000000\nCapPrm:\t${eff}\nCapEff:\t${eff}\nCapBnd:\t000001ffffffffff\nCapAmb:\t${amb}\n`
const ALL = '000001ffffffffff'
const NONE = '0000000000000000'
const NET_ADMIN = (1n << 12n).toString(16).padStart(16, '0')

t.test('parses uid, gid, groups and the capability sets of /proc/PID/status', async (t) => {
  const p = parseProcStatus(status(999, NET_ADMIN, NET_ADMIN), uid => uid === 999 ? 'weft' : null)
  t.same({ ...p, effective: p.effective.toString(16), ambient: p.ambient.toString(16) },
    { uid: 999, gid: 999, groups: [4, 27], effective: '1000', ambient: '1000', user: 'uid 999 (weft)', account: 'weft' })
  t.equal(parseProcStatus(status(1234, NONE, NONE)).user, 'uid 1234', 'a uid without an account')
  t.equal(parseProcStatus(status(1234, NONE, NONE)).account, '1234')
  t.ok(hasCap(BigInt(`0x${ALL}`), CAP.NET_ADMIN))
  t.notOk(hasCap(BigInt(`0x${ALL}`) & ~(1n << 12n), CAP.NET_ADMIN))
  t.throws(() => parseProcStatus('Name:\tx\n'), /no Uid line/)
})

t.test('this process reads as itself', async (t) => {
  const p = await readProcessFacts()
  t.equal(p.uid, process.geteuid!())
  t.equal(p.user.startsWith(`uid ${p.uid}`), true)
})

t.test('accountName reads passwd lines', async (t) => {
  const passwd = 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n'
  t.equal(accountName(passwd, 65534), 'nobody')
  t.equal(accountName(passwd, 0), 'root')
  t.equal(accountName(passwd, 5), null)
  t.equal(accountName(await readFile('/etc/passwd', 'utf8'), 0), 'root')
})

t.test('CAP_NET_ADMIN: required of the daemon, and of what it runs when it is not root', async (t) => {
  const nameOf = (uid: number): string => uid === 0 ? 'root' : uid === 65534 ? 'nobody' : 'weft'
  const p = (uid: number, eff: string, amb: string): ProcessFacts => parseProcStatus(status(uid, eff, amb), nameOf)
  const cases: Array<[string, ProcessFacts, RegExp | null]> = [
    ['root with every capability', p(0, ALL, NONE), null],
    ['root without it (a container)', p(0, NONE, NONE), /runs as root without it \(a container started without --cap-add NET_ADMIN/],
    ['nobody without it', p(65534, NONE, NONE), /^weft daemon needs CAP_NET_ADMIN to create and configure its WireGuard interface, and it runs as uid 65534 \(nobody\) without it: run it as root, or grant the capability \(AmbientCapabilities=CAP_NET_ADMIN in the systemd unit\)$/],
    ['a service user with it as ambient', p(999, NET_ADMIN, NET_ADMIN), null],
    [
      'a service user with it, not ambient (file capabilities on node)',
      p(999, NET_ADMIN, NONE),
      /uid 999 \(weft\) has it but not as an ambient capability, so the ip and wireguard-go it runs do not/
    ]
  ]
  for (const [what, facts, want] of cases) {
    if (want === null) t.doesNotThrow(() => checkNetAdmin(facts), what)
    else t.throws(() => checkNetAdmin(facts), { code: 'WEFT_ERR_CONFIG', message: want }, what)
  }
})
