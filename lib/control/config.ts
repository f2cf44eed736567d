import { ConfigError } from '../errors.js'
import { parseMeshCidr } from './ipam.js'

/**
 * Every tunable of the controller, with its unit in its name and the reason for its default.
 * `resolveConfig` fills defaults and validates; nonsense fails start-up with a ConfigError saying what to fix.
 */
export interface ControllerConfig {
  /** Data directory (LevelDB, controller key, admin key). Created on first start, mode 0700. No default. */
  dataDir: string
  /** Listen address `host:port`. Default: `127.0.0.1:8080` (loopback until an operator opts into exposure). */
  listen: string
  /** Mesh CIDR from which IPs are handed out. Default: `100.64.0.0/10` (CGNAT space, clear of RFC 1918 LANs). */
  cidr: string
  /** PEM certificate and key files; both or neither. Default: none (plain HTTP, for loopback or behind a TLS proxy). */
  tlsCertFile?: string
  tlsKeyFile?: string
  /** How often daemons heartbeat. Default: 5000 (a stale node is noticed in three missed beats = 15 s). */
  heartbeatIntervalMs: number
  /** Control evidence goes stale this long after the last heartbeat. Default: 15000 (3 heartbeats; one lost packet is no alarm). */
  controlStaleMs: number
  /** Control evidence goes stale this long after a node's last update channel closed without a reconnect. Default: 3000 (a restarting daemon reconnects in well under 1 s; a dead host's TCP reset arrives at once). */
  streamGraceMs: number
  /** A SWIM report counts as mesh evidence for this long. Default: 15000 (same window as control evidence, so both sides age alike). */
  reportFreshMs: number
  /** A registration proof's timestamp may differ from the controller clock by this much. Default: 60000 (NTP-synced hosts are within ms; 60 s tolerates bad clocks without making replays cheap). */
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
  /** Failed authentications per client IP per minute before that IP gets 429. Default: 30 (a guessing attacker is slowed to 30/min; a misconfigured daemon with backoff stays well under). */
  authFailuresPerMin: number
  /** Log level. Default: info. */
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
}

/** The fields a caller may omit. */
export type ControllerConfigInput = Partial<ControllerConfig> & { dataDir: string }

/** Default values of every optional field. */
export const DEFAULTS: Omit<ControllerConfig, 'dataDir'> = {
  listen: '127.0.0.1:8080',
  cidr: '100.64.0.0/10',
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
  rotateAdminKey: false
}

/** Splits `host:port` (IPv6 in brackets). Throws ConfigError on anything else. */
export function parseListen (listen: string): { host: string, port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/.exec(listen)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || port > 65535) throw new ConfigError(`--listen must be host:port, e.g. 127.0.0.1:8080 (got "${listen}")`)
  return { host: m[1] ?? m[2]!, port }
}

function positive (c: ControllerConfig, key: keyof ControllerConfig, min: number): void {
  const v = c[key]
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new ConfigError(`${key} must be a number >= ${min} (got ${String(v)})`)
}

/** Fills defaults and validates; throws ConfigError naming the field to fix. */
export function resolveConfig (input: ControllerConfigInput): ControllerConfig {
  const c: ControllerConfig = { ...DEFAULTS, ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) } as ControllerConfig
  if (typeof c.dataDir !== 'string' || c.dataDir === '') throw new ConfigError('--data DIR is required')
  parseListen(c.listen)
  parseMeshCidr(c.cidr)
  if ((c.tlsCertFile === undefined) !== (c.tlsKeyFile === undefined)) throw new ConfigError('--tls-cert and --tls-key go together: give both or neither')
  positive(c, 'heartbeatIntervalMs', 100)
  positive(c, 'controlStaleMs', 1)
  positive(c, 'streamGraceMs', 1)
  positive(c, 'reportFreshMs', 1)
  positive(c, 'proofSkewMs', 1000)
  positive(c, 'ipQuarantineMs', 0)
  positive(c, 'tokenRetentionMs', 0)
  positive(c, 'streamPingIntervalMs', 100)
  positive(c, 'netmapIntervalMs', 0)
  positive(c, 'netmapHealthIntervalMs', 0)
  positive(c, 'deltaHistory', 1)
  positive(c, 'maxChannelBufferBytes', 65536)
  positive(c, 'bodyLimitBytes', 1024)
  positive(c, 'registerRatePerMin', 0)
  positive(c, 'authFailuresPerMin', 1)
  positive(c, 'storeRetryMs', 10)
  if (c.controlStaleMs <= c.heartbeatIntervalMs) {
    throw new ConfigError(`--control-stale (${c.controlStaleMs} ms) must exceed --heartbeat-interval (${c.heartbeatIntervalMs} ms), or every node flaps between beats`)
  }
  return c
}
