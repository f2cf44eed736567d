import { bool, durationMs, intInRange, MAX_RETENTION_MS, oneOf, path, withDefaults } from '../config-check.js'
import { ConfigError } from '../errors.js'
import { DEFAULT_LOG_LEVEL, LOG_LEVELS } from '../log.js'
import { DEFAULT_DNS_DOMAIN, domainProblem } from '../wire/names.js'
import { parseMeshCidr } from './ipam.js'
import { parseAutoApprove } from './routing.js'

/**
 * Every tunable of the controller, with its unit in its name and the reason for its default.
 * `resolve` fills defaults and validates; nonsense fails start-up with a ConfigError naming the flag to fix.
 */
export interface ControllerConfig {
  /** Data directory (LevelDB, controller key, admin key). Created on first start, mode 0700. No default. */
  dataDir: string
  /** Listen address `host:port`. Default: `127.0.0.1:8080` (loopback until an operator opts into exposure). */
  listen: string
  /** Mesh CIDR from which IPs are handed out. Default: `100.64.0.0/10` (CGNAT space, clear of RFC 1918 LANs). */
  cidr: string
  /**
   * The DNS domain of the nodes' names: each node is `<name>.<domain>` on every daemon's resolver (docs/dns.md).
   * Default: `weft.internal` (`.internal` is reserved for private networks, so it never shadows a public name).
   * Every controller of one store must be given the same.
   */
  dnsDomain: string
  /** PEM certificate file; with tlsKeyFile or not at all. Default: none (plain HTTP, for loopback or behind a TLS proxy). */
  tlsCertFile?: string
  /** PEM private key file of tlsCertFile. Default: none. */
  tlsKeyFile?: string
  /** How often daemons heartbeat. Default: 5000 (a stale node is noticed in three missed beats = 15 s). */
  heartbeatIntervalMs: number
  /** Control evidence goes stale this long after the last heartbeat. Default: 15000 (3 heartbeats; one lost packet is no alarm). */
  controlStaleMs: number
  /**
   * Control evidence goes stale this long after a node's last update channel closed without a reconnect.
   * Default: 3000 (a restarting daemon reconnects in well under 1 s; a dead host's TCP reset arrives at once).
   */
  streamGraceMs: number
  /** A SWIM report counts as mesh evidence for this long. Default: 15000 (same window as control evidence, so both sides age alike). */
  reportFreshMs: number
  /**
   * A registration proof's timestamp may differ from the controller clock by this much.
   * Default: 60000 (NTP-synced hosts are within ms; 60 s tolerates bad clocks without making replays cheap).
   */
  proofSkewMs: number
  /** A removed node's mesh IP is not handed to another key for this long. Default: 7 days (long enough for stale DNS, ACLs and peer configs to expire). */
  ipQuarantineMs: number
  /**
   * How long a join token stays on record (listed by `weft token list` with its state) after it stopped
   * admitting nodes: expired, spent or revoked. Default: 7 days (long enough to answer "which token did
   * this node join with, and who revoked it", short enough that the list stays readable).
   */
  tokenRetentionMs: number
  /** Interval between `ping` lines on update channels. Default: 15000 (below typical 60 s idle timeouts of proxies and NAT). */
  streamPingIntervalMs: number
  /**
   * Least time between two published netmap versions, ms; 0 publishes every change on the next tick.
   * Default: 1000. A lone change still goes out at once; changes arriving within the interval after a version
   * are published together when it ends. Every version costs every daemon one apply, work proportional to
   * the netmap, so a fleet joining or flapping at once gets one version a second rather than one per change:
   * at N=200 that is the difference between a fraction of a core and all of it (docs/controller.md, "Netmap pacing").
   */
  netmapIntervalMs: number
  /**
   * Least time between the last netmap version and one that carries only health changes (a live node turning
   * online, control-lost, mesh-lost or offline), ms. Default: 5000. No daemon's WireGuard config depends on
   * these, and SWIM uses them only as one more confirmation of a suspicion it already has, so seconds of delay
   * cost nothing; a flap that reverts within the wait is never published. On a loaded host late heartbeats
   * flipped nodes between online and control-lost within a second, hundreds of times in an N=200 join, each
   * flip a version for every daemon (docs/controller.md, "Netmap pacing"). Joins, leaves, endpoint changes
   * and removals keep netmapIntervalMs. `weft nodes list` shows the current health at once.
   */
  netmapHealthIntervalMs: number
  /** Deltas kept in memory for catch-up; older clients get a full map. Default: 1024 (20 min of one change per second). */
  deltaHistory: number
  /** An update channel whose unsent bytes exceed this is closed (the daemon reconnects and catches up). Default: 4 MiB. */
  maxChannelBufferBytes: number
  /** Request body limit. Default: 65536 (a registration is < 2 KiB; 64 KiB leaves room for many endpoints). */
  bodyLimitBytes: number
  /** Registrations per client IP per minute; 0 disables. Default: 600 (a fleet behind one NAT can join at 10/s; benchmarks pass 0). */
  registerRatePerMin: number
  /**
   * Failed authentications per client IP per minute before that IP gets 429.
   * Default: 30 (a guessing attacker is slowed to 30/min; a misconfigured daemon with backoff stays well under).
   */
  authFailuresPerMin: number
  /** Log level, one of lib/log.ts LOG_LEVELS. Default: `info` (lib/log.ts DEFAULT_LOG_LEVEL). */
  logLevel: string
  /**
   * How long a store that failed a write waits between attempts to reopen and verify its database, ms.
   * Default: 2000. Writes are refused meanwhile; an attempt costs one LevelDB open and a read of every
   * record (milliseconds at 10 000 nodes), and on a still-full disk it fails at once, so a freed disk is
   * back in use within about two seconds.
   */
  storeRetryMs: number
  /**
   * Start on a database that is behind its store guard (damaged, deleted, or an older backup), serving what it
   * holds. Default: false: such a start is refused, because serving it would forget nodes and hand their
   * mesh IPs to others. When set, the loss is logged (`store.data_loss_accepted`), the guard is rewritten
   * and every address up to the guard's high-water mark that no remaining node holds stays reserved.
   */
  acceptDataLoss: boolean
  /** Write a new `DIR/admin.key` at start; the old admin key stops working. Default: false. */
  rotateAdminKey: boolean
  /**
   * Where the durable state lives: `leveldb`, embedded in the data directory (one controller), or `etcd`, a
   * cluster several controllers share (docs/store.md). Default: `leveldb`.
   */
  store: 'leveldb' | 'etcd'
  /** Client URLs of the etcd members, for `--store etcd`. Default: none (required with it). */
  etcdEndpoints: string[]
  /** Key prefix of this mesh's records in etcd. Default: `/weft/` (one cluster can hold several meshes under other prefixes). */
  etcdPrefix: string
  /** PEM files for TLS to etcd: the CA, and the client certificate and key. Default: none (plain HTTP to etcd). */
  etcdCaFile?: string
  etcdCertFile?: string
  etcdKeyFile?: string
  /**
   * Deadline of one etcd request, ms. Default: 5000: a member election takes about a second at etcd's default
   * timings, so a write waits through one, and a cluster without quorum is refused within seconds.
   */
  etcdTimeoutMs: number
  /**
   * Advertised routes approved without an admin: subnet routes inside these CIDRs, and exit nodes when the list
   * holds `exit`. Default: none (every route waits for `weft routes approve`, as a route lets a node attract
   * other nodes' traffic).
   */
  autoApproveRoutes: string[]
}

