import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { Clock } from '../clock.js'

/** How long a resolved name is used before it is looked up again. */
const TTL_MS = 60_000

/**
 * A host name's addresses (IPv4 and IPv6), looked up at most once a minute; an IP literal is its own answer. A
 * failed lookup keeps the last answer (empty before the first success): callers use it as a hint, never to connect.
 */
export class CachedLookup {
  private addresses: string[] = []
  private at = -Infinity

  constructor (private readonly host: string, private readonly clock: Clock) {
    if (isIP(host) !== 0) this.addresses = [host]
  }

  async get (): Promise<string[]> {
    if (isIP(this.host) !== 0) return this.addresses
    const now = this.clock.now()
    if (now - this.at < TTL_MS) return this.addresses
    this.at = now
    try {
      this.addresses = [...new Set((await lookup(this.host, { all: true })).map(a => a.address))].sort()
    } catch {}
    return this.addresses
  }
}
