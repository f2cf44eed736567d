import t from 'tap'
import { systemClock } from '../../../lib/clock.js'
import { ipReason, kernelWireguardProbe, planDevice, which, type DeviceProbes, type DriverChoice, type Outcome } from '../../../lib/daemon/wg/plan.js'
import type { FileFacts } from '../../../lib/daemon/checks/files.js'
import { parseProcStatus } from '../../../lib/daemon/checks/process.js'

const dir = (uid: number, mode: number): FileFacts => ({ uid, gid: uid, mode, kind: 'dir', owner: uid === 0 ? 'uid 0 (root)' : `uid ${uid} (weft)` })
const NO_MODULE: Outcome = { ok: false, detail: 'Unknown device type' }

/** What a host has, as a table row gives it. */
interface HostRow {
  live: boolean
  kind: string | null
  kernel: Outcome
  have: string[]
  runs: Outcome
  tun: FileFacts | null
  uapiDir: { path: string, exists: boolean, facts: FileFacts }
}

/** A host described by a table row; every probe answers from it. */
function host (h: Partial<HostRow> = {}): DeviceProbes {
  const have = h.have ?? ['wireguard-go', 'wg']
  return {
    path: '/usr/sbin:/usr/bin',
    uapiLive: async () => h.live ?? false,
    linkKind: async () => h.kind ?? null,
    kernelWireguard: async () => h.kernel ?? NO_MODULE,
    which: async cmd => have.includes(cmd) ? `/usr/bin/${cmd}` : null,
    runs: async () => h.runs ?? { ok: true },
    tun: async () => h.tun === undefined ? { uid: 0, gid: 0, mode: 0o666, kind: 'other', owner: 'uid 0 (root)' } : h.tun,
    uapiDir: async () => h.uapiDir ?? { path: '/var/run/wireguard', exists: true, facts: dir(0, 0o755) }
  }
}

const plan = async (driver: DriverChoice, probes: DeviceProbes, uid = 0): ReturnType<typeof planDevice> => {
  const caps = uid === 0 ? '000001ffffffffff' : '0000000000001000'
  const process = parseProcStatus(`Uid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t${uid}\t${uid}\t${uid}\t${uid}\n` +
    `Groups:\t\nCapEff:\t${caps}\nCapAmb:\t${caps}\n`, u => u === 0 ? 'root' : 'weft')
  return await planDevice({ driver, ifname: 'weft0', process, clock: systemClock }, probes)
}

t.test('what opening the device will do, by driver choice and host', async (t) => {
  const cases: Array<[string, DriverChoice, DeviceProbes, unknown]> = [
    ['a running wireguard-go is adopted', 'auto', host({ live: true, kind: 'tun' }), { action: 'adopt', driver: 'userspace' }],
    ['a kernel interface is adopted', 'auto', host({ kind: 'wireguard' }), { action: 'adopt', driver: 'kernel' }],
    ['the kernel module is preferred', 'auto', host({ kernel: { ok: true } }), { action: 'create', driver: 'kernel' }],
    ['no module: wireguard-go', 'auto', host(), { action: 'create', driver: 'userspace', binary: '/usr/bin/wireguard-go' }],
    ['--wg kernel with the module', 'kernel', host({ kernel: { ok: true } }), { action: 'create', driver: 'kernel' }],
    ['--wg userspace never probes the kernel', 'userspace', host({ kernel: { ok: true } }), {
      action: 'create',
      driver: 'userspace',
      binary: '/usr/bin/wireguard-go'
    }],
    [
      '--wg kernel ignores a wireguard-go of that name... and adopts the kernel link',
      'kernel',
      host({ live: true, kind: 'wireguard' }),
      { action: 'adopt', driver: 'kernel' }
    ]
  ]
  for (const [what, driver, probes, want] of cases) t.same(await plan(driver, probes), want, what)
})

