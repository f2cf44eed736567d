import t from 'tap'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { checkStateDir, inspectStateDir, type StateDirFacts } from '../../../lib/daemon/checks/state-dir.js'
import type { FileFacts } from '../../../lib/daemon/checks/files.js'
import { parseProcStatus, type ProcessFacts } from '../../../lib/daemon/checks/process.js'
import { tempDir } from '../../control/helpers.js'

const names: Record<number, string> = { 0: 'root', 999: 'weft', 65534: 'nobody' }
const proc = (uid: number, caps = '0000000000000000'): ProcessFacts =>
  parseProcStatus(`Uid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t${uid}\t${uid}\t${uid}\t${uid}\nGroups:\t\nCapEff:\t${caps}\nCapAmb:\t${caps}\n`,
    u => names[u] ?? null)
const ROOT = proc(0, '000001ffffffffff')
const WEFT = proc(999)
const facts = (uid: number, mode: number, kind: FileFacts['kind'] = 'dir'): FileFacts => ({ uid, gid: uid, mode, kind, owner: `uid ${uid} (${names[uid]!})` })
const dir = '/var/lib/weft'
const existing = (self: FileFacts, names: string[] = [], files: StateDirFacts['files'] = []): StateDirFacts => ({ dir, self, ancestor: null, names, files })
const missing = (ancestor: FileFacts, path = '/var/lib'): StateDirFacts => ({ dir, self: null, ancestor: { path, facts: ancestor }, names: [], files: [] })

t.test('usable state directories, and what the start does to them', async (t) => {
  t.same(checkStateDir(missing(facts(0, 0o755)), ROOT), { create: true, tighten: false }, 'root creates it')
  t.same(checkStateDir(missing(facts(999, 0o700), '/home/weft'), WEFT), { create: true, tighten: false }, 'the user creates it in a directory of its own')
  t.same(checkStateDir(existing(facts(999, 0o700), ['private.key', 'node.json'], [{ name: 'private.key', facts: facts(999, 0o600, 'file') }]), WEFT),
    { create: false, tighten: false }, 'its own directory and files')
  t.same(checkStateDir(existing(facts(0, 0o755), ['private.key', '.node.json.0a1b2c3d.tmp']), ROOT), { create: false, tighten: true },
    'open to others but holding only Weft files: closed at start')
  t.same(checkStateDir(existing(facts(0, 0o500)), ROOT), { create: false, tighten: false }, 'root writes past the mode')
})

t.test('unusable state directories: each refusal says what to do', async (t) => {
  const cases: Array<[string, StateDirFacts, ProcessFacts, string]> = [
    ['missing, parent not writable', missing(facts(0, 0o755)), WEFT,
      'state directory /var/lib/weft does not exist, and uid 999 (weft) may not create it in /var/lib (owned by uid 0 (root), mode 0755): ' +
      'create it for the daemon (install -d -m 700 -o weft /var/lib/weft; a systemd unit can say StateDirectory=weft), or run the daemon as root'],
    ['missing, parent a file', missing(facts(0, 0o644, 'file'), '/var/lib'), ROOT, 'state directory /var/lib/weft cannot be created: /var/lib is not a ' +
      'directory'],
    ['not a directory', existing(facts(0, 0o600, 'file')), ROOT, 'state directory /var/lib/weft is not a directory: remove it, or choose another --state'],
    ['created by root, run as the service user', existing(facts(0, 0o700)), WEFT,
      'state directory /var/lib/weft belongs to uid 0 (root), but the daemon runs as uid 999 (weft): run the daemon as its owner, or chown -R weft ' +
      '/var/lib/weft'],
    ['the service user\'s, run as root', existing(facts(999, 0o700)), ROOT,
      'state directory /var/lib/weft belongs to uid 999 (weft), but the daemon runs as uid 0 (root): run the daemon as its owner, or chown -R root ' +
      '/var/lib/weft'],
    ['not writable by its owner', existing(facts(999, 0o500)), WEFT, 'state directory /var/lib/weft is not writable by its owner (mode 0500): chmod 700 ' +
      '/var/lib/weft'],
    ['a key written by root', existing(facts(999, 0o700), ['private.key'], [{ name: 'private.key', facts: facts(0, 0o600, 'file') }]), WEFT,
      '/var/lib/weft/private.key belongs to uid 0 (root), but the daemon runs as uid 999 (weft): run the daemon as its owner, or chown -R weft /var/lib/weft'],
    ['a key its owner cannot read', existing(facts(999, 0o700), ['node.json'], [{ name: 'node.json', facts: facts(999, 0o200, 'file') }]), WEFT,
      '/var/lib/weft/node.json is not readable and writable by its owner (mode 0200): chmod 600 /var/lib/weft/node.json'],
    ['a shared directory (--state /var/lib)', existing(facts(0, 0o755), ['apt', 'dpkg', 'private.key', 'systemd', 'ucf']), ROOT,
      'state directory /var/lib/weft is open to other users (mode 0755) and holds files Weft did not put there (apt, dpkg, systemd...): ' +
      'give Weft a directory of its own (the default is /var/lib/weft), or chmod 700 /var/lib/weft']
  ]
  for (const [what, f, p, message] of cases) t.throws(() => checkStateDir(f, p), { code: 'WEFT_ERR_DATA_DIR', message }, what)
})

t.test('inspectStateDir reads a real directory and changes nothing', async (t) => {
  const base = await tempDir(t)
  const gone = join(base, 'a', 'b', 'state')
  const f = await inspectStateDir(gone)
  t.same([f.self, f.ancestor?.path, f.ancestor?.facts.kind], [null, base, 'dir'], 'the nearest existing ancestor')
  const d = join(base, 'state')
  await mkdir(d, { mode: 0o700 })
  await writeFile(join(d, 'private.key'), 'x', { mode: 0o600 })
  await writeFile(join(d, 'notes.txt'), 'x')
  await chmod(d, 0o750)
  const g = await inspectStateDir(d)
  t.same([g.self?.mode, g.self?.kind, g.names.sort(), g.files.map(x => [x.name, x.facts.mode, x.facts.kind])],
    [0o750, 'dir', ['notes.txt', 'private.key'], [['private.key', 0o600, 'file']]])
  t.equal(g.self?.owner, `uid ${process.geteuid!()} (root)`)
})
