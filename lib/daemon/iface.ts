/**
 * Interface addressing: the mesh IP as a /32, the MTU, link up, and one route for the mesh CIDR via the
 * interface. Idempotent: it reads the current state and changes only what differs, so adopting a running
 * interface after a daemon restart changes nothing and disturbs no traffic.
 *
 * Why /32 plus an explicit route rather than `meshIp/prefix`: the route is then one object Weft owns and
 * can check and replace on its own, and a mesh IP change never leaves a stale connected route behind.
 */
import { ConfigError } from '../errors.js'
import type { Logger } from '../log.js'
import { parseCidr, parseIPv4 } from '../wire/addr.js'
import { ipCmd, run, type Netns } from './wg/exec.js'
import { DEFAULTS, LIMITS } from './config.js'

/** Options of ensureInterface. */
export interface InterfaceSetup {
  ifname: string
  /** This node's mesh IPv4 address; set as `meshIp/32`. */
  meshIp: string
  /** The mesh CIDR routed through the interface, e.g. 100.64.0.0/10. */
  cidr: string
  /** Link MTU in bytes. Default: DaemonConfig.mtu's (lib/daemon/config.ts DEFAULTS.mtu, which says why). */
  mtu?: number
  netns?: Netns
  log: Logger
}

/** What ensureInterface changed; all false after a restart that adopted a correctly set-up interface. */
export interface InterfaceChanges {
  mtu: boolean
  up: boolean
  address: boolean
  /** Addresses removed because they were not the mesh IP (for example after a mesh IP change). */
  removedAddresses: string[]
  route: boolean
}

interface IpLink { mtu: number, flags: string[] }
interface IpAddr { addr_info?: Array<{ family: string, local: string, prefixlen: number }> }
interface IpRoute { dst: string, dev?: string }

/**
 * Brings `ifname` to: MTU set, up, exactly one IPv4 address `meshIp/32`, and a route `cidr dev ifname`.
 * Throws ConfigError for a malformed mesh IP or CIDR, DeviceError when `ip` fails.
 */
export async function ensureInterface (s: InterfaceSetup): Promise<InterfaceChanges> {
  if (parseIPv4(s.meshIp) === null) throw new ConfigError(`mesh IP "${s.meshIp}" is not an IPv4 address`)
  if (parseCidr(s.cidr) === null) throw new ConfigError(`mesh CIDR "${s.cidr}" is not an IPv4 CIDR such as 100.64.0.0/10`)
  const mtu = s.mtu ?? DEFAULTS.mtu
  const { min, max } = LIMITS.mtu
  if (!Number.isInteger(mtu) || mtu < min || mtu > max) throw new ConfigError(`MTU ${mtu} is out of range ${min}-${max}`)
  const ip = (...args: string[]): string[] => ipCmd(s.netns, ...args)
  const changes: InterfaceChanges = { mtu: false, up: false, address: false, removedAddresses: [], route: false }

  const link = (JSON.parse((await run(ip('-j', 'link', 'show', 'dev', s.ifname))).stdout) as IpLink[])[0]
  if (link?.mtu !== mtu) {
    await run(ip('link', 'set', 'dev', s.ifname, 'mtu', String(mtu)))
    changes.mtu = true
  }
  if (!(link?.flags ?? []).includes('UP')) {
    await run(ip('link', 'set', 'dev', s.ifname, 'up'))
    changes.up = true
  }

  const addrs = (JSON.parse((await run(ip('-j', '-4', 'addr', 'show', 'dev', s.ifname))).stdout) as IpAddr[])[0]?.addr_info ?? []
  let have = false
  for (const a of addrs) {
    if (a.family !== 'inet') continue
    if (a.local === s.meshIp && a.prefixlen === 32) { have = true; continue }
    await run(ip('addr', 'del', `${a.local}/${a.prefixlen}`, 'dev', s.ifname))
    changes.removedAddresses.push(`${a.local}/${a.prefixlen}`)
  }
  if (!have) {
    await run(ip('addr', 'add', `${s.meshIp}/32`, 'dev', s.ifname))
    changes.address = true
  }

  const routes = JSON.parse((await run(ip('-j', '-4', 'route', 'show', 'dev', s.ifname))).stdout) as IpRoute[]
  if (!routes.some(r => r.dst === s.cidr)) {
    await run(ip('route', 'replace', s.cidr, 'dev', s.ifname))
    changes.route = true
  }
  if (changes.mtu || changes.up || changes.address || changes.route || changes.removedAddresses.length > 0) {
    s.log.info({ event: 'wg.iface', ifname: s.ifname, meshIp: s.meshIp, cidr: s.cidr, mtu, changes }, 'interface set up')
  }
  return changes
}
