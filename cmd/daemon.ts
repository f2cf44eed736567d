import { readFileSync } from 'node:fs'
import { systemClock } from '../lib/clock.js'
import { DEFAULTS, DRIVER_CHOICES, LIMITS, resolve, type DaemonConfig } from '../lib/daemon/config.js'
import { DaemonRunner } from '../lib/daemon/runner.js'
import type { DriverChoice } from '../lib/daemon/wg/open.js'
import { ConfigError } from '../lib/errors.js'
import { createLogger, LOG_LEVELS } from '../lib/log.js'
import { WEFT_VERSION } from '../lib/version.js'
import { parseBoolFlag, parseDuration, parseFlags, parseIntFlag, splitList, type Command } from './cli.js'
import { formatDuration } from '../lib/config-check.js'
import { withConfigFile } from './config-file.js'
import { CONTROLLER_TRUST_FLAGS, CONTROLLER_TRUST_USAGE, controllerTrust } from './controller-flags.js'
import { ROUTE_PREF_OPTIONS, ROUTE_PREF_USAGE, routePrefsFromFlags } from './route-flags.js'

const KEEPALIVE = LIMITS.keepaliveSeconds

/**
 * Exit status after `weft leave`: the node left the mesh on purpose. weft-daemon.service names it in
 * RestartPreventExitStatus= and SuccessExitStatus=, so systemd neither restarts the daemon (which would join
 * the mesh again) nor counts the unit failed.
 */
export const EXIT_LEFT = 3

const USAGE = `Usage: weft daemon --controller URL[,URL...] --state DIR --interface IF [flags]
       weft daemon --config FILE [flags]

Runs this node: joins through the controller (first start needs --join-token-file), keeps the WireGuard
interface configured as a full mesh, runs SWIM failure detection, and keeps going from saved state
when the controller is down. SIGTERM stops the daemon but leaves the interface up (restart-safe);
\`weft leave\` tears it down.

  --config FILE         JSON file (comments allowed) whose keys are these flags without dashes, e.g.
                        {"interface": "weft0", "advertise-routes": ["10.0.0.0/24"]}; a flag given here
                        replaces its key; a file holding "join-token" must be readable by its owner only (docs/operations.md)
  --controller URL[,URL...]  controller base URL with its scheme, and a proxy's path prefix if any (or
                        WEFT_CONTROLLER); several controllers on one store: the daemon moves to the next
                        when its link breaks
${CONTROLLER_TRUST_USAGE}
  --state DIR           state directory: key (0600), identity, last netmap (or WEFT_STATE_DIR; default ${DEFAULTS.stateDir})
  --interface IF        WireGuard interface name, at most 15 characters
  --join-token-file F   file holding the join token from \`weft token create\`: used when there is no saved
                        identity, and to register again if the controller lost its record of this node
                        (never after a removal); preferred: a token on the command line is visible to every user in \`ps\`
  --join-token T        the join token itself
  --listen-port N       WireGuard UDP port (default ${DEFAULTS.listenPort}); underlay announcements use N+1
  --endpoint HOST:PORT  endpoint to advertise (repeatable; default: every non-loopback address with the listen port)
  --swim-port N         SWIM UDP port on the mesh IP (default ${DEFAULTS.swimPort})
  --wg ${DRIVER_CHOICES.join('|')}   WireGuard driver (default ${DEFAULTS.wg}: kernel if the module works, else wireguard-go)
  --swim-preset NAME    SWIM timing: mesh (one region), lan (1 s probes: across regions, or many nodes on few cores) or local (default ${DEFAULTS.swimPreset})
  --keepalive S         WireGuard persistent keepalive in seconds, ${KEEPALIVE.min}-${KEEPALIVE.max} (default ${DEFAULTS.keepaliveSeconds})
  --mtu N               interface MTU (default ${DEFAULTS.mtu})
  --hostname NAME       name to register with (default: the host name)
  --metrics-listen IP:PORT   serve Prometheus metrics at http://IP:PORT/metrics (default: off). A mesh
                        address, or 0.0.0.0/::, is refused: every peer could scrape it
  --metrics-allow-mesh  allow --metrics-listen on a mesh address anyway
  --log-level LEVEL     ${LOG_LEVELS.join(', ')} (default ${DEFAULTS.logLevel})

Routes (docs/routes.md):
${ROUTE_PREF_USAGE}
                        (these six are saved in the state directory; without the flag a restart keeps the last value)
  --snat-routes=BOOL    source-NAT what this node forwards to its routes and as an exit node (default ${String(DEFAULTS.snatRoutes)})
  --route-hold-down DUR a router that came back takes a route back after staying up this long (default ${formatDuration(DEFAULTS.routeHoldDownMs)})

Names (docs/dns.md):
  --accept-dns=BOOL     answer DNS for the mesh's names on the mesh IP, port 53, and point the host's
                        resolver at it (default ${String(DEFAULTS.acceptDns)}); false: neither
  --dns-forward=BOOL    forward other names to the host's own resolvers (default ${String(DEFAULTS.dnsForward)}); false: refuse them
  --dns-manage-resolv-conf  without systemd-resolved, point /etc/resolv.conf at the mesh resolver, and put
                        it back on \`weft leave\` (default: leave the file alone; \`weft status\` says how to query)
`

/** The range each integer flag takes (lib/daemon/config.ts LIMITS), so a bad value's message says it. */
const FLAG_LIMITS = { 'listen-port': LIMITS.listenPort, 'swim-port': LIMITS.swimPort, mtu: LIMITS.mtu, keepalive: LIMITS.keepaliveSeconds }

