import { checkTrustFits, type ControllerTrust } from '../client/trust.js'
import { parseControllerUrl } from '../client/url.js'
import { bool, durationMs, intInRange, MAX_TIMER_MS, oneOf, path, port, withDefaults } from '../config-check.js'
import { ConfigError } from '../errors.js'
import { DEFAULT_LOG_LEVEL, LOG_LEVELS } from '../log.js'
import { isValidIfname } from './wg/exec.js'
import { parseEndpoint } from '../wire/addr.js'
import { checkPrefs, mergePrefs, PREF_DEFAULTS, type RoutePrefs } from './prefs.js'
import type { DriverChoice } from './wg/open.js'
import { DEFAULT_PRESET, PRESET_NAMES } from '../swim/config.js'
import { checkMetricsListen } from './metrics-server.js'

/** Everything `weft daemon` is told on its command line, validated. Each message names the field's flag. */
export interface DaemonConfig {
  /**
   * The controllers' base URLs (`--controller URL[,URL...]`), each with a proxy's path prefix if any; validated into
   * their normal form. Several controllers on one store (docs/controllers-etcd.md): the daemon uses one and moves to
   * the next when its link breaks. No default.
   */
  controllerUrls: string[]
  /** What an https:// controller must present (`--controller-ca`, `--controller-fingerprint`). Default: the system's CAs. */
  controllerTrust?: ControllerTrust
  /** State directory (`--state`): key, identity, last netmap, control socket. Default: `/var/lib/weft`, the FHS place for it. */
  stateDir: string
  /** WireGuard interface name (`--interface`), 1-15 characters (Linux's limit). No default. */
  ifname: string
  /** Join token (`--join-token`, `--join-token-file`), used when there is no saved identity. Default: none. */
  joinToken?: string
  /** WireGuard UDP port (`--listen-port`), 1-65534 (announcePort is one above). Default: 51820, WireGuard's customary port. */
  listenPort: number
  /** Advertised endpoints (`--endpoint`, host:port). Default: empty = every non-loopback address of the host with listenPort. */
  endpoints: string[]
  /** WireGuard driver (`--wg`). Default: `auto`: the kernel module if it works, else wireguard-go. */
  wg: DriverChoice
  /**
   * SWIM's UDP port on the mesh IP (`--swim-port`). Default: 7946, memberlist's port, so operators recognise it;
   * it is only reachable through WireGuard.
   */
  swimPort: number
  /** Underlay announcement port (all addresses). Default: listenPort + 1, so peers can derive it from the endpoint. */
  announcePort: number
  /** Interface MTU in bytes (`--mtu`), 1280-65535. Default: 1420 = 1500 minus WireGuard-over-IPv6's 80 bytes (wg-quick's choice). */
  mtu: number
  /** Name to register with (`--hostname`). Default: the host name. */
  hostname?: string
  /**
   * How often the daemon re-probes members SWIM holds dead over the underlay, in ms. Default: 5000 — a healed
   * partition or a node restarted while the controller is down is back within one period plus a round trip,
   * at a cost of one small datagram per dead member per period.
   */
  deadAnnounceIntervalMs: number
  /**
   * SWIM preset (`--swim-preset`, lib/swim/config.ts PRESETS). Default: `mesh`, tuned for one region. `lan` probes
   * five times less often (1 s): for meshes across regions, and for many nodes sharing a few cores (docs/swim.md).
   */
  swimPreset: string
  /**
   * WireGuard persistent keepalive for every peer (`--keepalive`), in seconds (1-65535). Default: 25, WireGuard's
   * value for NAT and firewall mappings. It cannot be off: a keepalive is what sends the handshake initiation when
   * a peer is added (docs/wireguard.md, "Who starts the handshake"). Each node sends (N-1)/keepalive packets a
   * second when idle, so a dense one-host simulation raises it (docs/sim.md).
   */
  keepaliveSeconds: number
  /**
   * `IP:PORT` of the Prometheus endpoint (`GET /metrics`, `--metrics-listen`). Default: none, no endpoint (and
   * prom-client is not even loaded). A mesh address, or a wildcard that includes the mesh IP, is refused unless
   * metricsAllowMesh.
   */
  metricsListen?: string
  /** Allow metricsListen on a mesh address, where every peer can scrape it (`--metrics-allow-mesh`). Default: false. */
  metricsAllowMesh: boolean
  /** Log level (`--log-level`, lib/log.ts LOG_LEVELS). Default: `info`. */
  logLevel: string
  /**
   * Route preferences given as flags (`--advertise-routes`, `--advertise-exit-node`, `--route-priority`,
   * `--accept-routes`, `--exit-node`, `--exit-node-allow-lan`; prefs.ts). Default: the values saved by the last
   * flag or `weft set` (prefs.json), else PREF_DEFAULTS: advertise nothing, use every approved route, no exit node.
   */
  routePrefs: Partial<RoutePrefs>
  /**
   * Source NAT for traffic this node forwards from the mesh to its routes (`--snat-routes`). Default: true, so
   * hosts behind the router answer without a route back to the mesh; false keeps mesh source addresses.
   */
  snatRoutes: boolean
  /**
   * How long a router that came back must stay alive before it takes a route back from a live one, in ms (`--route-hold-down`).
   * Default: 10000: several SWIM probe rounds, so a router that flaps moves no route, while a failover itself
   * never waits (docs/routes.md, "Failover").
   */
  routeHoldDownMs: number
  /**
   * Answer DNS for the mesh's names on the mesh IP, port 53, and point the host's resolver at it (`--accept-dns`;
   * docs/dns.md). Default: true. False: no resolver and no change to the host.
   */
  acceptDns: boolean
  /**
   * Forward questions about names outside the mesh's domain to the resolvers the host had (`--dns-forward`).
   * Default: true, so a host whose resolv.conf points at Weft resolves everything; false answers them REFUSED.
   */
  dnsForward: boolean
  /**
   * Where systemd-resolved does not run, point /etc/resolv.conf at the mesh resolver, and put it back on
   * `weft leave` (`--dns-manage-resolv-conf`). Default: false: a file other tools manage is not touched unasked.
   */
  dnsManageResolvConf: boolean
}

