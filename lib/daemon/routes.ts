/**
 * The daemon's routes, both ways: what this node advertises (sent to the controller each time the update
 * channel opens or `weft set` changes it, forwarded and source-NATed on this host) and which node carries each
 * route it uses, the exit node's default route included (chosen at every reconcile from its own SWIM view:
 * route-choice.ts; put in place by kernel-routes.ts and exit-routing.ts). The Daemon calls it; it owns no SWIM.
 */
import type { Clock, Timer } from '../clock.js'
import type { Logger } from '../log.js'
import type { AdvertiseRequest } from '../wire/api.js'
import type { NodeRecord } from '../wire/netmap.js'
import type { DesiredConfig } from './desired.js'
import { ExitRouting, type ExitPlan } from './exit-routing.js'
import { enableForwarding } from './forwarding.js'
import { KernelRoutes } from './kernel-routes.js'
import { changedPrefs, NO_EXIT, type RoutePrefs } from './prefs.js'
import { acceptedRoutes, choosePrimaries, exitState, withRoutes, type ExitState } from './route-choice.js'
import type { WireGuardDevice } from './wg/device.js'
import type { Netns } from './wg/exec.js'

/** A failed advertisement is sent again after this long (while the update channel stays open). */
const ADVERTISE_RETRY_MS = 5000

/** Options of DaemonRoutes. */
export interface DaemonRoutesOptions {
  selfId: string
  ifname: string
  /** The route preferences at start (prefs.ts); `set` changes them. */
  prefs: Readonly<RoutePrefs>
  snat: boolean
  /** The interface was created by this start (not adopted): it has no routes to find. */
  freshInterface: boolean
  holdDownMs: number
  device: WireGuardDevice
  /** Everything of an exit plan but LAN access: the table, the controller's and the host's addresses, the announce port. */
  exitPlan: () => Promise<Omit<ExitPlan, 'allowLan'>>
  /** Sends the advertisement to the controller (`PUT /v1/node/routes`). */
  send: (req: AdvertiseRequest) => Promise<void>
  /** Asks for a reconcile: a waiting router's hold-down ended. */
  reconcile: () => void
  clock: Clock
  log: Logger
  netns?: Netns
}

/** What DaemonRoutes has done; all monotonic. */
export interface RouteCounters {
  primaryChanges: number
  advertisements: number
  advertiseFailures: number
  kernelErrors: number
}

/** Routes this node advertises and uses; see the file comment. */
export class DaemonRoutes {
  readonly counters: RouteCounters = { primaryChanges: 0, advertisements: 0, advertiseFailures: 0, kernelErrors: 0 }
  private primaries = new Map<string, string>()
  private readonly aliveSince = new Map<string, number>()
  private lastDown: ReadonlySet<string> = new Set()
  private readonly kernel: KernelRoutes
  private readonly exit: ExitRouting
  private prefs: Readonly<RoutePrefs>
  private lastNodes: readonly NodeRecord[] = []
  private forwarding = false
  private recheck: Timer | undefined
  private retry: Timer | undefined
  private stopped = false

  constructor (private readonly o: DaemonRoutesOptions) {
    this.kernel = new KernelRoutes({ ifname: o.ifname, netns: o.netns, log: o.log, fresh: o.freshInterface })
    this.exit = new ExitRouting({ ifname: o.ifname, device: o.device, netns: o.netns, log: o.log, fresh: o.freshInterface })
    this.prefs = o.prefs
  }

  /** The route preferences in force. */
  get preferences (): Readonly<RoutePrefs> { return this.prefs }

  /** Where the default route goes now (weft status). */
  get exitNode (): ExitState { return exitState(this.lastNodes, this.prefs.exitNode, this.primaries, this.lastDown) }

  /** Which node carries each route now (route -> node id). */
  get current (): ReadonlyMap<string, string> { return this.primaries }

  /** The routes the kernel sends into the interface now. */
  get kernelRoutes (): string[] { return this.kernel.routes }

  /** On a router or exit node: forwarding and NAT on. Throws DeviceError when nft fails. */
  async start (): Promise<void> {
    if (this.forwarding || (this.prefs.advertiseRoutes.length === 0 && !this.prefs.advertiseExitNode)) return
    await enableForwarding({ ifname: this.o.ifname, snat: this.o.snat, netns: this.o.netns, log: this.o.log })
    this.forwarding = true
  }