/** The flags of `weft daemon`, `--config` included. */
const OPTIONS = {
  controller: { type: 'string' },
  ...CONTROLLER_TRUST_FLAGS,
  state: { type: 'string' },
  interface: { type: 'string' },
  'join-token': { type: 'string' },
  'join-token-file': { type: 'string' },
  'listen-port': { type: 'string' },
  endpoint: { type: 'string', multiple: true },
  'swim-port': { type: 'string' },
  wg: { type: 'string' },
  mtu: { type: 'string' },
  'swim-preset': { type: 'string' },
  keepalive: { type: 'string' },
  hostname: { type: 'string' },
  'metrics-listen': { type: 'string' },
  'metrics-allow-mesh': { type: 'boolean' },
  'log-level': { type: 'string' },
  ...ROUTE_PREF_OPTIONS,
  'snat-routes': { type: 'string' },
  'route-hold-down': { type: 'string' },
  'accept-dns': { type: 'string' },
  'dns-forward': { type: 'string' },
  'dns-manage-resolv-conf': { type: 'boolean' },
  config: { type: 'string' }
} as const

/** How a config file's values map onto the flags: lists, `=BOOL` flags, and the join token, which only a private file may hold. */
const FILE_KEYS = {
  lists: ['controller', 'advertise-routes'],
  bools: ['accept-routes', 'exit-node-allow-lan', 'snat-routes', 'accept-dns', 'dns-forward'],
  secrets: ['join-token']
}

/**
 * The daemon config that `argv` (the flags after `weft daemon`, with the keys of a `--config` file, and their env
 * fallbacks) asks for; null when it asks for `--help`. Reads the join token file. Throws ConfigError naming the
 * flag, or the file and key, of a value that cannot work; no message holds the join token.
 */
export function daemonConfig (argv: string[]): Readonly<DaemonConfig> | null {
  const args = withConfigFile(argv, OPTIONS, USAGE, FILE_KEYS)
  if (args === null) return null
  const v = parseFlags(args.argv, OPTIONS, USAGE)!.values
  return args.attribute(() => {
    const controllers = v.controller ?? process.env.WEFT_CONTROLLER
    if (controllers === undefined) throw new ConfigError(`--controller is required\n\n${USAGE}`)
    if (v.interface === undefined) throw new ConfigError(`--interface is required\n\n${USAGE}`)
    let joinToken = v['join-token']
    if (joinToken !== undefined && v['join-token-file'] !== undefined) throw new ConfigError('give --join-token-file or --join-token, not both')
    if (v['join-token-file'] !== undefined) {
      try {
        joinToken = readFileSync(v['join-token-file'], 'utf8').trim()
      } catch (err) {
        throw new ConfigError(`cannot read --join-token-file: ${(err as Error).message}`)
      }
    }
    const int = (flag: keyof typeof FLAG_LIMITS): number | undefined => {
      const s = v[flag]
      return s === undefined ? undefined : parseIntFlag(s, `--${flag}`, FLAG_LIMITS[flag].min, FLAG_LIMITS[flag].max)
    }
    return resolve({
      controllerUrls: splitList(controllers),
      controllerTrust: controllerTrust(v),
      stateDir: v.state ?? process.env.WEFT_STATE_DIR,
      ifname: v.interface,
      joinToken,
      listenPort: int('listen-port'),
      endpoints: v.endpoint,
      wg: v.wg as DriverChoice | undefined,
      swimPort: int('swim-port'),
      mtu: int('mtu'),
      hostname: v.hostname,
      swimPreset: v['swim-preset'],
      keepaliveSeconds: int('keepalive'),
      metricsListen: v['metrics-listen'],
      metricsAllowMesh: v['metrics-allow-mesh'],
      logLevel: v['log-level'],
      routePrefs: routePrefsFromFlags(v),
      snatRoutes: v['snat-routes'] === undefined ? undefined : parseBoolFlag(v['snat-routes'], '--snat-routes'),
      routeHoldDownMs: v['route-hold-down'] === undefined ? undefined : parseDuration(v['route-hold-down'], '--route-hold-down'),
      acceptDns: v['accept-dns'] === undefined ? undefined : parseBoolFlag(v['accept-dns'], '--accept-dns'),
      dnsForward: v['dns-forward'] === undefined ? undefined : parseBoolFlag(v['dns-forward'], '--dns-forward'),
      dnsManageResolvConf: v['dns-manage-resolv-conf']
    })
  })
}

/** `weft daemon`: turns flags (and their env fallbacks) into a DaemonConfig input, resolves it and runs the daemon. */
export const command: Command = {
  summary: 'run the node daemon (WireGuard mesh + SWIM)',
  async run (argv) {
    const cfg = daemonConfig(argv)
    if (cfg === null) return 0
    const log = createLogger({ level: cfg.logLevel, name: 'weft-daemon' })
    // A signal during the start ends it and undoes what it did; once running, the interface stays up.
    const starting = new AbortController()
    let runner: DaemonRunner | null = null
    const onSignal = (sig: string): void => {
      if (runner === null) {
        log.info({ event: 'daemon.signal', signal: sig }, 'stopping during the start; undoing it')
        starting.abort()
        return
      }
      log.info({ event: 'daemon.signal', signal: sig }, 'stopping; the WireGuard interface stays up')
      void runner.stop()
    }
    process.once('SIGTERM', onSignal)
    process.once('SIGINT', onSignal)
    try {
      runner = await DaemonRunner.start(cfg, { clock: systemClock, log, agentVersion: WEFT_VERSION }, starting.signal)
    } catch (err) {
      if (starting.signal.aborted) return 0
      throw err
    }
    // After `weft leave` the service must not start the daemon again: it would join the mesh again.
    return await runner.done === 'left' ? EXIT_LEFT : 0
  }
}