/** What a caller gives: the controller and the interface, and any other field to override its default. */
export type DaemonConfigInput = Partial<DaemonConfig> & Pick<DaemonConfig, 'controllerUrls' | 'ifname'>

/** The default of every field that has one (announcePort is derived: listenPort + 1); the fields say why. */
export const DEFAULTS = Object.freeze({
  stateDir: '/var/lib/weft',
  listenPort: 51820,
  endpoints: Object.freeze([]) as readonly string[],
  wg: 'auto' as DriverChoice,
  swimPort: 7946,
  mtu: 1420,
  deadAnnounceIntervalMs: 5000,
  swimPreset: DEFAULT_PRESET as string,
  keepaliveSeconds: 25,
  metricsAllowMesh: false,
  logLevel: DEFAULT_LOG_LEVEL as string,
  routePrefs: Object.freeze({}) as Partial<RoutePrefs>,
  snatRoutes: true,
  routeHoldDownMs: 10_000,
  acceptDns: true,
  dnsForward: true,
  dnsManageResolvConf: false
})

/** The WireGuard drivers `--wg` takes. */
export const DRIVER_CHOICES: readonly DriverChoice[] = Object.freeze(['auto', 'kernel', 'userspace'] as const)

/** The range of each numeric field a flag sets, for resolve, the flag parser and help texts. */
export const LIMITS = Object.freeze({
  listenPort: { min: 1, max: 65534 },
  swimPort: { min: 1, max: 65535 },
  mtu: { min: 1280, max: 65535 },
  keepaliveSeconds: { min: 1, max: 65535 }
})

/**
 * Fills defaults into `input`, checks every field and returns the complete config, frozen. Throws ConfigError
 * naming the flag (or field) to fix and what it must be.
 */
