import { AddressPoolExhaustedError, ConfigError } from '../errors.js'
import { formatIPv4, parseCidr, parseIPv4, type Cidr } from '../wire/addr.js'

/**
 * Mesh IP allocation. Synchronous on purpose: a registration reserves its address before its first await,
 * so a thousand concurrent registrations can never see the same free address.
 *
 * Rules: never the network or broadcast address; one address per public key for the life of the node;
 * a released address sits in quarantine (only its previous key may take it back) for `quarantineMs`.
 * The cursor continues above the high-water mark (the highest offset ever handed out, persisted), so an
 * address is not handed out again before the whole range has been used once. After an accepted data loss
 * the addresses up to the lost high-water mark that no known node holds are orphaned: they may belong to
 * nodes the controller forgot, so the cursor skips them (for `quarantineMs` after the loss) and only a
 * registration that asks for one by preference (its saved mesh IP) gets it.
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
  private highWater_ = 0
  private orphanUpTo = 0
  private orphanUntil = 0

  constructor (readonly cidrText: string, private readonly quarantineMs: number) {
    this.cidr = parseMeshCidr(cidrText)
  }

  /** Usable host addresses (size minus network and broadcast). */
  get capacity (): number { return this.cidr.size - 2 }

  /** Addresses currently held by a key. */
  get allocated (): number { return this.owner.size }

  /** Highest offset ever handed out (1 = the CIDR's first host address); persisted with every synced batch. */
  get highWater (): number { return this.highWater_ }

  /** Orphaned addresses: up to `upTo`, held by no known node, until `until` (ms). */
  get orphans (): { upTo: number, until: number, count: number } {
    let known = 0
    for (const offset of this.owner.keys()) if (offset <= this.orphanUpTo) known++
    for (const offset of this.quarantine.keys()) if (offset <= this.orphanUpTo) known++
    return { upTo: this.orphanUpTo, until: this.orphanUntil, count: Math.max(0, this.orphanUpTo - known) }
  }

  /** The address held by `publicKey`, if any. */
  lookup (publicKey: string): string | undefined {
    const n = this.byKey.get(publicKey)
    return n === undefined ? undefined : formatIPv4(this.cidr.base + n)
  }

  /**
   * Returns `publicKey`'s address, reserving one if it has none: its own quarantined address if still
   * there; else `preferred` (the node's saved mesh IP) when it is an orphaned address nobody holds; else the
   * next free address from the cursor, skipping held, quarantined and orphaned ones. Throws
   * AddressPoolExhaustedError when every address is held, quarantined or orphaned.
   */
  allocate (publicKey: string, now: number, preferred?: string): string {
    const held = this.byKey.get(publicKey)
    if (held !== undefined) return formatIPv4(this.cidr.base + held)
    const own = this.quarantinedByKey.get(publicKey)
    if (own !== undefined) {
      this.unquarantine(own)
      return this.take(publicKey, own)
    }
    const wanted = preferred === undefined ? null : this.orphanFor(preferred, now)
    if (wanted !== null) return this.take(publicKey, wanted)
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
      if (offset <= this.orphanUpTo && now < this.orphanUntil) continue
      return this.take(publicKey, offset)
    }
    throw new AddressPoolExhaustedError(this.cidrText)
  }

  /**
   * Start-up: the persisted high-water mark (the larger of what the database and the store guard say).
   * Call after restoring nodes; the cursor continues above it.
   */
  restoreHighWater (offset: number): void {
    this.highWater_ = Math.min(this.capacity, Math.max(this.highWater_, offset))
    this.cursor = this.highWater_ >= this.capacity ? 1 : this.highWater_ + 1
  }

  /**
   * Moves the cursor to `offset` (1..capacity). Controllers sharing one store start at random offsets, so that
   * each hands out addresses from its own stretch and two seldom pick the same address at the same moment
   * (which the store would refuse to one of them, costing it a retry).
   */
  startAt (offset: number): void {
    this.cursor = Math.min(this.capacity, Math.max(1, Math.floor(offset)))
  }

  /** Start-up or accepted data loss: addresses up to `upTo` held by no known node are orphaned until `until`. */
  restoreOrphans (upTo: number, until: number): void {
    this.orphanUpTo = Math.min(this.capacity, Math.max(this.orphanUpTo, upTo))
    this.orphanUntil = Math.max(this.orphanUntil, until)
    this.restoreHighWater(this.orphanUpTo)
  }

  /** The offset of `ip` when it is an orphaned address that nobody holds, else null. */
  private orphanFor (ip: string, now: number): number | null {
    const n = parseIPv4(ip)
    const offset = n === null ? NaN : n - this.cidr.base
    if (!(offset >= 1 && offset <= this.orphanUpTo) || this.owner.has(offset)) return null
    const q = this.quarantine.get(offset)
    if (q !== undefined && q.until > now) return null
    if (q !== undefined) this.unquarantine(offset)
    return offset
  }

  /** Marks an address as held by `publicKey` (start-up restore, or after a successful re-read). */
  restore (publicKey: string, ip: string): void {
    const offset = this.offsetOf(ip)
    this.unquarantine(offset)
    this.take(publicKey, offset)
  }

  /**
   * The shared store says `publicKey` holds `ip` (another controller registered it). A reservation of the
   * same address here for another key is void: that registration's write finds the address claimed, and fails.
   */
  adopt (publicKey: string, ip: string): void {
    const offset = this.offsetOf(ip)
    const other = this.owner.get(offset)
    if (other !== undefined && other !== publicKey) this.byKey.delete(other)
    const had = this.byKey.get(publicKey)
    if (had !== undefined && had !== offset && this.owner.get(had) === publicKey) this.owner.delete(had)
    this.owner.delete(offset)
    this.unquarantine(offset)
    this.take(publicKey, offset)
  }

  /** Records that `ip` was released by `publicKey` at `releasedAt` (start-up restore of removed nodes). */
  restoreQuarantine (publicKey: string, ip: string, releasedAt: number): void {
    const offset = this.offsetOf(ip)
    this.highWater_ = Math.max(this.highWater_, offset)
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
    if (this.owner.get(offset) === publicKey) this.owner.delete(offset)
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
    if (offset > this.highWater_) this.highWater_ = offset
    return formatIPv4(this.cidr.base + offset)
  }

  /** The offset of a stored address; ConfigError when it lies outside the CIDR. */
  offsetOf (ip: string): number {
    const offset = (parseIPv4(ip) ?? NaN) - this.cidr.base
    if (!(offset >= 1 && offset <= this.capacity)) {
      throw new ConfigError(`stored mesh IP ${ip} is outside ${this.cidrText}; start with the --cidr the ` +
        'data directory was created with')
    }
    return offset
  }
}