/** The fields a caller may omit. */
export type ControllerConfigInput = Partial<ControllerConfig> & { dataDir: string }

/** Default values of every optional field; each field says why. */
export const DEFAULTS: Readonly<Omit<ControllerConfig, 'dataDir'>> = Object.freeze({
  listen: '127.0.0.1:8080',
  cidr: '100.64.0.0/10',
  dnsDomain: DEFAULT_DNS_DOMAIN,
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
  logLevel: DEFAULT_LOG_LEVEL,
  storeRetryMs: 2000,
  acceptDataLoss: false,
  rotateAdminKey: false,
  store: 'leveldb',
  etcdEndpoints: [],
  etcdPrefix: '/weft/',
  etcdTimeoutMs: 5000,
  autoApproveRoutes: []
})

/** The flag that sets each field; messages name it, since operators know the flags. */
export const FLAGS: Readonly<Partial<Record<keyof ControllerConfig, string>>> = Object.freeze({
  dataDir: '--data',
  listen: '--listen',
  cidr: '--cidr',
  dnsDomain: '--dns-domain',
  tlsCertFile: '--tls-cert',
  tlsKeyFile: '--tls-key',
  heartbeatIntervalMs: '--heartbeat-interval',
  controlStaleMs: '--control-stale',
  streamGraceMs: '--stream-grace',
  reportFreshMs: '--report-fresh',
  proofSkewMs: '--proof-skew',
  ipQuarantineMs: '--ip-quarantine',
  tokenRetentionMs: '--token-retention',
  streamPingIntervalMs: '--stream-ping',
  netmapIntervalMs: '--netmap-interval',
  netmapHealthIntervalMs: '--netmap-health-interval',
  registerRatePerMin: '--register-rate',
  authFailuresPerMin: '--auth-failures',
  logLevel: '--log-level',
  storeRetryMs: '--store-retry',
  acceptDataLoss: '--accept-data-loss',
  rotateAdminKey: '--rotate-admin-key',
  autoApproveRoutes: '--auto-approve-routes',
  store: '--store',
  etcdEndpoints: '--etcd-endpoints',
  etcdPrefix: '--etcd-prefix',
  etcdCaFile: '--etcd-ca',
  etcdCertFile: '--etcd-cert',
  etcdKeyFile: '--etcd-key',
  etcdTimeoutMs: '--etcd-timeout'
})