export function resolve (input: DaemonConfigInput): Readonly<DaemonConfig> {
  const given = withDefaults<DaemonConfig>({ ...DEFAULTS, endpoints: [] }, input)
  const c: DaemonConfig = { ...given, announcePort: given.announcePort ?? given.listenPort + 1, endpoints: [...given.endpoints] }
  if (typeof c.routePrefs !== 'object' || c.routePrefs === null) throw new ConfigError('routePrefs must be an object')
  c.routePrefs = checkPrefs(c.routePrefs as Record<string, unknown>)
  mergePrefs(PREF_DEFAULTS, c.routePrefs) // flags that exclude each other are refused before anything starts
  bool('--snat-routes', c.snatRoutes)
  bool('--accept-dns', c.acceptDns)
  bool('--dns-forward', c.dnsForward)
  if (bool('--dns-manage-resolv-conf', c.dnsManageResolvConf) && !c.acceptDns) throw new ConfigError('--dns-manage-resolv-conf needs --accept-dns')
  durationMs('--route-hold-down', c.routeHoldDownMs, 0, MAX_TIMER_MS)
  if (!Array.isArray(c.controllerUrls) || c.controllerUrls.length === 0) throw new ConfigError('--controller needs at least one URL')
  const urls = c.controllerUrls.map(u => parseControllerUrl(u))
  for (const url of urls) checkTrustFits(url, c.controllerTrust ?? {})
  if (new Set(urls.map(u => u.href)).size < urls.length) throw new ConfigError('--controller names one controller twice')
  path('--state', c.stateDir)
  if (typeof c.ifname !== 'string' || !isValidIfname(c.ifname)) {
    throw new ConfigError(`--interface "${c.ifname}" is not usable: 1-15 characters of A-Z a-z 0-9 _ . - (Linux limits names to 15)`)
  }
  if (c.joinToken !== undefined && c.joinToken.trim() === '') throw new ConfigError('--join-token is empty')
  port('--listen-port', c.listenPort, LIMITS.listenPort.min, LIMITS.listenPort.max)
  port('--swim-port', c.swimPort, LIMITS.swimPort.min, LIMITS.swimPort.max)
  port('--announce-port', c.announcePort)
  if (c.announcePort === c.listenPort) throw new ConfigError('--announce-port must differ from --listen-port (WireGuard owns that port)')
  // WireGuard binds its port on every address, the mesh IP included, and so does the announcer: SWIM's bind would fail.
  if (c.swimPort === c.listenPort) {
    throw new ConfigError(`--swim-port must differ from --listen-port ${c.listenPort} (WireGuard listens on it on every address)`)
  }
  if (c.swimPort === c.announcePort) {
    throw new ConfigError(`--swim-port must differ from ${c.announcePort}, the underlay announcement port (--listen-port + 1, on every address)`)
  }
  for (const e of c.endpoints) {
    if (parseEndpoint(e) === null) throw new ConfigError(`--endpoint "${e}" is not host:port (IPv6 in brackets: [2001:db8::1]:51820)`)
  }
  oneOf('--wg', c.wg, DRIVER_CHOICES)
  intInRange('--mtu', c.mtu, LIMITS.mtu.min, LIMITS.mtu.max)
  durationMs('deadAnnounceIntervalMs', c.deadAnnounceIntervalMs, 100, MAX_TIMER_MS)
  oneOf('--swim-preset', c.swimPreset, PRESET_NAMES)
  intInRange('--keepalive', c.keepaliveSeconds, LIMITS.keepaliveSeconds.min, LIMITS.keepaliveSeconds.max, 'seconds')
  // Syntax only: whether the address is on the mesh is known once the CIDR is (checkMetricsListen).
  if (c.metricsListen !== undefined) checkMetricsListen(c.metricsListen, '0.0.0.0/32', true)
  if (bool('--metrics-allow-mesh', c.metricsAllowMesh) && c.metricsListen === undefined) throw new ConfigError('--metrics-allow-mesh needs --metrics-listen')
  oneOf('--log-level', c.logLevel, LOG_LEVELS)
  Object.freeze(c.endpoints)
  Object.freeze(c.routePrefs)
  return Object.freeze({ ...c, controllerUrls: Object.freeze(urls.map(u => u.href)) as string[] })
}
