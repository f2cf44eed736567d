import { createLogger, LOG_LEVELS } from '../lib/log.js'
import { systemClock } from '../lib/clock.js'
import { ConfigError } from '../lib/errors.js'
import { Controller } from '../lib/control/controller.js'
import { DEFAULTS, LIMITS, resolve, type ControllerConfig } from '../lib/control/config.js'
import { formatDuration as d } from '../lib/config-check.js'
import { parseDuration, parseFlags, parseIntFlag, splitList, type Command } from './cli.js'
import { withConfigFile } from './config-file.js'
import { backup, restore } from './controller-backup.js'
import { migrate } from './controller-migrate.js'
import { STORE_FLAGS, storeConfig } from './etcd-flags.js'

const USAGE = `Usage: weft controller --data DIR [flags]
       weft controller --config FILE [flags]
       weft controller migrate --from-data DIR --store etcd --etcd-endpoints URL[,URL...] (weft controller migrate --help)
       weft controller backup --out FILE [--controller URL --admin-key FILE]   (weft controller backup --help)
       weft controller restore --data DIR FILE                                 (weft controller restore --help)

Runs the controller: registration, IPAM, netmap, health. First start creates DIR with the controller key
and DIR/admin.key (mode 0600; pass it to admin commands with --admin-key).

Flags:
  --config FILE               JSON file (comments allowed) whose keys are these flags without dashes, e.g.
                              {"data": "/var/lib/weft-controller", "etcd-endpoints": ["https://a:2379"]};
                              a flag given here replaces its key (docs/operations.md, "Config files")
  --data DIR                  data directory (required)
  --listen HOST:PORT          listen address (default ${DEFAULTS.listen}; port 0 picks a free one)
  --cidr CIDR                 mesh CIDR (default ${DEFAULTS.cidr}; fixed once the data dir exists)
  --dns-domain DOMAIN         domain of the nodes' names, NAME.DOMAIN (default ${DEFAULTS.dnsDomain}; docs/dns.md)
  --tls-cert FILE             PEM certificate (with --tls-key) to serve HTTPS; its SHA-256 fingerprint is
                              printed at start for --controller-fingerprint (docs/tls.md)
  --tls-key FILE              PEM private key
  --heartbeat-interval DUR    daemon heartbeat interval (default ${d(DEFAULTS.heartbeatIntervalMs)})
  --control-stale DUR         control evidence stale after no heartbeat for (default ${d(DEFAULTS.controlStaleMs)})
  --stream-grace DUR          ... or after the update channel is closed for (default ${d(DEFAULTS.streamGraceMs)})
  --report-fresh DUR          a SWIM report counts for (default ${d(DEFAULTS.reportFreshMs)})
  --proof-skew DUR            allowed registration clock skew (default ${d(DEFAULTS.proofSkewMs)})
  --ip-quarantine DUR         a removed node's IP is not reused for (default ${d(DEFAULTS.ipQuarantineMs)})
  --token-retention DUR       a join token that expired, was spent or revoked stays listed for (default ${d(DEFAULTS.tokenRetentionMs)})
  --stream-ping DUR           keepalive on update channels (default ${d(DEFAULTS.streamPingIntervalMs)})
  --netmap-interval DUR       least time between two netmap versions, 0ms = none (default ${d(DEFAULTS.netmapIntervalMs)})
  --netmap-health-interval DUR  ... before a version with health changes only (default ${d(DEFAULTS.netmapHealthIntervalMs)})
  --auto-approve-routes LIST  approve advertised routes inside these CIDRs, and exit nodes if LIST has
                              \`exit\` (comma-separated; default none: \`weft routes approve\`; docs/routes.md)
  --register-rate N           registrations per client IP per minute, 0 = unlimited (default ${DEFAULTS.registerRatePerMin})
  --auth-failures N           failed authentications per IP per minute before 429 (default ${DEFAULTS.authFailuresPerMin})
  --store-retry DUR           after a failed write, how often to reopen and verify the database (default ${d(DEFAULTS.storeRetryMs)})
  --accept-data-loss          start on a database that lost acknowledged writes (damaged, deleted, an older
                              backup); logs what was lost and keeps the forgotten nodes' IPs reserved
  --rotate-admin-key          write a new DATA/admin.key; the old admin key stops working
  --store leveldb|etcd        where the registry lives: LevelDB in DATA (default), or an etcd cluster that
                              several controllers share (docs/store.md)
  --etcd-endpoints URLS       the etcd members' client URLs, comma-separated (with --store etcd)
  --etcd-prefix PREFIX        key prefix of this mesh in etcd (default ${DEFAULTS.etcdPrefix})
  --etcd-ca FILE              PEM CA of the etcd members, for https:// endpoints
  --etcd-cert FILE            PEM client certificate for etcd (with --etcd-key)
  --etcd-key FILE             PEM client key for etcd
  --etcd-timeout DUR          deadline of one etcd request (default ${d(DEFAULTS.etcdTimeoutMs)})
  --log-level LEVEL           ${LOG_LEVELS.join(', ')} (default ${DEFAULTS.logLevel})
`

