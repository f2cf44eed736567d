import t from 'tap'
import { DEFAULTS, FLAGS, LIMITS, parseListen, resolve, type ControllerConfig } from '../../lib/control/config.js'
import { MAX_RETENTION_MS, MAX_TIMER_MS } from '../../lib/config-check.js'

const dataDir = '/tmp/weft-data'

t.test('the data directory is enough: every other field takes its default, frozen', async (t) => {
  const c = resolve({ dataDir })
  t.same(c, { ...DEFAULTS, dataDir })
  t.ok(Object.isFrozen(c) && Object.isFrozen(DEFAULTS))
  t.equal(resolve({ dataDir, heartbeatIntervalMs: undefined }).heartbeatIntervalMs, DEFAULTS.heartbeatIntervalMs, 'an undefined field takes its default')
  t.same(DEFAULTS, {
    listen: '127.0.0.1:8080',
    cidr: '100.64.0.0/10',
    dnsDomain: 'weft.internal',
    heartbeatIntervalMs: 5000,
    controlStaleMs: 15000,
    streamGraceMs: 3000,
    reportFreshMs: 15000,
    proofSkewMs: 60000,
    ipQuarantineMs: 7 * 86_400_000,
    tokenRetentionMs: 7 * 86_400_000,
    streamPingIntervalMs: 15000,
    netmapIntervalMs: 1000,
    netmapHealthIntervalMs: 5000,
    deltaHistory: 1024,
    maxChannelBufferBytes: 4 * 1024 * 1024,
    bodyLimitBytes: 65536,
    registerRatePerMin: 600,
    authFailuresPerMin: 30,
    logLevel: 'info',
    storeRetryMs: 2000,
    acceptDataLoss: false,
    rotateAdminKey: false,
    store: 'leveldb',
    etcdEndpoints: [],
    etcdPrefix: '/weft/',
    etcdTimeoutMs: 5000,
    autoApproveRoutes: []
  }, 'the documented defaults')
})