/** The range of each numeric field a flag sets, for resolve, the flag parser and help texts. */
export const LIMITS = Object.freeze({
  registerRatePerMin: { min: 0, max: 1_000_000 },
  authFailuresPerMin: { min: 1, max: 1_000_000 }
})

/** The store flags: etcd's only with `--store etcd`, and then its endpoints and a prefix etcd can hold. */
function checkStore (c: ControllerConfig): void {
  oneOf('--store', c.store, ['leveldb', 'etcd'])
  const etcdFlags = (['etcdCaFile', 'etcdCertFile', 'etcdKeyFile'] as const).filter(k => c[k] !== undefined)
  if (c.store !== 'etcd') {
    if (c.etcdEndpoints.length > 0 || etcdFlags.length > 0) throw new ConfigError('--etcd-* flags need --store etcd')
    return
  }
  if (!Array.isArray(c.etcdEndpoints) || c.etcdEndpoints.length === 0) {
    throw new ConfigError('--store etcd needs --etcd-endpoints URL[,URL...], e.g. http://127.0.0.1:2379')
  }
  for (const e of c.etcdEndpoints) {
    let u: URL | null = null
    try { u = new URL(e) } catch {}
    if (u === null || !['http:', 'https:'].includes(u.protocol) || u.port === '' || u.pathname !== '/') {
      throw new ConfigError(`--etcd-endpoints: "${e}" is not an etcd client URL such as http://10.1.0.5:2379`)
    }
  }
  if (typeof c.etcdPrefix !== 'string' || !/^\/[\x21-\x7e]{0,200}$/.test(c.etcdPrefix)) {
    throw new ConfigError(`--etcd-prefix must start with / and hold printable characters only (got "${String(c.etcdPrefix)}")`)
  }
  if ((c.etcdCertFile === undefined) !== (c.etcdKeyFile === undefined)) throw new ConfigError('--etcd-cert and --etcd-key go together: give both or neither')
  if (c.etcdCertFile !== undefined && c.etcdCaFile === undefined) {
    throw new ConfigError('--etcd-cert needs --etcd-ca, the CA that signed the members\' certificates')
  }
  for (const k of etcdFlags) path(label(k), c[k])
  durationMs('--etcd-timeout', c.etcdTimeoutMs, 100)
  if (c.acceptDataLoss) throw new ConfigError('--accept-data-loss is for a LevelDB data directory; etcd keeps its own replicas')
}

