/** Small parsers for the addresses that cross the wire: IPv4 mesh addresses, CIDRs and `host:port` endpoints. */

/** An IPv4 address as an unsigned 32-bit number, or null when `s` is not dotted-quad IPv4. */
export function parseIPv4 (s: string): number | null {
  const parts = s.split('.')
  if (parts.length !== 4) return null
  let n = 0
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return null
    const v = Number(p)
    if (v > 255) return null
    n = n * 256 + v
  }
  return n
}

/** Dotted-quad form of an unsigned 32-bit number. */
export function formatIPv4 (n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

/** An IPv4 CIDR: base address (masked) and prefix length. */
export interface Cidr { base: number, prefix: number, size: number }

/** Parses `a.b.c.d/p`; null when malformed or when host bits are set. */
export function parseCidr (s: string): Cidr | null {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s)
  if (m === null) return null
  const base = parseIPv4(m[1]!)
  const prefix = Number(m[2])
  if (base === null || prefix > 32) return null
  const size = 2 ** (32 - prefix)
  if (base % size !== 0) return null
  return { base, prefix, size }
}

/** True when `ip` (number) lies inside `cidr`. */
export function cidrContains (cidr: Cidr, ip: number): boolean {
  return ip >= cidr.base && ip < cidr.base + cidr.size
}

/** Splits `host:port` (IPv6 hosts in brackets) into its parts; null when malformed. */
export function parseEndpoint (s: string): { host: string, port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(s)
  if (m === null) return null
  const port = Number(m[3])
  if (port < 1 || port > 65535) return null
  return { host: m[1] ?? m[2]!, port }
}

/** `host:port`, bracketing IPv6 hosts. */
export function formatEndpoint (host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
