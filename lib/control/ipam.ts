import { AddressPoolExhaustedError, ConfigError } from '../errors.js'
import { formatIPv4, parseCidr, parseIPv4, type Cidr } from '../wire/addr.js'

/**
 * Mesh IP allocation. Synchronous on purpose: a registration reserves its address before its first await,
 * so a thousand concurrent registrations can never see the same free address.
 *
 * Rules: never the network or broadcast address; one address per public key for the life of the node;
 * a released address sits in quarantine (only its previous key may take it back) for `quarantineMs`.
 */

/**
 * Parses the mesh CIDR of `--cidr`: IPv4, prefix /8 to /30 (a /31 or /32 has no host address to hand out),
 * host bits zero. Throws ConfigError with the fix otherwise.
 */
export function parseMeshCidr (cidr: string): Cidr {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr)
  const base = m === null ? null : parseIPv4(m[1]!)
  const prefix = m === null ? NaN : Number(m[2])
  if (base === null || !(prefix >= 8 && prefix <= 30)) {
    throw new ConfigError(`--cidr must be an IPv4 network with a prefix from /8 to /30, e.g. 100.64.0.0/10 (got "${cidr}")`)
  }
  const parsed = parseCidr(cidr)
  if (parsed === null) {
    const size = 2 ** (32 - prefix)
    throw new ConfigError(`--cidr ${cidr} has host bits set; did you mean ${formatIPv4(base - (base % size))}/${prefix}?`)
  }
  return parsed
}

interface Quarantined { publicKey: string, until: number }

/** The allocator. State is rebuilt at start-up from the store with `restore` and `restoreQuarantine`. */
export class Ipam {
  readonly cidr: Cidr
  private readonly byKey = new Map<string, number>()
  private readonly owner = new Map<number, string>()
  private readonly quarantine = new Map<number, Quarantined>()
  private readonly quarantinedByKey = new Map<string, number>()
  private cursor = 1

  constructor (readonly cidrText: string, private readonly quarantineMs: number) {
    this.cidr = parseMeshCidr(cidrText)
  }

  /** Usable host addresses (size minus network and broadcast). */
  get capacity (): number { return this.cidr.size - 2 }

  /** Addresses currently held by a key. */
  get allocated (): number { return this.owner.size }

  /** The address held by `publicKey`, if any. */
  lookup (publicKey: string): string | undefined {
    const n = this.byKey.get(publicKey)
    return n === undefined ? undefined : formatIPv4(this.cidr.base + n)
  }

  /**
   * Returns `publicKey`'s address, reserving one if it has none: its own quarantined address if still
   * there, else the next free one. Throws AddressPoolExhaustedError when every address is held or quarantined.
   */
  allocate (publicKey: string, now: number): string {
    const held = this.byKey.get(publicKey)
    if (held !== undefined) return formatIPv4(this.cidr.base + held)
    const own = this.quarantinedByKey.get(publicKey)
    if (own !== undefined) {
      this.unquarantine(own)
      return this.take(publicKey, own)
    }
    const usable = this.capacity
    for (let i = 0; i < usable; i++) {
      const offset = this.cursor
      this.cursor = this.cursor >= usable ? 1 : this.cursor + 1
      if (this.owner.has(offset)) continue
      const q = this.quarantine.get(offset)
      if (q !== undefined) {
        if (q.until > now) continue
        this.unquarantine(offset)
      }
      return this.take(publicKey, offset)
    }
    throw new AddressPoolExhaustedError(this.cidrText)
  }

  /** Marks an address as held by `publicKey` (start-up restore, or after a successful re-read). */
  restore (publicKey: string, ip: string): void {
    const offset = this.offsetOf(ip)
    this.unquarantine(offset)
    this.take(publicKey, offset)
  }

  /** Records that `ip` was released by `publicKey` at `releasedAt` (start-up restore of removed nodes). */
  restoreQuarantine (publicKey: string, ip: string, releasedAt: number): void {
    const offset = this.offsetOf(ip)
    if (this.owner.has(offset) || releasedAt + this.quarantineMs <= 0) return
    this.putQuarantine(offset, publicKey, releasedAt + this.quarantineMs)
  }

  /** Node removed: its address goes into quarantine. */
  release (publicKey: string, now: number): void {
    const offset = this.byKey.get(publicKey)
    if (offset === undefined) return
    this.byKey.delete(publicKey)
    this.owner.delete(offset)
    if (this.quarantineMs > 0) this.putQuarantine(offset, publicKey, now + this.quarantineMs)
  }

  /** Undoes an `allocate` whose registration never committed: the address is free at once. */
  unreserve (publicKey: string): void {
    const offset = this.byKey.get(publicKey)
    if (offset === undefined) return
    this.byKey.delete(publicKey)
    this.owner.delete(offset)
  }

  private putQuarantine (offset: number, publicKey: string, until: number): void {
    const prev = this.quarantinedByKey.get(publicKey)
    if (prev !== undefined) this.unquarantine(prev)
    this.unquarantine(offset)
    this.quarantine.set(offset, { publicKey, until })
    this.quarantinedByKey.set(publicKey, offset)
  }

  private unquarantine (offset: number): void {
    const q = this.quarantine.get(offset)
    if (q === undefined) return
    this.quarantine.delete(offset)
    if (this.quarantinedByKey.get(q.publicKey) === offset) this.quarantinedByKey.delete(q.publicKey)
  }

  private take (publicKey: string, offset: number): string {
    const prev = this.owner.get(offset)
    if (prev !== undefined && prev !== publicKey) throw new Error(`IPAM invariant: ${formatIPv4(this.cidr.base + offset)} already held`)
    this.byKey.set(publicKey, offset)
    this.owner.set(offset, publicKey)
    return formatIPv4(this.cidr.base + offset)
  }

  private offsetOf (ip: string): number {
    const offset = (parseIPv4(ip) ?? NaN) - this.cidr.base
    if (!(offset >= 1 && offset <= this.capacity)) throw new ConfigError(`stored mesh IP ${ip} is outside ${this.cidrText}; start with the --cidr the data directory was created with`)
    return offset
  }
}