/** Splits `host:port` (IPv6 in brackets). Throws ConfigError on anything else. */
export function parseListen (listen: string): { host: string, port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/.exec(listen)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || port > 65535) throw new ConfigError(`--listen must be host:port, e.g. ${DEFAULTS.listen} (got "${listen}")`)
  return { host: m[1] ?? m[2]!, port }
}

/** A field's name as an operator knows it: its flag, or the field itself when no flag sets it. */
function label (key: keyof ControllerConfig): string {
  return FLAGS[key] ?? key
}

/**
 * Fills defaults into `input`, checks every field and returns the complete config, frozen. Throws ConfigError
 * naming the flag (or the field, where no flag sets it) and what it must be.
 */
export function resolve (input: ControllerConfigInput): Readonly<ControllerConfig> {
  const c = withDefaults<ControllerConfig>(DEFAULTS, input)
  if (typeof c.dataDir !== 'string' || c.dataDir === '') throw new ConfigError('--data DIR is required')
  path('--data', c.dataDir)
  parseListen(c.listen)
  parseMeshCidr(c.cidr)
  const domainWhy = typeof c.dnsDomain === 'string' ? domainProblem(c.dnsDomain) : 'must be a string'
  if (domainWhy !== null) throw new ConfigError(`--dns-domain "${String(c.dnsDomain)}": ${domainWhy}`)
  if ((c.tlsCertFile === undefined) !== (c.tlsKeyFile === undefined)) throw new ConfigError('--tls-cert and --tls-key go together: give both or neither')
  if (c.tlsCertFile !== undefined) path('--tls-cert', c.tlsCertFile)
  if (c.tlsKeyFile !== undefined) path('--tls-key', c.tlsKeyFile)
  const ms = (key: keyof ControllerConfig, minMs: number, maxMs?: number): void => { durationMs(label(key), c[key], minMs, maxMs) }
  const int = (key: keyof ControllerConfig, min: number, max: number, unit = ''): void => { intInRange(label(key), c[key], min, max, unit) }
  ms('heartbeatIntervalMs', 100)
  ms('controlStaleMs', 1)
  ms('streamGraceMs', 1)
  ms('reportFreshMs', 1)
  ms('proofSkewMs', 1000)
  ms('ipQuarantineMs', 0, MAX_RETENTION_MS)
  ms('tokenRetentionMs', 0, MAX_RETENTION_MS)
  ms('streamPingIntervalMs', 100)
  ms('netmapIntervalMs', 0)
  ms('netmapHealthIntervalMs', 0)
  int('deltaHistory', 1, 1_000_000)
  int('maxChannelBufferBytes', 65536, 2 ** 30, 'bytes')
  int('bodyLimitBytes', 1024, 2 ** 30, 'bytes')
  int('registerRatePerMin', LIMITS.registerRatePerMin.min, LIMITS.registerRatePerMin.max)
  int('authFailuresPerMin', LIMITS.authFailuresPerMin.min, LIMITS.authFailuresPerMin.max)
  oneOf('--log-level', c.logLevel, LOG_LEVELS)
  ms('storeRetryMs', 10)
  bool('--accept-data-loss', c.acceptDataLoss)
  bool('--rotate-admin-key', c.rotateAdminKey)
  checkStore(c)
  if (!Array.isArray(c.autoApproveRoutes)) throw new ConfigError('--auto-approve-routes must be a list of CIDRs and `exit`')
  parseAutoApprove(c.autoApproveRoutes)
  if (c.controlStaleMs <= c.heartbeatIntervalMs) {
    throw new ConfigError(`--control-stale (${c.controlStaleMs} ms) must exceed --heartbeat-interval (${c.heartbeatIntervalMs} ms), ` +
      'or every node flaps between beats')
  }
  return Object.freeze(c)
}