  /**
   * New preferences from `weft set` (already checked and saved): forwarding on for a new router, the
   * advertisement sent again when it changed, and a reconcile for the routes and exit node used. Returns the
   * names of the preferences that changed.
   */
  async set (prefs: Readonly<RoutePrefs>): Promise<Array<keyof RoutePrefs>> {
    const changed = changedPrefs(this.prefs, prefs)
    if (changed.length === 0) return changed
    this.prefs = prefs
    this.o.log.info({ event: 'routes.prefs', changed, prefs }, `route preferences changed: ${changed.join(', ')}`)
    await this.start()
    if (changed.some(k => k === 'advertiseRoutes' || k === 'advertiseExitNode' || k === 'routePriority')) this.connected()
    this.o.reconcile()
    return changed
  }

  /** The advertisement the preferences make. */
  private get advertisement (): AdvertiseRequest {
    return { routes: [...this.prefs.advertiseRoutes], exitNode: this.prefs.advertiseExitNode, priority: this.prefs.routePriority }
  }

  stop (): void {
    this.stopped = true
    this.recheck?.cancel()
    this.retry?.cancel()
  }

  /** The update channel opened: (re)send the advertisement, so the controller's record follows this node's flags. */
  connected (): void {
    this.retry?.cancel()
    this.o.send(this.advertisement).then(() => { this.counters.advertisements++ }, (err: unknown) => {
      this.counters.advertiseFailures++
      this.o.log.warn({ event: 'routes.advertise.failed', err: (err as Error).message }, 'cannot send this node\'s routes to the controller; retrying')
      if (!this.stopped) this.retry = this.o.clock.setTimeout(() => this.connected(), ADVERTISE_RETRY_MS)
    })
  }

  /**
   * `cfg` with every used route in its primary's AllowedIPs, given the netmap and who SWIM holds down. Logs each
   * primary change with its reason, and schedules a reconcile for when a waiting router's hold-down ends.
   */
  apply (cfg: DesiredConfig, nodes: readonly NodeRecord[], down: ReadonlySet<string>): DesiredConfig {
    const now = this.o.clock.now()
    for (const id of this.lastDown) if (!down.has(id)) this.aliveSince.set(id, now)
    this.lastDown = new Set(down)
    this.lastNodes = nodes
    const choice = choosePrimaries({
      nodes,
      selfId: this.o.selfId,
      down,
      aliveSince: this.aliveSince,
      now,
      holdDownMs: this.o.holdDownMs,
      previous: this.primaries,
      own: this.prefs.advertiseRoutes,
      acceptRoutes: this.prefs.acceptRoutes,
      exitNode: this.prefs.exitNode
    })
    const name = (id: string | null): string => id === null ? 'none' : nodes.find(n => n.id === id)?.hostname ?? id
    for (const c of choice.changes) {
      this.counters.primaryChanges++
      this.o.log.info({ event: 'routes.primary', route: c.route, from: c.from, to: c.to, reason: c.reason },
        `route ${c.route}: ${name(c.from)} -> ${name(c.to)} (${c.reason})`)
    }
    this.primaries = choice.primaries
    this.recheck?.cancel()
    this.recheck = undefined
    if (choice.recheckAt !== null && !this.stopped) this.recheck = this.o.clock.setTimeout(() => this.o.reconcile(), Math.max(0, choice.recheckAt - now))
    return withRoutes(cfg, choice.primaries)
  }

  /**
   * Points every used route at the interface (all enabled routes of other nodes, with or without a live router)
   * and, with an exit node wanted, the default route too (with or without a live exit node: fail closed).
   */
  async syncKernel (nodes: readonly NodeRecord[]): Promise<void> {
    try {
      await this.kernel.sync(this.prefs.acceptRoutes ? acceptedRoutes(nodes, this.o.selfId, this.prefs.advertiseRoutes) : [])
      await this.exit.sync(this.prefs.exitNode === NO_EXIT ? null : { ...await this.o.exitPlan(), allowLan: this.prefs.exitNodeAllowLan })
    } catch (err) {
      this.counters.kernelErrors++
      this.o.log.error({ event: 'routes.kernel.error', err: (err as Error).message }, 'cannot set the kernel routes; retrying at the next reconcile')
    }
  }

  /** `weft leave`: the exit routing goes with the interface. */
  async teardown (): Promise<void> {
    await this.exit.sync(null)
  }
}
