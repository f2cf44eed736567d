/**
 * Whether the ports the daemon binds are free, decided from the kernel's socket tables (/proc/net/udp, udp6,
 * tcp, tcp6 of the daemon's network namespace) before anything is started. A bind that fails later would
 * come after the registration and the interface; a table also says who holds the port, which a failed bind
 * does not.
 */
import { readdir, readFile, readlink } from 'node:fs/promises'
import { BlockList } from 'node:net'
import { endianness } from 'node:os'
import { ConfigError } from '../../errors.js'
import { CAP, hasCap, labelOf, type ProcessFacts } from './process.js'

/** One socket bound to a local port (a TCP one only while it listens). */
export interface BoundSocket {
  proto: 'udp' | 'tcp'
  family: 4 | 6
  /** Local address: `0.0.0.0` / `::` when bound to every address. */
  address: string
  port: number
  /** Owner of the socket. */
  uid: number
  /** Socket inode; 0 for a socket of the kernel's own (a kernel WireGuard interface, for one). */
  inode: number
}

/** A port the daemon is about to bind. */
export interface PortNeed {
  proto: 'udp' | 'tcp'
  family: 4 | 6
  port: number
  /**
   * Address it binds: `0.0.0.0` / `::` for every address, an IP literal, or null for an address this host
   * does not have yet (the mesh IP of a node that has not joined), which only a socket on every address can hold.
   */
  address: string | null
  /** What the port is, for the message, e.g. `--listen-port, WireGuard`. */
  what: string
  /** The flag that changes it. */
  flag: string
}

/** TCP state LISTEN in /proc/net/tcp. */
const TCP_LISTEN = '0A'

/**
 * Parses one /proc/net/{udp,udp6,tcp,tcp6} table. Addresses are printed as 32-bit words in host byte order,
 * so `littleEndian` (this machine's order) decides how their bytes read. TCP sockets count only while listening.
 */
export function parseProcNet (text: string, proto: 'udp' | 'tcp', family: 4 | 6, littleEndian = endianness() === 'LE'): BoundSocket[] {
  const out: BoundSocket[] = []
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f.length < 10) continue
    if (proto === 'tcp' && f[3] !== TCP_LISTEN) continue
    const [addrHex, portHex] = f[1]!.split(':') as [string, string]
    const bytes: number[] = []
    for (let w = 0; w < addrHex.length; w += 8) {
      const word = addrHex.slice(w, w + 8).match(/../g)!.map(h => parseInt(h, 16))
      bytes.push(...(littleEndian ? word.reverse() : word))
    }
    out.push({ proto, family, address: formatAddress(bytes), port: parseInt(portHex, 16), uid: Number(f[7]), inode: Number(f[9]) })
  }
  return out
}

