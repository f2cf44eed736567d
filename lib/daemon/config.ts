import { checkTrustFits, type ControllerTrust } from '../client/trust.js'
import { parseControllerUrl } from '../client/url.js'
import { ConfigError } from '../errors.js'
import { isValidIfname } from './wg/exec.js'
import { parseEndpoint } from '../wire/addr.js'
import type { DriverChoice } from './wg/open.js'
import { PRESETS } from '../swim/config.js'
import { checkMetricsListen } from './metrics-server.js'

/** Everything `weft daemon` is told on its command line, validated. */
export interface DaemonConfig {
  /** The controller's base URL, with a proxy's path prefix if any; validated into its normal form. */
  controllerUrl: string
  /** What an https:// controller must present (`--controller-ca`, `--controller-fingerprint`). Default: the system's CAs. */
  controllerTrust?: ControllerTrust
  stateDir: string
  ifname: string
  joinToken?: string
  /** WireGuard UDP port. Default: 51820, WireGuard's customary port. */
  listenPort: number
  /** Advertised endpoints; empty = every non-loopback address of the host with listenPort. */
  endpoints: string[]
  wg: DriverChoice
  /**
   * SWIM's UDP port on the mesh IP. Default: 7946, memberlist's port, so operators recognise it; it is only
   * reachable through WireGuard.
   */
  swimPort: number
  /** Underlay announcement port (all addresses). Default: listenPort + 1, so peers can derive it from the endpoint. */
  announcePort: number
  /** Interface MTU. Default: 1420 (see lib/daemon/iface.ts). */
  mtu: number
  hostname?: string
  /**
   * How often the daemon re-probes members SWIM holds dead over the underlay, in ms. Default: 5000 — a healed
   * partition or a node restarted while the controller is down is back within one period plus a round trip,
   * at a cost of one small datagram per dead member per period.
   */
  deadAnnounceIntervalMs: number
  /**
   * SWIM preset (lib/swim/config.ts PRESETS). Default: `mesh`, tuned for one region. `lan` probes five times
   * less often (1 s): for meshes across regions, and for many nodes sharing a few cores (docs/swim.md).
   */
  swimPreset: string
  /**
   * WireGuard persistent keepalive for every peer, in seconds (1-65535). Default: 25, WireGuard's value for
   * NAT and firewall mappings. It cannot be off: a keepalive is what sends the handshake initiation when a
   * peer is added (docs/wireguard.md, "Who starts the handshake"). Each node sends (N-1)/keepalive packets a
   * second when idle, so a dense one-host simulation raises it (docs/sim.md).
   */
  keepaliveSeconds: number
  /**
   * `IP:PORT` of the Prometheus endpoint (`GET /metrics`). Default: none, no endpoint (and prom-client is not
   * even loaded). A mesh address, or a wildcard that includes the mesh IP, is refused unless metricsAllowMesh.
   */
  metricsListen?: string
  /** Allow metricsListen on a mesh address, where every peer can scrape it. Default: false. */
  metricsAllowMesh?: boolean
}

/** Defaults for every optional field of DaemonConfig. */
export const DAEMON_DEFAULTS = { listenPort: 51820, swimPort: 7946, mtu: 1420, wg: 'auto' as DriverChoice, deadAnnounceIntervalMs: 5000, swimPreset: 'mesh', keepaliveSeconds: 25 }

/** Returns `name` when it is a SWIM preset (lib/swim/config.ts PRESETS); throws ConfigError naming --swim-preset otherwise. */
export function checkSwimPreset (name: string): string {
  if (!Object.hasOwn(PRESETS, name)) throw new ConfigError(`--swim-preset must be one of ${Object.keys(PRESETS).join(', ')} (got "${name}")`)
  return name
}

/** Validates a DaemonConfig; each failure says what to fix. */
export function validateDaemonConfig (c: DaemonConfig): DaemonConfig {
  const url = parseControllerUrl(c.controllerUrl)
  checkTrustFits(url, c.controllerTrust ?? {})
  if (!isValidIfname(c.ifname)) throw new ConfigError(`--interface "${c.ifname}" is not usable: 1-15 characters of A-Z a-z 0-9 _ . - (Linux limits names to 15)`)
  for (const [flag, port] of [['--listen-port', c.listenPort], ['--swim-port', c.swimPort], ['--announce-port', c.announcePort]] as const) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`${flag} must be a port from 1 to 65535 (got ${port})`)
  }
  if (c.announcePort === c.listenPort) throw new ConfigError('--announce-port must differ from --listen-port (WireGuard owns that port)')
  // WireGuard binds its port on every address, the mesh IP included, and so does the announcer: SWIM's bind would fail.
  if (c.swimPort === c.listenPort) throw new ConfigError(`--swim-port must differ from --listen-port ${c.listenPort} (WireGuard listens on it on every address)`)
  if (c.swimPort === c.announcePort) throw new ConfigError(`--swim-port must differ from ${c.announcePort}, the underlay announcement port (--listen-port + 1, on every address)`)
  for (const e of c.endpoints) {
    if (parseEndpoint(e) === null) throw new ConfigError(`--endpoint "${e}" is not host:port (IPv6 in brackets: [2001:db8::1]:51820)`)
  }
  if (!['auto', 'kernel', 'userspace'].includes(c.wg)) throw new ConfigError(`--wg must be auto, kernel or userspace (got ${c.wg})`)
  if (!Number.isInteger(c.mtu) || c.mtu < 1280 || c.mtu > 65535) throw new ConfigError(`--mtu must be from 1280 to 65535 (got ${c.mtu})`)
  checkSwimPreset(c.swimPreset)
  if (!Number.isInteger(c.keepaliveSeconds) || c.keepaliveSeconds < 1 || c.keepaliveSeconds > 65535) throw new ConfigError(`--keepalive must be from 1 to 65535 seconds (got ${c.keepaliveSeconds})`)
  if (c.joinToken !== undefined && c.joinToken.trim() === '') throw new ConfigError('--join-token is empty')
  // Syntax only: whether the address is on the mesh is known once the CIDR is (checkMetricsListen).
  if (c.metricsListen !== undefined) checkMetricsListen(c.metricsListen, '0.0.0.0/32', true)
  if (c.metricsAllowMesh === true && c.metricsListen === undefined) throw new ConfigError('--metrics-allow-mesh needs --metrics-listen')
  return { ...c, controllerUrl: url.href }
}