t.test('the store flags: etcd needs its endpoints, and its flags need --store etcd', async (t) => {
  const etcd = { dataDir, store: 'etcd' as const, etcdEndpoints: ['http://127.0.0.1:2379'] }
  t.equal(resolve(etcd).etcdPrefix, '/weft/')
  const bad: Array<[Partial<ControllerConfig>, RegExp]> = [
    [{ store: 'mysql' as 'etcd' }, /--store must be one of leveldb, etcd/],
    [{ store: 'etcd' }, /--store etcd needs --etcd-endpoints/],
    [{ etcdEndpoints: ['http://127.0.0.1:2379'] }, /--etcd-\* flags need --store etcd/],
    [{ ...etcd, etcdEndpoints: ['127.0.0.1:2379'] }, /"127.0.0.1:2379" is not an etcd client URL/],
    [{ ...etcd, etcdPrefix: 'weft' }, /--etcd-prefix must start with \//],
    [{ ...etcd, etcdCertFile: '/c.pem' }, /--etcd-cert and --etcd-key go together/],
    [{ ...etcd, etcdCertFile: '/c.pem', etcdKeyFile: '/k.pem' }, /--etcd-cert needs --etcd-ca/],
    [{ ...etcd, acceptDataLoss: true }, /--accept-data-loss is for a LevelDB data directory/]
  ]
  for (const [input, message] of bad) t.throws(() => resolve({ dataDir, ...input }), { code: 'WEFT_ERR_CONFIG', message }, JSON.stringify(input))
})

t.test('each range edge is accepted, one beyond it refused with a message naming the flag and the range', async (t) => {
  // controlStaleMs must exceed heartbeatIntervalMs: the base keeps the two apart so only the field under test can fail.
  const base = { dataDir, heartbeatIntervalMs: 100, controlStaleMs: MAX_TIMER_MS }
  const cases: Array<[keyof ControllerConfig, number, number, string]> = [
    ['heartbeatIntervalMs', 100, MAX_TIMER_MS - 1, 'a duration from 100ms to 24d'],
    ['controlStaleMs', 101, MAX_TIMER_MS, 'a duration from 1ms to 24d'],
    ['streamGraceMs', 1, MAX_TIMER_MS, 'a duration from 1ms to 24d'],
    ['reportFreshMs', 1, MAX_TIMER_MS, 'a duration from 1ms to 24d'],
    ['proofSkewMs', 1000, MAX_TIMER_MS, 'a duration from 1s to 24d'],
    ['ipQuarantineMs', 0, MAX_RETENTION_MS, 'a duration from 0s to 3650d'],
    ['tokenRetentionMs', 0, MAX_RETENTION_MS, 'a duration from 0s to 3650d'],
    ['streamPingIntervalMs', 100, MAX_TIMER_MS, 'a duration from 100ms to 24d'],
    ['netmapIntervalMs', 0, MAX_TIMER_MS, 'a duration from 0s to 24d'],
    ['netmapHealthIntervalMs', 0, MAX_TIMER_MS, 'a duration from 0s to 24d'],
    ['storeRetryMs', 10, MAX_TIMER_MS, 'a duration from 10ms to 24d'],
    ['deltaHistory', 1, 1_000_000, 'a whole number from 1 to 1000000'],
    ['maxChannelBufferBytes', 65536, 2 ** 30, 'a whole number from 65536 to 1073741824 bytes'],
    ['bodyLimitBytes', 1024, 2 ** 30, 'a whole number from 1024 to 1073741824 bytes'],
    ['registerRatePerMin', LIMITS.registerRatePerMin.min, LIMITS.registerRatePerMin.max, 'a whole number from 0 to 1000000'],
    ['authFailuresPerMin', LIMITS.authFailuresPerMin.min, LIMITS.authFailuresPerMin.max, 'a whole number from 1 to 1000000']
  ]
  for (const [field, min, max, range] of cases) {
    const name = FLAGS[field] ?? field
    for (const v of [min, max]) t.equal(resolve({ ...base, [field]: v })[field], v, `${name} ${v} accepted`)
    const floor = field === 'controlStaleMs' ? 1 : min
    const ceiling = field === 'heartbeatIntervalMs' ? MAX_TIMER_MS : max
    for (const v of [floor - 1, ceiling + 1, min + 0.5, Number.NaN]) {
      t.throws(() => resolve({ ...base, [field]: v }), { code: 'WEFT_ERR_CONFIG', message: `${name} must be ${range} (got ` }, `${name} ${v} refused`)
    }
  }
})

t.test('messages name the flag an operator sets, or the field where no flag sets it', async (t) => {
  t.throws(() => resolve({ dataDir, heartbeatIntervalMs: 50 }), { message: '--heartbeat-interval must be a duration from 100ms to 24d (got 50 ms)' })
  t.throws(() => resolve({ dataDir, registerRatePerMin: -1 }), { message: '--register-rate must be a whole number from 0 to 1000000 (got -1)' })
  t.throws(() => resolve({ dataDir, deltaHistory: 0 }), { message: 'deltaHistory must be a whole number from 1 to 1000000 (got 0)' })
})

t.test('each bad value fails with a sentence saying what to fix', async (t) => {
  const cases: Array<[Partial<ControllerConfig>, RegExp]> = [
    [{ dataDir: '' }, /--data DIR is required/],
    [{ listen: '8080' }, /--listen must be host:port, e\.g\. 127\.0\.0\.1:8080 \(got "8080"\)/],
    [{ listen: '127.0.0.1:70000' }, /--listen must be host:port/],
    [{ cidr: '10.0.0.0/40' }, /CIDR|cidr/],
    [{ tlsCertFile: '/c.pem' }, /--tls-cert and --tls-key go together/],
    [{ tlsKeyFile: '/k.pem' }, /--tls-cert and --tls-key go together/],
    [{ tlsCertFile: '', tlsKeyFile: '/k.pem' }, /--tls-cert must be a non-empty path/],
    [{ controlStaleMs: 5000 }, /--control-stale \(5000 ms\) must exceed --heartbeat-interval \(5000 ms\)/],
    [{ logLevel: 'loud' }, /--log-level must be one of fatal, error, warn, info, debug, trace, silent \(got "loud"\)/],
    [{ acceptDataLoss: 'yes' as never }, /--accept-data-loss must be true or false/],
    [{ rotateAdminKey: 1 as never }, /--rotate-admin-key must be true or false/]
  ]
  for (const [patch, re] of cases) t.throws(() => resolve({ dataDir, ...patch }), { code: 'WEFT_ERR_CONFIG', message: re }, JSON.stringify(patch))
})

t.test('parseListen splits host and port, IPv6 in brackets; port 0 asks for a free one', async (t) => {
  t.same(parseListen(DEFAULTS.listen), { host: '127.0.0.1', port: 8080 })
  t.same(parseListen('[::1]:0'), { host: '::1', port: 0 })
})

t.test('--auto-approve-routes takes CIDRs and exit, and names a bad entry', async (t) => {
  t.same(resolve({ dataDir, autoApproveRoutes: ['192.0.2.0/24', 'exit'] }).autoApproveRoutes, ['192.0.2.0/24', 'exit'])
  t.throws(() => resolve({ dataDir, autoApproveRoutes: ['192.0.2.0/33'] }), { code: 'WEFT_ERR_CONFIG', message: /--auto-approve-routes: "192\.0\.2\.0\/33" is not an IPv4 CIDR/ })
})