/** The flags of `weft controller`, `--config` included. */
const OPTIONS = {
  data: { type: 'string' },
  listen: { type: 'string' },
  cidr: { type: 'string' },
  'dns-domain': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'heartbeat-interval': { type: 'string' },
  'control-stale': { type: 'string' },
  'stream-grace': { type: 'string' },
  'report-fresh': { type: 'string' },
  'proof-skew': { type: 'string' },
  'ip-quarantine': { type: 'string' },
  'token-retention': { type: 'string' },
  'stream-ping': { type: 'string' },
  'netmap-interval': { type: 'string' },
  'netmap-health-interval': { type: 'string' },
  'register-rate': { type: 'string' },
  'auth-failures': { type: 'string' },
  'store-retry': { type: 'string' },
  'accept-data-loss': { type: 'boolean' },
  'rotate-admin-key': { type: 'boolean' },
  'auto-approve-routes': { type: 'string' },
  ...STORE_FLAGS,
  'log-level': { type: 'string' },
  config: { type: 'string' }
} as const

/** How a config file's values map onto the flags that take a list. */
const FILE_KEYS = { lists: ['auto-approve-routes', 'etcd-endpoints'] }

/**
 * The controller config that `argv` (the flags after `weft controller`, with the keys of a `--config` file) asks for;
 * null when it asks for `--help`. Throws ConfigError naming the flag, or the file and key, of a value that cannot work.
 */
export function controllerConfig (argv: string[]): Readonly<ControllerConfig> | null {
  const args = withConfigFile(argv, OPTIONS, USAGE, FILE_KEYS)
  if (args === null) return null
  const v = parseFlags(args.argv, OPTIONS, USAGE)!.values
  return args.attribute(() => {
    if (v.data === undefined) throw new ConfigError(`--data DIR is required\n\n${USAGE}`)
    const dur = (name: string): number | undefined => {
      const s = (v as Record<string, string | undefined>)[name]
      return s === undefined ? undefined : parseDuration(s, `--${name}`)
    }
    const int = (name: 'register-rate' | 'auth-failures', range: { min: number, max: number }): number | undefined => {
      const s = v[name]
      return s === undefined ? undefined : parseIntFlag(s, `--${name}`, range.min, range.max)
    }
    return resolve({
      dataDir: v.data,
      listen: v.listen,
      cidr: v.cidr,
      dnsDomain: v['dns-domain']?.toLowerCase().replace(/\.$/, ''),
      tlsCertFile: v['tls-cert'],
      tlsKeyFile: v['tls-key'],
      heartbeatIntervalMs: dur('heartbeat-interval'),
      controlStaleMs: dur('control-stale'),
      streamGraceMs: dur('stream-grace'),
      reportFreshMs: dur('report-fresh'),
      proofSkewMs: dur('proof-skew'),
      ipQuarantineMs: dur('ip-quarantine'),
      tokenRetentionMs: dur('token-retention'),
      streamPingIntervalMs: dur('stream-ping'),
      netmapIntervalMs: dur('netmap-interval'),
      netmapHealthIntervalMs: dur('netmap-health-interval'),
      registerRatePerMin: int('register-rate', LIMITS.registerRatePerMin),
      authFailuresPerMin: int('auth-failures', LIMITS.authFailuresPerMin),
      storeRetryMs: dur('store-retry'),
      acceptDataLoss: v['accept-data-loss'],
      rotateAdminKey: v['rotate-admin-key'],
      autoApproveRoutes: v['auto-approve-routes'] === undefined ? undefined : splitList(v['auto-approve-routes']),
      ...storeConfig(v),
      logLevel: v['log-level']
    })
  })
}

/** Exit status when the store can only be made consistent by a restart (EX_TEMPFAIL: the supervisor restarts). */
const EXIT_RESTART = 75

/**
 * `weft controller`: parses flags, starts the controller, stops it on SIGINT/SIGTERM. Exits 75 when the
 * store asks for a restart.
 */
export const command: Command = {
  summary: 'run the controller',
  async run (argv) {
    if (argv[0] === 'migrate') return await migrate.run(argv.slice(1))
    if (argv[0] === 'backup') return await backup.run(argv.slice(1))
    if (argv[0] === 'restore') return await restore.run(argv.slice(1))
    const config = controllerConfig(argv)
    if (config === null) return 0
    const log = createLogger({ level: config.logLevel, name: 'weft-controller' })
    let stop: (code: number) => void = () => {}
    const stopped = new Promise<number>(resolve => { stop = resolve })
    const ctl = await Controller.start(config, { clock: systemClock, log, onRestartRequired: () => stop(EXIT_RESTART) })
    if (ctl.tlsFingerprint !== null) {
      process.stdout.write(`weft controller: serving ${ctl.url} with TLS certificate ${ctl.tlsFingerprint}\n` +
        `  daemons and admin commands that do not trust its CA: --controller-fingerprint ${ctl.tlsFingerprint}\n`)
    }
    process.once('SIGINT', () => stop(0))
    process.once('SIGTERM', () => stop(0))
    const code = await stopped
    await ctl.close()
    return code
  }
}