t.test('what is missing, and how to get it', async (t) => {
  const cases: Array<[string, DriverChoice, DeviceProbes, string, number?]> = [
    ['--wg kernel without the module', 'kernel', host(),
      '--wg kernel: this kernel has no WireGuard module (`ip link add type wireguard`: Unknown device type): load it (modprobe wireguard; Linux 5.6 and ' +
      'later include it), or use --wg userspace with wireguard-go (apt install wireguard-go)'],
    ['no module and no wireguard-go', 'auto', host({ have: ['wg'] }),
      'no WireGuard driver: this kernel has no WireGuard module (`ip link add type wireguard`: Unknown device type) and wireguard-go is not in PATH ' +
      '(/usr/sbin:/usr/bin): install wireguard-go (apt install wireguard-go), or load the kernel module (modprobe wireguard)'],
    ['--wg userspace without wireguard-go', 'userspace', host({ have: [] }),
      '--wg userspace needs wireguard-go, and wireguard-go is not in PATH (/usr/sbin:/usr/bin): install it (apt install wireguard-go)'],
    ['a wireguard-go that does not run', 'userspace', host({ runs: { ok: false, detail: 'exec format error' } }),
      'wireguard-go at /usr/bin/wireguard-go does not run (`/usr/bin/wireguard-go --version`: exec format error): reinstall it (apt install --reinstall ' +
      'wireguard-go)'],
    ['no /dev/net/tun', 'auto', host({ tun: null }),
      'wireguard-go needs /dev/net/tun, which this host does not have: load the tun module (modprobe tun), or give the container the device (docker run ' +
      '--device /dev/net/tun)'],
    ['/dev/net/tun closed to the service user', 'auto', host({ tun: { uid: 0, gid: 0, mode: 0o600, kind: 'other', owner: 'uid 0 (root)' } }),
      'wireguard-go opens /dev/net/tun, which uid 999 (weft) may not open (owned by uid 0 (root), mode 0600): run the daemon as root, or make the device ' +
      'readable and writable (chmod 666 /dev/net/tun)', 999],
    ['the socket directory is root\'s', 'auto', host(),
      'wireguard-go puts its control socket in /var/run/wireguard, which uid 999 (weft) may not write (owned by uid 0 (root), mode 0755): ' +
      'run the daemon as root, or give it the directory (RuntimeDirectory=wireguard and RuntimeDirectoryPreserve=yes in the systemd unit: wireguard-go ' +
      'outlives the daemon)', 999],
    ['the socket directory cannot be made', 'auto', host({ uapiDir: { path: '/var/run', exists: false, facts: dir(0, 0o755) } }),
      'wireguard-go puts its control socket in /var/run/wireguard, which uid 999 (weft) may not create in /var/run (owned by uid 0 (root), mode 0755): ' +
      'run the daemon as root, or give it the directory (RuntimeDirectory=wireguard and RuntimeDirectoryPreserve=yes in the systemd unit: wireguard-go ' +
      'outlives the daemon)', 999],
    ['a kernel interface without wg', 'auto', host({ kind: 'wireguard', have: ['wireguard-go'] }),
      'the kernel WireGuard driver sets peers with `wg`, which is not in PATH (/usr/sbin:/usr/bin): install it (apt install wireguard-tools)'],
    ['the name is another kind of link, --wg kernel', 'kernel', host({ kind: 'veth' }),
      'interface weft0 exists and is a veth link, not WireGuard: delete it (ip link del weft0), or choose another --interface'],
    ['the name is another kind of link, auto', 'auto', host({ kind: 'veth' }),
      'interface weft0 exists (veth) but no wireguard-go answers on /var/run/wireguard/weft0.sock: delete it (ip link del weft0), or choose another ' +
      '--interface'],
    ['a wireguard-go of that name in another namespace', 'auto', host({ live: true, kind: null }),
      'interface weft0 is taken: a wireguard-go in another network namespace answers on /var/run/wireguard/weft0.sock (its socket directory is shared by ' +
      'every namespace): choose another --interface']
  ]
  for (const [what, driver, probes, message, uid] of cases) await t.rejects(plan(driver, probes, uid), { code: 'WEFT_ERR_CONFIG', message }, what)
  t.same(await plan('auto', host({ uapiDir: { path: '/run/wireguard', exists: true, facts: dir(999, 0o755) } }), 999),
    { action: 'create', driver: 'userspace', binary: '/usr/bin/wireguard-go' }, 'a service user with a directory of its own (RuntimeDirectory=wireguard)')
})

t.test('on this machine: no module, wireguard-go in PATH', async (t) => {
  t.same(await kernelWireguardProbe(undefined), { ok: false, detail: 'Unknown device type' })
  t.match(await which('wireguard-go', process.env.PATH ?? ''), /\/wireguard-go$/)
  t.equal(await which('no-such-command-here', process.env.PATH ?? ''), null)
  t.equal(await which('/etc/passwd', ''), null, 'not executable')
  t.equal(ipReason('`ip link add x type wireguard` failed: Error: Unknown device type.'), 'Unknown device type')
  t.equal(ipReason('`ip link add x type wireguard` failed: RTNETLINK answers: Operation not permitted'), 'RTNETLINK answers: Operation not permitted')
})
