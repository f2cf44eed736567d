import t from 'tap'
import { DEFAULTS, LIMITS, resolve, type DaemonConfig, type DaemonConfigInput } from '../../lib/daemon/config.js'
import { MAX_TIMER_MS } from '../../lib/config-check.js'

const required = { controllerUrls: ['http://198.18.0.1:8080/'], ifname: 'weft0' }
const good = (): DaemonConfigInput => ({ ...required, stateDir: '/tmp/x' })

t.test('the controller and the interface are enough: every other field takes its default, frozen', async (t) => {
  const c = resolve(required)
  const want: DaemonConfig = {
    ...DEFAULTS, endpoints: [], routePrefs: {}, controllerUrls: ['http://198.18.0.1:8080'], ifname: 'weft0', announcePort: DEFAULTS.listenPort + 1
  }
  t.same(c, want)
  t.same(DEFAULTS, {
    stateDir: '/var/lib/weft',
    listenPort: 51820,
    endpoints: [],
    wg: 'auto',
    swimPort: 7946,
    mtu: 1420,
    deadAnnounceIntervalMs: 5000,
    swimPreset: 'mesh',
    keepaliveSeconds: 25,
    metricsAllowMesh: false,
    logLevel: 'info',
    routePrefs: {},
    snatRoutes: true,
    routeHoldDownMs: 10000,
    acceptDns: true,
    dnsForward: true,
    dnsManageResolvConf: false
  }, 'the documented defaults')
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.endpoints), 'frozen, endpoints too')
  t.equal(resolve({ ...required, stateDir: undefined, mtu: undefined }).mtu, DEFAULTS.mtu, 'an undefined field takes its default')
  t.equal(resolve({ ...required, listenPort: 4000 }).announcePort, 4001, 'the announcement port follows --listen-port')
})

t.test('advertised routes are checked and put in canonical order; a bad one is refused naming the flag', async (t) => {
  const prefs = (p: Record<string, unknown>): DaemonConfigInput => ({ ...good(), routePrefs: p })
  t.same(resolve(prefs({ advertiseRoutes: ['198.51.100.0/24', '192.0.2.0/24'] })).routePrefs, { advertiseRoutes: ['192.0.2.0/24', '198.51.100.0/24'] })
  t.throws(() => resolve(prefs({ advertiseRoutes: ['192.0.2.9/24'] })), { code: 'WEFT_ERR_CONFIG', message: /--advertise-routes: 192\.0\.2\.9\/24 has host bits set/ })
  t.throws(() => resolve(prefs({ advertiseRoutes: ['0.0.0.0/0'] })), { message: /--advertise-routes: 0\.0\.0\.0\/0 is every address/ })
  t.throws(() => resolve(prefs({ routePriority: 1001 })), { message: /--route-priority/ })
  t.throws(() => resolve(prefs({ advertiseExitNode: true, exitNode: 'auto' })), { message: /--advertise-exit-node and --exit-node auto exclude each other/ })
  t.throws(() => resolve(prefs({ exitNode: 'two words' })), { message: /--exit-node must be none, auto, or a node/ })
})

t.test('a good config passes, trailing slashes trimmed, a path prefix kept', async (t) => {
  t.same(resolve(good()).controllerUrls, ['http://198.18.0.1:8080'])
  t.same(resolve({ ...good(), controllerUrls: ['https://proxy.example/weft/'] }).controllerUrls, ['https://proxy.example/weft'])
})

t.test('several controllers: each checked, none twice', async (t) => {
  t.same(resolve({ ...good(), controllerUrls: ['http://198.18.0.1:8080/', 'http://198.18.0.2:8080'] }).controllerUrls,
    ['http://198.18.0.1:8080', 'http://198.18.0.2:8080'])
  t.throws(() => resolve({ ...good(), controllerUrls: [] }), { message: /--controller needs at least one URL/ })
  t.throws(() => resolve({ ...good(), controllerUrls: ['http://198.18.0.1:8080', 'nope'] }), { message: /--controller "nope" has no scheme/ })
  t.throws(() => resolve({ ...good(), controllerUrls: ['http://198.18.0.1:8080/', 'http://198.18.0.1:8080'] }), { message: /names one controller twice/ })
})

