/**
 * The naming and addressing scheme of a netns world. Every name starts with the run prefix (`wf` + 4 base36
 * characters) so that a later run can recognise and remove what a crashed one left, and so that interface
 * names are unique machine-wide (wireguard-go's UAPI socket directory is shared by all namespaces).
 */
import { randomBytes } from 'node:crypto'
import { formatIPv4, parseIPv4 } from '../../lib/wire/addr.js'

/** Matches a run prefix. */
export const PREFIX_RE = /^wf[a-z0-9]{4}$/

/** Matches a namespace name of any run and captures its prefix. */
export const NETNS_RE = /^(wf[a-z0-9]{4})-(br|ctl|n\d+|l\d+)$/

/** Where runs keep their owner record and pid files (tmpfs: gone after a reboot, like the namespaces). */
export const RUN_ROOT = '/run/weft-netns'

/**
 * Where `ip netns exec NS` finds files it bind-mounts over /etc inside NS: a world gives each node namespace a
 * resolv.conf of its own here, so that what a daemon reads as the host's resolvers is inside the world.
 */
export const NETNS_ETC = '/etc/netns'

/** A fresh random run prefix, e.g. `wf3k9z`. */
export function newPrefix (): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  const bytes = randomBytes(4)
  let s = 'wf'
  for (const b of bytes) s += alphabet[b % alphabet.length]
  return s
}

/** Underlay network: 198.18.0.0/15 (RFC 2544 benchmarking range, never routed off the machine). */
export const UNDERLAY_PREFIX_LEN = 15
const NODE_BASE = parseIPv4('198.18.1.1')!
/** Largest node count the addressing allows (198.18.1.1 up to 198.19.255.254). */
export const MAX_NODES = parseIPv4('198.19.255.254')! - NODE_BASE + 1

/** Every name of one run, derived from its prefix. Node indexes start at 0. */
export class WorldNames {
  constructor (readonly prefix: string) {
    if (!PREFIX_RE.test(prefix)) throw new Error(`run prefix "${prefix}" does not match ${String(PREFIX_RE)}`)
  }

  /** Namespace holding the underlay bridge. */
  get bridgeNs (): string { return `${this.prefix}-br` }
  /** The bridge interface inside bridgeNs. */
  get bridge (): string { return `${this.prefix}br` }
  /** Controller namespace. */
  get controllerNs (): string { return `${this.prefix}-ctl` }
  /** Controller's underlay interface. */
  get controllerEth (): string { return `${this.prefix}ec` }
  /** Bridge-side veth of the controller. */
  get controllerPort (): string { return `${this.prefix}bc` }
  /** Controller's underlay address. */
  get controllerAddr (): string { return '198.18.0.1' }

  /** Namespace of node `i`. */
  nodeNs (i: number): string { return `${this.prefix}-n${i}` }
  /** Node `i`'s underlay interface (inside its namespace). */
  nodeEth (i: number): string { return `${this.prefix}e${i}` }
  /** Bridge-side veth of node `i`. */
  nodePort (i: number): string { return `${this.prefix}b${i}` }
  /** Node `i`'s WireGuard interface name, unique machine-wide. */
  nodeWg (i: number): string { return `${this.prefix}w${i}` }
  /** Node `i`'s underlay address. */
  nodeAddr (i: number): string {
    if (!Number.isInteger(i) || i < 0 || i >= MAX_NODES) throw new Error(`node index ${i} out of range 0..${MAX_NODES - 1}`)
    return formatIPv4(NODE_BASE + i)
  }

  /** Namespace of LAN `k`: a bridge behind its routers, and the LAN's own host address on it. */
  lanNs (k: number): string { return `${this.prefix}-l${k}` }
  /** LAN `k`'s bridge (inside lanNs). */
  lanBridge (k: number): string { return `${this.prefix}L${k}` }
  /** Node `i`'s interface on a LAN (inside its namespace). */
  nodeLan (i: number): string { return `${this.prefix}r${i}` }
  /** The LAN-side veth of node `i` (inside lanNs). */
  lanPort (i: number): string { return `${this.prefix}p${i}` }

  /** This run's directory for its owner record and pid files. */
  get runDir (): string { return `${RUN_ROOT}/${this.prefix}` }
  /** Pid files of processes this run started. */
  get pidDir (): string { return `${this.runDir}/pids` }
}
