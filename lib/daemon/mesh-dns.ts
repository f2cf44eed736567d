/**
 * The daemon's DNS for the mesh (docs/dns.md): a resolver on the mesh IP, port 53, answering for the names in
 * the netmap and forwarding the rest to the host's own resolvers, and the host pointed at it (host-dns.ts).
 * It follows every netmap the daemon applies, the saved one included, so names keep resolving with the
 * controller down. Nothing here stops the daemon: a resolver that cannot bind (port 53 taken) is retried and
 * shown in `weft status`.
 */
import type { Clock, Timer } from '../clock.js'
import type { Logger } from '../log.js'
import { buildZone, type Zone } from '../dns/zone.js'
import { Forwarder } from '../dns/forwarder.js'
import { DnsServer, type DnsCounters } from '../dns/server.js'
import { DNS_PORT, upstreamsAt } from '../dns/upstreams.js'
import type { Netmap } from '../wire/netmap.js'
import { HostDns, type HostDnsStatus } from './host-dns.js'

/** How often a resolver that could not bind tries again, and how often the host's upstream list is read again, ms. */
export const DNS_RETRY_MS = 5000

/** What the daemon's DNS needs from its config. */
export interface MeshDnsOptions {
  /** `--accept-dns`: false runs no resolver and changes nothing on the host. */
  acceptDns: boolean
  /** `--dns-forward`: forward names outside the mesh's domain (else REFUSED). */
  forward: boolean
  /** `--dns-manage-resolv-conf`. */
  manageResolvConf: boolean
  ifname: string
  stateDir: string
  /** Port the resolver listens on. Default: 53. */
  port?: number
  clock: Clock
  log: Logger
}

/** The DNS part of `weft status`. */
export interface DnsStatus {
  /** `--accept-dns`. */
  enabled: boolean
  /** Where the resolver answers (`100.64.0.3:53`); null while it is not listening. */
  listen: string | null
  /** The mesh's domain, once a netmap carried one. */
  domain: string | null
  /** Names the resolver answers for. */
  names: number
  /** Whether names outside the domain are forwarded. */
  forward: boolean
  /** Where they are forwarded to. */
  upstreams: string[]
  /** Why the resolver is not answering, or null. */
  error: string | null
  /** How the host is pointed at the resolver (mode `off` with `--accept-dns=false`). */
  host: HostDnsStatus
  /** The resolver's counters (all zero while it never listened). */
  counters: DnsCounters
}

/** The resolver and the host wiring of one daemon: open, start once the mesh IP is on the interface, sync on every netmap. */
export class MeshDns {
  private readonly server: DnsServer
  private readonly forwarder: Forwarder | null
  private zone: Zone | null = null
  private meshIp: string | null = null
  private listening: string | null = null
  private error: string | null = null
  private upstreams: string[] = []
  private retry: Timer | null = null
  private closed = false

  private constructor (private readonly o: MeshDnsOptions, private readonly host: HostDns) {
    const log = o.log.child({ component: 'dns' })
    this.forwarder = o.forward ? new Forwarder({ upstreams: [], clock: o.clock, log }) : null
    this.server = new DnsServer({ clock: o.clock, log, forwarder: this.forwarder })
  }

  /** Reads the host (host-dns.ts chooses how to wire it). Never throws. */
  static async open (o: MeshDnsOptions): Promise<MeshDns> {
    const host = await HostDns.open({
      ifname: o.ifname,
      stateDir: o.stateDir,
      acceptDns: o.acceptDns,
      manageResolvConf: o.manageResolvConf,
      clock: o.clock,
      log: o.log
    })
    return new MeshDns(o, host)
  }

  /**
   * Starts answering on `meshIp` (on the interface by now) with what the last sync gave, and points the host at
   * it once the domain is known. A failed bind is logged, shown and tried again every DNS_RETRY_MS.
   */
  async start (meshIp: string): Promise<void> {
    if (!this.o.acceptDns || this.closed) return
    this.meshIp = meshIp
    await this.refreshUpstreams()
    await this.listen()
    this.retry = this.o.clock.setInterval(() => { void this.onRetry() }, DNS_RETRY_MS)
    await this.wireHost()
  }

  /** Answers from `map` from now on: a renamed or removed node's name changes with the netmap that says so. */
  sync (map: Netmap): void {
    if (!this.o.acceptDns) return
    const before = this.zone?.domain
    this.zone = buildZone(map, this.zone)
    this.server.setZone(this.zone)
    if (this.zone?.domain !== before) void this.wireHost()
  }

  /** On `weft leave`: the host's resolver settings are put back. */
  async leave (): Promise<void> {
    await this.host.revert()
  }

  /** Stops the resolver (the host keeps pointing at it: the daemon comes back with the interface). */
  async close (): Promise<void> {
    this.closed = true
    this.retry?.cancel()
    this.retry = null
    this.forwarder?.close()
    await this.server.close()
  }

  status (): DnsStatus {
    return {
      enabled: this.o.acceptDns,
      listen: this.listening,
      domain: this.zone?.domain ?? null,
      names: this.zone?.nameCount ?? 0,
      forward: this.forwarder !== null,
      upstreams: this.forwarder === null ? [] : [...this.upstreams],
      error: this.error,
      host: this.host.status(),
      counters: { ...this.server.counters }
    }
  }

  private async listen (): Promise<void> {
    if (this.listening !== null || this.meshIp === null || this.closed) return
    const port = this.o.port ?? DNS_PORT
    try {
      await this.server.listen({ host: this.meshIp, port })
      this.listening = `${this.meshIp}:${port}`
      if (this.error !== null) this.o.log.info({ event: 'dns.listen.recovered', listen: this.listening }, 'the mesh resolver answers now')
      this.error = null
    } catch (err) {
      const first = this.error === null
      this.error = `cannot listen on ${this.meshIp}:${port}: ${(err as Error).message}; retrying every ${DNS_RETRY_MS / 1000} s`
      if (first) this.o.log.error({ event: 'dns.listen.failed', reason: (err as Error).message }, this.error)
    }
  }

  private async onRetry (): Promise<void> {
    await this.listen()
    await this.refreshUpstreams()
  }

  /** The host's resolvers, again: a DHCP client may have changed them. */
  private async refreshUpstreams (): Promise<void> {
    if (this.forwarder === null) return
    const next = await this.host.upstreams(this.meshIp)
    if (next.join() === this.upstreams.join()) return
    this.upstreams = next
    this.forwarder.setUpstreams(upstreamsAt(next))
    this.o.log.info({ event: 'dns.upstreams', upstreams: next }, `forwarding other names to ${next.join(', ') || 'nobody'}`)
  }

  private async wireHost (): Promise<void> {
    if (this.meshIp === null || this.zone === null || this.closed) return
    await this.host.apply({ meshIp: this.meshIp, domain: this.zone.domain })
  }
}
