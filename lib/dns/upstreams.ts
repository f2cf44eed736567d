/**
 * The servers the resolver forwards names that are not the mesh's to: the host's own nameservers, as
 * resolv.conf names them (lib/dns/resolv-conf.ts).
 */
import { isIPv4, isIPv6 } from 'node:net'

/** The port every resolv.conf nameserver listens on: the file has no way to say another. */
export const DNS_PORT = 53

/** One upstream nameserver. */
export interface Upstream {
  /** IPv4 or IPv6 literal; an IPv6 one may carry a zone (`fe80::1%eth0`). */
  address: string
  port: number
  family: 4 | 6
}

/** The upstream at `address` (an IP literal) on port 53, or null when it is not one. */
export function upstreamOf (address: string): Upstream | null {
  if (isIPv4(address)) return { address, port: DNS_PORT, family: 4 }
  if (isIPv6(address)) return { address: address.toLowerCase(), port: DNS_PORT, family: 6 }
  return null
}

/** The upstreams at `addresses`, in order, each once; what is not an IP literal is left out. */
export function upstreamsAt (addresses: readonly string[]): Upstream[] {
  const out: Upstream[] = []
  for (const a of addresses) {
    const up = upstreamOf(a)
    if (up !== null && !out.some(o => o.address === up.address)) out.push(up)
  }
  return out
}