/** An IPv4 address from 4 bytes; an IPv6 one from 16 (IPv4-mapped as `::ffff:a.b.c.d`, the longest zero run as `::`). */
function formatAddress (b: number[]): string {
  if (b.length === 4) return b.join('.')
  if (b.slice(0, 10).every(x => x === 0) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${b.slice(12).join('.')}`
  const groups = Array.from({ length: 8 }, (_, i) => (b[2 * i]! << 8) | b[2 * i + 1]!)
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) { best = i; bestLen = j - i }
    i = j === i ? i + 1 : j
  }
  const hex = groups.map(g => g.toString(16))
  if (best < 0) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`
}

function sameAddress (a: string, b: string, family: 4 | 6): boolean {
  const list = new BlockList()
  try {
    list.addAddress(a, family === 4 ? 'ipv4' : 'ipv6')
    return list.check(b, family === 4 ? 'ipv4' : 'ipv6')
  } catch {
    return a === b
  }
}

/**
 * The sockets that make `need`'s bind fail (EADDRINUSE): same protocol and port, and an overlapping address,
 * where a socket on every address overlaps them all. An IPv6 socket on `::` counts against IPv4 binds too:
 * /proc does not show IPV6_V6ONLY, and a dual-stack socket (Node's default) takes both.
 */
export function holdersOf (sockets: readonly BoundSocket[], need: PortNeed): BoundSocket[] {
  return sockets.filter(s => s.proto === need.proto && s.port === need.port && overlaps(s, need))
}

function overlaps (s: BoundSocket, need: PortNeed): boolean {
  const wildNeed = need.address === '0.0.0.0' || need.address === '::'
  if (need.family === 4) {
    if (s.family === 4) return s.address === '0.0.0.0' || wildNeed || (need.address !== null && sameAddress(s.address, need.address, 4))
    if (s.address === '::') return true
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(s.address)
    return mapped !== null && (wildNeed || need.address === mapped[1])
  }
  if (s.family === 6) return s.address === '::' || wildNeed || (need.address !== null && sameAddress(s.address, need.address, 6))
  // Our socket on `::` is dual-stack (Node's default): it needs the IPv4 port too.
  return need.address === '::'
}

/** Who holds a socket, as found in /proc: a process, the kernel, or someone whose fds we may not read. */
export type Holder = { kind: 'process', pid: number, comm: string } | { kind: 'kernel' } | { kind: 'unknown', user: string }

/** The ConfigError for `need` taken by `socket`, held by `holder`: what, by whom, on which address, and what to do. */
export function portTaken (need: PortNeed, socket: BoundSocket, holder: Holder): ConfigError {
  const who = holder.kind === 'process' ? `pid ${holder.pid} (${holder.comm})` : holder.kind === 'kernel' ? 'the kernel' : `a process of ${holder.user}`
  const fix = holder.kind === 'kernel' ? 'free it (a kernel WireGuard interface listening there?)' : 'stop that process'
  const where = socket.family === 6 ? `[${socket.address}]` : socket.address
  return new ConfigError(`${need.proto.toUpperCase()} port ${need.port} (${need.what}) is taken by ${who} on ${where}: ${fix}, or choose another ${need.flag}`)
}

/**
 * Throws ConfigError when `need.port` is below `unprivilegedStart` (net.ipv4.ip_unprivileged_port_start) and
 * the process lacks CAP_NET_BIND_SERVICE.
 */
export function checkPortPrivilege (need: PortNeed, unprivilegedStart: number, p: ProcessFacts): void {
  if (need.port >= unprivilegedStart || hasCap(p.effective, CAP.NET_BIND_SERVICE)) return
  throw new ConfigError(`${need.proto.toUpperCase()} port ${need.port} (${need.what}) is below ${unprivilegedStart} (net.ipv4.ip_unprivileged_port_start), ` +
    `so binding it needs CAP_NET_BIND_SERVICE, which ${p.user} does not have: grant it (AmbientCapabilities=CAP_NET_BIND_SERVICE in the systemd unit), ` +
    `or choose another ${need.flag}`)
}

/** Every bound UDP socket and listening TCP socket of this network namespace. A table that is missing (no IPv6) is empty. */
export async function readBoundSockets (): Promise<BoundSocket[]> {
  const tables = [['udp', 4, 'udp'], ['udp', 6, 'udp6'], ['tcp', 4, 'tcp'], ['tcp', 6, 'tcp6']] as const
  const out: BoundSocket[] = []
  for (const [proto, family, file] of tables) {
    const text = await readFile(`/proc/net/${file}`, 'utf8').catch(() => null)
    if (text !== null) out.push(...parseProcNet(text, proto, family))
  }
  return out
}

/** The lowest port anyone may bind (net.ipv4.ip_unprivileged_port_start); 1024 when it cannot be read. */
export async function unprivilegedPortStart (): Promise<number> {
  const v = Number((await readFile('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').catch(() => '')).trim())
  return Number.isInteger(v) && v > 0 ? v : 1024
}

/** Finds who holds `socket` by its inode among every process's fds (only on a conflict: it reads all of /proc). */
export async function whoHolds (socket: BoundSocket): Promise<Holder> {
  if (socket.inode === 0) return { kind: 'kernel' }
  const target = `socket:[${socket.inode}]`
  for (const pid of (await readdir('/proc')).filter(d => /^\d+$/.test(d))) {
    let fds: string[]
    try { fds = await readdir(`/proc/${pid}/fd`) } catch { continue }
    for (const fd of fds) {
      if (await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '') !== target) continue
      const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?')).trim()
      return { kind: 'process', pid: Number(pid), comm }
    }
  }
  return { kind: 'unknown', user: await labelOf(socket.uid) }
}