t.test('each range edge is accepted, one beyond it refused with a message naming the flag and the range', async (t) => {
  const cases: Array<[keyof DaemonConfig, string, number, number, RegExp]> = [
    ['listenPort', '--listen-port', LIMITS.listenPort.min, LIMITS.listenPort.max, /--listen-port must be a port from 1 to 65534 \(got/],
    ['swimPort', '--swim-port', LIMITS.swimPort.min, LIMITS.swimPort.max, /--swim-port must be a port from 1 to 65535 \(got/],
    ['announcePort', '--announce-port', 1, 65535, /--announce-port must be a port from 1 to 65535 \(got/],
    ['mtu', '--mtu', LIMITS.mtu.min, LIMITS.mtu.max, /--mtu must be a whole number from 1280 to 65535 \(got/],
    ['keepaliveSeconds', '--keepalive', LIMITS.keepaliveSeconds.min, LIMITS.keepaliveSeconds.max,
      /--keepalive must be a whole number from 1 to 65535 seconds \(got/],
    ['deadAnnounceIntervalMs', 'deadAnnounceIntervalMs', 100, MAX_TIMER_MS, /deadAnnounceIntervalMs must be a duration from 100ms to 24d \(got/]
  ]
  for (const [field, flag, min, max, message] of cases) {
    for (const v of [min, max]) t.equal(resolve({ ...good(), [field]: v })[field], v, `${flag} ${v} accepted`)
    for (const v of [min - 1, max + 1, min + 0.5, Number.NaN]) {
      t.throws(() => resolve({ ...good(), [field]: v }), { code: 'WEFT_ERR_CONFIG', message }, `${flag} ${v} refused`)
    }
  }
})

t.test('each bad flag fails with a sentence naming the flag', async (t) => {
  const cases: Array<[Partial<DaemonConfig>, RegExp]> = [
    [{ controllerUrls: ['nope'] }, /--controller "nope" has no scheme/],
    [{ controllerUrls: ['198.18.0.1:8443'] }, /--controller "198\.18\.0\.1:8443" has no scheme: write https:\/\/198\.18\.0\.1:8443/],
    [{ controllerUrls: ['http://x'], controllerTrust: { fingerprint: `sha256:${'0'.repeat(64)}` } }, /apply to an https:\/\/ controller/],
    [{ controllerUrls: ['ftp://x'] }, /http:\/\/ or https:\/\//],
    [{ stateDir: '' }, /--state must be a non-empty path/],
    [{ ifname: 'a-very-long-interface' }, /--interface .*15/],
    [{ ifname: '' }, /--interface/],
    [{ listenPort: 0 }, /--listen-port/],
    [{ swimPort: 70000 }, /--swim-port/],
    [{ announcePort: 51820 }, /--announce-port must differ/],
    [{ swimPort: 51820 }, /--swim-port must differ from --listen-port 51820/],
    [{ swimPort: 51821 }, /--swim-port must differ from 51821, the underlay announcement port/],
    [{ endpoints: ['198.18.0.2'] }, /--endpoint "198.18.0.2" is not host:port/],
    [{ wg: 'magic' as never }, /--wg must be one of auto, kernel, userspace \(got "magic"\)/],
    [{ mtu: 500 }, /--mtu/],
    [{ joinToken: '  ' }, /--join-token is empty/],
    [{ swimPreset: 'fast' }, /--swim-preset must be one of mesh, lan, local/],
    [{ swimPreset: 'toString' }, /--swim-preset/],
    [{ keepaliveSeconds: 0 }, /--keepalive must be a whole number from 1/],
    [{ metricsAllowMesh: 'yes' as never }, /--metrics-allow-mesh must be true or false/],
    [{ logLevel: 'loud' }, /--log-level must be one of fatal, error, warn, info, debug, trace, silent \(got "loud"\)/],
    [{ acceptDns: 'no' as never }, /--accept-dns must be true or false/],
    [{ dnsForward: 1 as never }, /--dns-forward must be true or false/],
    [{ acceptDns: false, dnsManageResolvConf: true }, /--dns-manage-resolv-conf needs --accept-dns/]
  ]
  for (const [patch, re] of cases) t.throws(() => resolve({ ...good(), ...patch }), { code: 'WEFT_ERR_CONFIG', message: re }, JSON.stringify(patch))
})
