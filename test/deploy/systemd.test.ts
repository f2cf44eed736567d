/**
 * deploy/systemd: both units pass `systemd-analyze verify` without a warning, and hold the hardening
 * docs/operations.md describes: readiness by notification, no capability the controller does not need, only
 * CAP_NET_ADMIN for the daemon (each capability granted or left out says why), a daemon stop that leaves
 * wireguard-go running, and one writable state directory each.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { notifyCommand } from '../../lib/sd-notify.js'

const run = promisify(execFile)
const ROOT = process.cwd()
const CONTROLLER = join(ROOT, 'deploy/systemd/weft-controller.service')
const DAEMON = join(ROOT, 'deploy/systemd/weft-daemon.service')

/** A unit file's settings, `Section.Key` to its values in order (a key may be given more than once). */
function settings (text: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  let section = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const head = /^\[(\w+)\]$/.exec(line)
    if (head !== null) { section = head[1]!; continue }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line)
    if (kv === null) throw new Error(`not a setting: ${line}`)
    const key = `${section}.${kv[1]!}`
    out.set(key, [...(out.get(key) ?? []), kv[2]!])
  }
  return out
}

/** The one value of `key`, or undefined when the unit does not set it. */
function one (s: Map<string, string[]>, key: string): string | undefined {
  const v = s.get(key)
  if (v !== undefined && v.length !== 1) throw new Error(`${key} is set ${v.length} times`)
  return v?.[0]
}

/** Capabilities in a capability setting's value, e.g. `CAP_NET_ADMIN CAP_NET_RAW`. */
function caps (value: string | undefined): string[] {
  return (value ?? '').split(/\s+/).filter(c => c !== '').sort()
}

t.test('systemd-analyze verify accepts both units without a warning', async (t) => {
  // ExecStart= runs /usr/bin/env, so verify checks that it exists; `weft` is found on PATH when the unit starts.
  const r = await run('systemd-analyze', ['verify', '--man=no', CONTROLLER, DAEMON])
  t.same(r.stderr.split('\n').filter(l => /weft-(controller|daemon)\.service/.test(l)), [], r.stderr)
})

t.test('both units are Type=notify, and any process of theirs may notify: the notice comes from systemd-notify, a child', async (t) => {
  t.equal(notifyCommand({ NOTIFY_SOCKET: '/run/systemd/notify' }, 'READY=1')?.file, 'systemd-notify')
  for (const [file, command] of [[CONTROLLER, 'controller'], [DAEMON, 'daemon']] as const) {
    const s = settings(readFileSync(file, 'utf8'))
    t.equal(one(s, 'Service.Type'), 'notify', `${command}: Type`)
    t.equal(one(s, 'Service.NotifyAccess'), 'all', `${command}: NotifyAccess`)
    t.equal(one(s, 'Service.Restart'), 'always', `${command}: Restart`)
    t.equal(one(s, 'Service.ExecStart'), `/usr/bin/env weft ${command} --config /etc/weft/${command}.json`, `${command}: ExecStart`)
    for (const [key, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes']]) {
      t.equal(one(s, `Service.${key!}`), value, `${command}: ${key!}`)
    }
    t.equal(s.get('Service.ReadWritePaths'), undefined, `${command}: nothing writable beyond its state (and runtime) directory`)
    t.equal(one(s, 'Install.WantedBy'), 'multi-user.target', `${command}: WantedBy`)
  }
})

t.test('the controller runs as weft with no capability and writes only /var/lib/weft-controller', async (t) => {
  const s = settings(readFileSync(CONTROLLER, 'utf8'))
  t.equal(one(s, 'Service.User'), 'weft')
  t.equal(one(s, 'Service.Group'), 'weft')
  t.equal(one(s, 'Service.CapabilityBoundingSet'), '', 'empty bounding set')
  t.equal(one(s, 'Service.AmbientCapabilities'), '', 'no ambient capability')
  t.equal(one(s, 'Service.StateDirectory'), 'weft-controller')
  t.equal(one(s, 'Service.StateDirectoryMode'), '0700')
  t.equal(s.get('Service.RuntimeDirectory'), undefined)
  t.equal(s.get('Service.KillMode'), undefined, 'a stop ends every process of the controller')
})

t.test('the daemon holds CAP_NET_ADMIN alone, each capability justified, and a stop leaves wireguard-go running', async (t) => {
  const text = readFileSync(DAEMON, 'utf8')
  const s = settings(text)
  t.equal(one(s, 'Service.KillMode'), 'process', 'only the daemon is signalled: wireguard-go outlives a restart')
  t.equal(s.get('Service.User'), undefined, 'root: the state directory and /run/wireguard belong to root')
  const granted = caps(one(s, 'Service.CapabilityBoundingSet'))
  t.same(granted, ['CAP_NET_ADMIN'])
  t.same(caps(one(s, 'Service.AmbientCapabilities')), granted, 'ambient equals bounding')
  const justified = [...text.matchAll(/^# (CAP_[A-Z_]+): \S/gm)].map(m => m[1]!).sort()
  const refused = [...text.matchAll(/^# Not (CAP_[A-Z_]+): \S/gm)].map(m => m[1]!)
  t.same(justified, granted, 'every capability granted says what for')
  t.same(refused.filter(c => granted.includes(c)), [], 'no capability both granted and refused')
  for (const c of ['CAP_NET_RAW', 'CAP_SYS_ADMIN', 'CAP_NET_BIND_SERVICE']) t.ok(refused.includes(c), `${c} is left out with a reason`)
  t.equal(one(s, 'Service.StateDirectory'), 'weft')
  t.equal(one(s, 'Service.StateDirectoryMode'), '0700')
  t.equal(one(s, 'Service.RuntimeDirectory'), 'wireguard', 'wireguard-go may make its UAPI sockets under ProtectSystem=strict')
  t.equal(one(s, 'Service.RuntimeDirectoryPreserve'), 'yes', 'the sockets of a running wireguard-go outlive a stop')
  // It writes /proc/sys/net/ipv4 and wireguard-go opens /dev/net/tun.
  t.equal(s.get('Service.ProtectKernelTunables'), undefined)
  t.equal(s.get('Service.PrivateDevices'), undefined)
})
