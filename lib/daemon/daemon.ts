import { randomBytes } from 'node:crypto'
import { hostname as osHostname } from 'node:os'
import type { Server } from 'node:net'
import type { Clock, Timer } from '../clock.js'
import type { Logger } from '../log.js'
import { cidrContains, parseCidr, parseIPv4 } from '../wire/addr.js'
import { generateKeyPair, SigningKey, type KeyPair } from '../wire/keys.js'
import type { Netmap } from '../wire/netmap.js'
import { PRESETS } from '../swim/config.js'
import { SeededRandom } from '../swim/random.js'
import { Swim } from '../swim/swim.js'
import { restartIncarnation } from '../swim/incarnation.js'
import type { SwimEvent } from '../swim/types.js'
import { Announcer } from './announcer.js'
import { ClaimSigner } from './claim-signer.js'
import type { DaemonConfig } from './config.js'
import { ControlClient } from './control-client.js'
import { ControlLink } from './control-link.js'
import { CoalescedJob } from './coalesce.js'
import { noteUnderlayAlive } from './underlay-alive.js'
import { DaemonCore, memberInput, type DaemonAction } from './core.js'
import { serveLocal, SOCKET_NAME } from './control-socket.js'
import { ensureInterface } from './iface.js'
import { IncarnationLease } from './incarnation-lease.js'
import { defaultEndpoints, ensureJoined, hostAddresses } from './join.js'
import { deadMembers, downMembers, swimMembers, underlayPeer } from './membership.js'
import { Evidence } from './evidence.js'
import { HandshakeWatch } from './handshake-watch.js'
import { Reconciler } from './reconciler.js'
import { DaemonRoutes } from './routes.js'
import { CachedLookup } from './cached-lookup.js'
import { changedPrefs, checkPrefs, mergePrefs, startPrefs, type RoutePrefs } from './prefs.js'
import { ConfigError } from '../errors.js'
import { PeerHistory } from './peer-history.js'
import { PolicyFilter } from './policy-filter.js'
import { ending, type DaemonPhase } from './phase.js'
import { mustSaveAtOnce, StateDir, type NodeIdentity } from './state.js'
import { checkMetricsListen, serveDaemonMetrics, type MetricsServer } from './metrics-server.js'
import { preflight } from './preflight.js'
import { NEEDS_JOIN_TOKEN, Registration } from './registration.js'
import { buildStatus } from './status-build.js'
import type { DaemonStatus } from './status.js'
import { SwimDriver } from './swim-driver.js'
import type { DeviceState, WireGuardDevice } from './wg/device.js'
import { openPlannedDevice } from './wg/open.js'
import { notifyService } from '../sd-notify.js'
import { MeshDns } from './mesh-dns.js'

/** How lastError begins when the access filter could not be applied. */
const POLICY_ERROR = 'access policy not applied'

/** Longest a leaving daemon waits for SWIM to finish gossiping its leave. */
const LEAVE_GOSSIP_MS = 2000

/** How often a leaving daemon checks whether SWIM's leave has gone out. */
const LEAVE_POLL_MS = 50

/** What Daemon.start made before the daemon itself: the identity and the device it runs on. */
interface DaemonParts {
  state: StateDir
  keys: KeyPair
  identity: NodeIdentity
  device: WireGuardDevice
  client: ControlClient
  /** The saved bound on our SWIM incarnations (swim.json), null when none is saved. */
  bound: number | null
  /** Whether this start announces itself over the underlay (DaemonCoreConfig.announce). */
  announce: boolean
  /** The route preferences at start: flags over the saved ones (prefs.ts). */
  prefs: Readonly<RoutePrefs>
  /** The resolver for the mesh's names and the host's wiring to it (mesh-dns.ts). */
  dns: MeshDns
}

/**
 * The daemon: joins (or comes back from saved state), keeps the WireGuard interface matching
 * desired(netmap, SWIM view, self), runs SWIM over the overlay and the underlay announcer, reports to the
 * controller, and answers `weft status` / `weft leave` on its local socket. The controller being down never
 * stops it: the last netmap on disk is enough to run the mesh. What to do and when is decided by DaemonCore
 * (core.ts); this class owns the sockets, timers and the device, feeds the core its inputs and carries out
 * its actions.
 */
export class Daemon {
  readonly startedAt: number
  private readonly core: DaemonCore
  private netmapAppliedAt: number | null = null
  private lastError: string | null = null
  private readonly reconciler: Reconciler
  private readonly reconcileJob: CoalescedJob
  private readonly swim: Swim
  private readonly claims: ClaimSigner
  private readonly swimDriver: SwimDriver
  private readonly announcer: Announcer
  private readonly link: ControlLink
  private readonly evidence: Evidence
  private readonly handshakes: HandshakeWatch
  private readonly routes: DaemonRoutes
  private readonly policy: PolicyFilter
  private readonly dns: MeshDns
  private readonly registration: Registration
  /** Each peer's figures as last read from the device, for peers no longer on it. */
  private readonly history = new PeerHistory()
  private local: Server | null = null
  private metricsServer: MetricsServer | null = null
  private tick: Timer | undefined
  /** Aborts a registration retrying while the daemon stops. */
  private readonly stopSignal = new AbortController()
  private readonly done: Promise<'stopped' | 'restart' | 'left'>
  private resolveDone!: (how: 'stopped' | 'restart' | 'left') => void
  /** Set by a graceful leave: the daemon ends `left`, and its service must not start it again. */
  private leaving = false
  private readonly state: StateDir
  private readonly keys: KeyPair
  private readonly identity: NodeIdentity
  private readonly device: WireGuardDevice
  private readonly client: ControlClient
  /** The controllers' addresses, kept out of an exit node's tunnel. */
  private readonly controllerAddresses: CachedLookup[]
  /** The `weft set` in progress (setPrefs). */
  private setting: Promise<unknown> = Promise.resolve()

  private constructor (private readonly cfg: DaemonConfig, private readonly deps: { clock: Clock, log: Logger, agentVersion: string }, parts: DaemonParts) {
    const { state, keys, identity, device, client, bound, dns } = parts
    const { clock, log } = deps
    this.state = state
    this.keys = keys
    this.identity = identity
    this.device = device
    this.client = client
    this.dns = dns
    this.controllerAddresses = cfg.controllerUrls.map(u => new CachedLookup(new URL(u).hostname.replace(/^\[(.*)\]$/, '$1'), clock))
    this.startedAt = clock.now()
    const lease = new IncarnationLease({ bound, save: b => state.reserveIncarnation(b), log })
    this.claims = new ClaimSigner({ selfId: identity.nodeId, key: SigningKey.derive(keys.privateKey), reserve: inc => lease.cover(inc) })
    this.core = new DaemonCore({
      selfId: identity.nodeId,
      selfKey: keys.publicKey,
      signingKey: this.claims.publicKey,
      keepaliveSeconds: cfg.keepaliveSeconds,
      joinToken: cfg.joinToken !== undefined,
      announce: parts.announce
    })
    const swimLog = log.child({ component: 'swim' })
    this.swim = new Swim({
      config: PRESETS[cfg.swimPreset]!(),
      self: { id: identity.nodeId, addr: `${identity.meshIp}:${cfg.swimPort}` },
      incarnation: restartIncarnation(bound, clock.now()),
      claims: this.claims,
      random: new SeededRandom(randomBytes(4).readUInt32LE(0)),
      log: swimLog
    })
    this.reconciler = new Reconciler({
      device,
      log,
      clock,
      incarnationOf: id => this.swim.member(id)?.incarnation,
      beforeRemove: async keys => { await this.notePeers(keys) }
    })
    this.reconcileJob = new CoalescedJob(async () => await this.reconcileOnce())
    this.swimDriver = new SwimDriver({ core: this.swim, host: identity.meshIp, port: cfg.swimPort, clock, log: swimLog, onEvent: ev => this.onSwimEvent(ev) })
    this.announcer = new Announcer({
      selfId: identity.nodeId,
      privateKey: keys.privateKey,
      port: cfg.announcePort,
      lookup: id => {
        const n = this.core.node(id)
        return n === undefined || n.id === identity.nodeId ? null : underlayPeer(n, cfg.announcePort - cfg.listenPort)
      },
      alive: () => this.swim.signedAlive(),
      onAlive: (id, inc, sig) => this.onUnderlayAlive(id, inc, sig),
      onDeadNotice: (id, inc) => this.onUnderlayDeadNotice(id, inc),
      clock,
      log: log.child({ component: 'announce' })
    })
    this.evidence = new Evidence({
      swim: this.swim,
      clock,
      selfId: identity.nodeId,
      nodes: () => this.core.netmap?.nodes ?? [],
      node: id => this.core.node(id),
      linkUp: () => this.link.state === 'connected',
      pump: () => this.swimDriver.pump(),
      periodMs: this.swim.config.probeIntervalMs
    })
    this.handshakes = new HandshakeWatch({
      clock,
      selfKey: keys.publicKey,
      readPeers: async () => (await device.get()).peers,
      // A failed reset or arm leaves the device unknown and no reconcile of its own: without one, a reset whose
      // remove went through would leave the peer out until the next netmap.
      reset: async (key, reason) => { await this.reconciler.reset(key, reason); this.deviceMayBeStale() },
      arm: async keys => { await this.reconciler.arm(keys); this.deviceMayBeStale() }
    })
    this.routes = new DaemonRoutes({
      selfId: identity.nodeId,
      ifname: cfg.ifname,
      prefs: parts.prefs,
      snat: cfg.snatRoutes,
      freshInterface: !device.adopted,
      holdDownMs: cfg.routeHoldDownMs,
      device,
      exitPlan: async () => ({
        table: cfg.listenPort,
        controller: [...new Set((await Promise.all(this.controllerAddresses.map(async c => await c.get()))).flat())].sort(),
        underlay: underlayAddresses(identity.cidr),
        announcePort: cfg.announcePort
      }),
      send: async req => { await client.advertise(identity.credential, req) },
      reconcile: () => this.reconcileJob.request(),
      clock,
      log: log.child({ component: 'routes' })
    })
    this.policy = new PolicyFilter({
      selfId: identity.nodeId,
      ifname: cfg.ifname,
      meshCidr: identity.cidr,
      swimPort: cfg.swimPort,
      clock,
      log: log.child({ component: 'policy' })
    })
    this.link = new ControlLink({
      client,
      credential: identity.credential,
      netmap: () => this.core.netmap,
      onNetmap: (map, how) => this.applyNetmap(map, how),
      heartbeat: () => ({
        endpoints: this.endpoints(),
        listenPort: cfg.listenPort,
        netmapVersion: this.core.netmap?.version,
        agentVersion: deps.agentVersion,
        swim: this.swim.report()
      }),
      onRevoked: (reason, removed) => this.execute(this.core.handle({ type: 'revoked', reason, removed })),
      onForgotten: reason => this.execute(this.core.handle({ type: 'forgotten', reason })),
      onState: s => {
        this.evidence.refresh()
        if (s === 'connected') this.routes.connected()
      },
      clock,
      log
    })
    this.registration = new Registration({ cfg, client, state, identity, keys, deps, signal: this.stopSignal.signal })
    this.done = new Promise(resolve => { this.resolveDone = resolve })
  }

  /**
   * Brings the node up; resolves once the interface, SWIM and the local socket run. The order is that of
   * docs/daemon.md, "Start": every check first (preflight), then the device, the state directory, the
   * identity (registration), and the rest. Rejects with the first failed check before anything changed, or
   * with what failed later, after undoing what this start did on the host: sockets closed, a device it created
   * removed. The key and an identity it saved stay, for the next start to use. An abort of `signal` (SIGTERM
   * during the start) ends it the same way.
   */
  static async start (cfg: DaemonConfig, deps: { clock: Clock, log: Logger, agentVersion: string }, signal?: AbortSignal): Promise<Daemon> {
    const log = deps.log
    const state = StateDir.at(cfg.stateDir, { clock: deps.clock })
    const plan = await preflight(cfg, state, log, deps.clock)
    signal?.throwIfAborted()

    const undo: Array<() => Promise<void>> = []
    let daemon: Daemon | null = null
    try {
      const keys = plan.key ?? generateKeyPair()
      const device = await openPlannedDevice(plan.device, {
        driver: cfg.wg,
        ifname: cfg.ifname,
        privateKey: keys.privateKey,
        listenPort: cfg.listenPort,
        log,
        clock: deps.clock
      })
      if (!device.adopted) undo.push(async () => await device.destroy())
      signal?.throwIfAborted()

      const dir = await state.prepare()
      if (dir.created || dir.tightened) {
        log.info({ event: 'state.dir', dir: cfg.stateDir, ...dir },
          dir.created ? 'created the state directory (0700)' : 'closed the state directory to other users (0700)')
      }
      if (plan.key === null) {
        await state.saveKey(keys)
        log.info({ event: 'key.created', publicKey: keys.publicKey }, 'generated a new WireGuard key pair')
      }

      const client = new ControlClient(cfg.controllerUrls, undefined, cfg.controllerTrust, deps.clock)
      const checkInfo = cfg.metricsListen === undefined
        ? undefined
        : (info: { cidr: string }) => { checkMetricsListen(cfg.metricsListen!, info.cidr, cfg.metricsAllowMesh === true) }
      const identity = await ensureJoined(cfg, client, state, plan.saved, keys, deps, { signal, checkInfo })
      signal?.throwIfAborted()
      let netmap = plan.netmap
      if (netmap !== null && !netmap.nodes.some(n => n.id === identity.nodeId)) {
        // Saved before this node registered again under a new id: it would make our old record a peer of ours.
        log.info({ event: 'netmap.skip', version: netmap.version }, 'the saved netmap predates this identity; waiting for the controller')
        netmap = null
      }
      const bound = await state.loadIncarnation()
      const announce = plan.saved !== null || netmap !== null || plan.identityCorrupt !== null
      const prefs = await routePrefsAtStart(cfg, state, log)
      const dns = await MeshDns.open({
        acceptDns: cfg.acceptDns,
        forward: cfg.dnsForward,
        manageResolvConf: cfg.dnsManageResolvConf,
        ifname: cfg.ifname,
        stateDir: cfg.stateDir,
        clock: deps.clock,
        log
      })
      undo.push(async () => await dns.close())
      const d = new Daemon(cfg, deps, { state, keys, identity, device, client, bound, announce, prefs, dns })
      daemon = d
      d.lastError = plan.netmapError
      if (cfg.metricsListen !== undefined) {
        const metricsServer = await serveDaemonMetrics({
          listen: cfg.metricsListen,
          allowMesh: cfg.metricsAllowMesh === true,
          cidr: identity.cidr,
          clock: deps.clock,
          log,
          status: async () => await d.status()
        })
        d.metricsServer = metricsServer
        undo.push(async () => await metricsServer.close())
      }

      // The saved policy is in force before the interface carries anything (docs/policy.md, "Enforcement").
      if (netmap !== null) await d.syncPolicy(netmap)
      await ensureInterface({ ifname: cfg.ifname, meshIp: identity.meshIp, cidr: identity.cidr, mtu: cfg.mtu, log })
      await d.routes.start()
      signal?.throwIfAborted()
      await d.run(netmap)
      return d
    } catch (err) {
      // The core's `release` is carried out here and by the undo steps: no stopped() to resolve.
      daemon?.core.handle({ type: 'stop', teardown: false })
      daemon?.release()
      for (const step of undo.reverse()) {
        await step().catch((e: unknown) => log.error({ event: 'daemon.start.undo.failed', reason: (e as Error).message },
          'could not undo a step of the failed start'))
      }
      throw err
    }
  }

  private async run (saved: Netmap | null): Promise<void> {
    await this.swimDriver.start()
    await this.announcer.start()
    this.evidence.start(this.identity.meshIp)
    this.local = await serveLocal(this.state.path(SOCKET_NAME), {
      status: async () => await this.status(),
      leave: async () => await this.leave(),
      set: async req => await this.setPrefs(req.prefs)
    }, this.deps.log)
    if (saved !== null) {
      this.deps.log.info({ event: 'netmap.apply', version: saved.version, nodes: saved.nodes.length, source: 'disk' },
        'bringing the mesh up from the saved netmap')
      this.applyNetmap(saved, 'disk')
    }
    await this.dns.start(this.identity.meshIp)
    this.execute(this.core.handle({ type: 'started' }))
    this.link.start()
    this.tick = this.deps.clock.setInterval(() => this.execute(this.core.handle({ type: 'tick', stale: this.reconciler.stale })),
      this.cfg.deadAnnounceIntervalMs)
    this.deps.log.info({
      event: 'daemon.started',
      nodeId: this.identity.nodeId,
      meshIp: this.identity.meshIp,
      interface: this.cfg.ifname,
      adopted: this.device.adopted
    }, 'weft daemon running')
    await notifyService('READY=1', this.deps.log)
  }

  /** The daemon's phase (phase.ts). */
  get phase (): DaemonPhase { return this.core.phase }

  /**
   * Resolves when the daemon has stopped: `stopped` (SIGTERM), `left` (weft leave), or `restart` when it
   * registered again under a new identity and must be started again on it (DaemonRunner does).
   */
  async stopped (): Promise<'stopped' | 'restart' | 'left'> { return await this.done }

  /** Carries out the core's actions, in order. */
  private execute (actions: readonly DaemonAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'reconcile': this.reconcileJob.request(); break
        case 'set-swim-members': this.setSwimMembers(); break
        case 'open-announcer': this.announcer.open(); break
        case 'announce': this.announce(a.ids); break
        case 'announce-dead':
          for (const m of deadMembers(this.swim.members())) this.announcer.pingDead(m.id, m.incarnation)
          break
        case 'refresh-signing-key':
          void this.registration.sendSigningKey(this.claims.publicKey, this.endpoints()).finally(() => this.core.handle({ type: 'signing-key-done' }))
          break
        case 'record-revocation':
          this.lastError = a.removed ? this.registration.recordRemoval() : `the controller revoked this node: ${a.reason}`
          break
        case 'rejoin':
          this.deps.log.warn({ event: 'control.forgotten', nodeId: this.identity.nodeId, meshIp: this.identity.meshIp, reason: a.reason },
            'the controller does not know this node; registering again with the join token')
          void this.rejoin()
          break
        case 'need-join-token':
          this.lastError = NEEDS_JOIN_TOKEN
          this.deps.log.error({ event: 'control.forgotten', nodeId: this.identity.nodeId, meshIp: this.identity.meshIp, reason: a.reason }, this.lastError)
          break
        case 'release': void this.finish(a.teardown); break
        default: unreachable(a)
      }
    }
  }

  private endpoints (): string[] {
    if (this.cfg.endpoints.length > 0) return this.cfg.endpoints
    const cidr = parseCidr(this.identity.cidr)
    return defaultEndpoints(this.cfg.listenPort).filter(e => {
      const ip = parseIPv4(e.slice(0, e.lastIndexOf(':')))
      return ip === null || cidr === null || !cidrContains(cidr, ip)
    })
  }

  private applyNetmap (map: Netmap, source: 'full' | 'delta' | 'disk'): void {
    const prev = this.core.netmap
    const actions = this.core.handle({ type: 'netmap', map, source })
    this.claims.setMembers(map.nodes)
    this.dns.sync(map)
    this.history.prune(new Set(map.nodes.map(n => n.publicKey)))
    const now = this.deps.clock.now()
    this.netmapAppliedAt = now
    // The controller's health hints change with the netmap (set-swim-members refreshes them itself).
    if (!actions.some(a => a.type === 'set-swim-members')) this.evidence.refresh(now)
    if (source !== 'disk') {
      this.deps.log.info({ event: 'netmap.apply', version: map.version, from: prev?.version ?? null, how: source, nodes: map.nodes.length }, 'netmap applied')
      this.state.saveNetmap(map, mustSaveAtOnce(prev, map)).catch((err: unknown) => {
        this.lastError = `cannot save netmap: ${(err as Error).message}`
        this.deps.log.error({ event: 'state.save.failed', reason: (err as Error).message }, 'cannot save the netmap; running on the in-memory copy')
      })
    }
    this.execute(actions)
  }

  private onSwimEvent (ev: SwimEvent): void {
    const n = this.core.node(ev.id)
    this.deps.log.info({ event: `swim.${ev.type}`, nodeId: ev.id, hostname: n?.hostname, meshIp: n?.meshIp, incarnation: ev.incarnation, reason: ev.reason },
      `member ${n?.hostname ?? ev.id} ${ev.type}`)
    if (ev.type === 'suspect') this.evidence.onSuspect()
    // The controller's health of this member, and the dashboard's matrix, follow this node's report.
    if (ev.type !== 'refute') this.link.reportSoon()
    const input = memberInput(ev)
    if (input !== null) this.execute(this.core.handle(input))
  }

  private onUnderlayAlive (id: string, incarnation: number, sig: Uint8Array): void {
    if (noteUnderlayAlive(this.swim, this.deps.clock.now(), id, incarnation, sig)) this.announcer.notifyDead(id, incarnation)
    this.swimDriver.pump()
  }

  /** A member holds us dead at `incarnation` (an underlay notice): SWIM refutes, and the refutation goes out. */
  private onUnderlayDeadNotice (id: string, incarnation: number): void {
    this.swim.noteClaimedDead(this.deps.clock.now(), id, incarnation)
    this.swimDriver.pump()
  }

  /** A reset or arm that failed leaves the device unknown and runs no reconcile of its own. */
  private deviceMayBeStale (): void {
    if (this.reconciler.stale) this.execute(this.core.handle({ type: 'device-stale' }))
  }

  /** One reconcile toward the core's desired peer set; false when there is none to follow. */
  private async reconcileOnce (): Promise<boolean> {
    const down = downMembers(this.swim.members())
    const base = this.core.desired(down)
    const nodes = this.core.netmap?.nodes
    if (base === null || nodes === undefined) return false
    await this.syncPolicy(this.core.netmap!)
    const res = await this.reconciler.reconcile(this.routes.apply(base, nodes, down))
    await this.routes.syncKernel(nodes)
    this.handshakes.removed(res.applied.flatMap(c => c.op.kind === 'remove' ? [c.op.publicKey] : []))
    this.handshakes.added(res.applied.flatMap(c => c.op.kind === 'add' ? [c.op.peer.publicKey] : []))
    if (!res.ok) this.lastError = `WireGuard reconcile incomplete: ${res.readError?.message ?? res.failed[0]?.error.message ?? 'stopped early'}`
    else if (this.lastError?.startsWith('WireGuard') === true) this.lastError = null
    // SWIM gets its members after the first reconcile even if some changes failed: it must not wait on a broken device.
    this.execute(this.core.handle({ type: 'reconciled' }))
    return true
  }

  /**
   * Gives SWIM the netmap's members. The first time (after the first reconcile has configured the tunnels) SWIM
   * starts probing and gossips this node alive: a member's join grace at the others counts from the first sign
   * that it runs (docs/swim.md), and a node that announced itself before its peers were configured was accused
   * by everyone whose probes it could not yet answer (seen in a 200-node join on 2 cores, where a new daemon
   * took tens of seconds to configure its peers).
   */
  private setSwimMembers (): void {
    const map = this.core.netmap
    if (map === null) return
    const now = this.deps.clock.now()
    this.swim.setMembers(now, swimMembers(map))
    this.evidence.refresh(now) // pumps SWIM's outputs too
  }

  /**
   * Tells these members over the underlay that we are up: a peer that removed our tunnel while we were away (or
   * declared us dead before our SWIM agent was listening) re-adds it at once instead of at its next dead
   * re-probe. Only once the first reconcile has configured our side of the tunnels: a member that hears it
   * probes us through its tunnel at once, and unanswered probes get us accused (docs/daemon.md).
   */
  private announce (ids: readonly string[]): void {
    for (const id of ids) this.announcer.ping(id)
    this.deps.log.info({ event: 'announce.start', members: ids.length }, 'told members over the underlay that this daemon is back')
  }

  /**
   * Registers again with the join token; on success stops, to be started again on the new identity (the
   * interface and its peers stay, as across any restart). A refusal leaves the node as it is, with the reason
   * shown; a refusal because an admin removed the node revokes it.
   */
  private async rejoin (): Promise<void> {
    const res = await this.registration.rejoin()
    if (ending(this.core.phase)) return
    switch (res.kind) {
      case 'rejoined': this.execute(this.core.handle({ type: 'rejoined' })); return
      case 'removed': this.execute(this.core.handle({ type: 'revoked', reason: res.reason, removed: true })); return
      case 'failed':
        this.lastError = res.message
        this.deps.log.error({ event: 'control.rejoin.failed', reason: res.message }, res.message)
        return
      default: unreachable(res)
    }
  }

  /**
   * Brings the access filter in line with `map`, before the peers it governs change. A failure is shown (status,
   * log) and tried again at the next reconcile; the peers are reconciled all the same, since the mesh must not
   * stop for a host whose nft fails.
   */
  private async syncPolicy (map: Netmap): Promise<void> {
    try {
      await this.policy.sync(map)
      if (this.lastError?.startsWith(POLICY_ERROR) === true) this.lastError = null
    } catch (err) {
      this.lastError = `${POLICY_ERROR}: ${(err as Error).message}`
      this.deps.log.error({ event: 'policy.apply.failed', reason: (err as Error).message }, this.lastError)
    }
  }

  /** Reads the device and records the figures of its peers (of `only` those, when given) in the history. */
  private async notePeers (only?: readonly string[]): Promise<DeviceState> {
    const state = await this.device.get()
    const keep = only === undefined ? null : new Set(only)
    this.history.note(keep === null ? state.peers : state.peers.filter(p => keep.has(p.publicKey)), this.deps.clock.now())
    return state
  }

  /** Everything `weft status` shows. */
  async status (): Promise<DaemonStatus> {
    let deviceState = null
    try { deviceState = await this.notePeers() } catch (err) { this.lastError = `cannot read WireGuard device: ${(err as Error).message}` }
    return buildStatus({
      identity: this.identity,
      hostname: this.cfg.hostname ?? osHostname(),
      publicKey: this.keys.publicKey,
      cfg: this.cfg,
      device: this.device,
      deviceState,
      history: this.history,
      startedAt: this.startedAt,
      link: this.link,
      netmap: this.core.netmap,
      netmapAppliedAt: this.netmapAppliedAt,
      swim: this.swim,
      counters: {
        ...this.swimDriver.counters,
        ...prefixed('announce', this.announcer.counters),
        'wg.handshakeResets': this.handshakes.resets,
        ...prefixed('wg', this.reconciler.counters),
        ...prefixed('control', this.link.counters),
        ...prefixed('routes', this.routes.counters)
      },
      lastError: this.lastError,
      dns: this.dns.status(),
      policy: { ...this.policy.state, drops: await this.policy.drops().catch(() => null) },
      routes: { prefs: this.routes.preferences, primaries: this.routes.current, kernel: this.routes.kernelRoutes, exit: this.routes.exitNode }
    })
  }

  /**
   * `weft set`: checks `raw` against the preferences in force, saves the result and applies it. One at a time,
   * so two quick sets cannot save one over the other. Throws ConfigError for a bad preference.
   */
  private async setPrefs (raw: Record<string, unknown>): Promise<{ prefs: Readonly<RoutePrefs>, changed: Array<keyof RoutePrefs> }> {
    const run = this.setting.then(async () => {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('prefs must be a JSON object')
      const next = mergePrefs(this.routes.preferences, checkPrefs(raw))
      await this.state.savePrefs(next)
      return { prefs: next, changed: await this.routes.set(next) }
    })
    this.setting = run.catch(() => {})
    return await run
  }

  /** Graceful leave: SWIM and controller told, interface torn down, daemon stopped. */
  async leave (): Promise<{ nodeId: string, controllerTold: boolean }> {
    const clock = this.deps.clock
    this.swim.leave(clock.now())
    this.swimDriver.pump()
    let controllerTold = false
    try {
      await this.client.leave(this.identity.credential)
      controllerTold = true
    } catch (err) {
      this.deps.log.warn({ event: 'control.leave.failed', reason: (err as Error).message }, 'could not tell the controller about the leave')
    }
    // Let SWIM's push gossip carry the leave before the socket closes (bounded: a lost leave only means
    // peers detect a failure instead, and the controller has been told already).
    const until = clock.now() + LEAVE_GOSSIP_MS
    while (this.swim.pendingBroadcasts > 0 && clock.now() < until) await clock.sleep(LEAVE_POLL_MS)
    this.deps.log.info({ event: 'daemon.leave', nodeId: this.identity.nodeId, controllerTold }, 'left the mesh')
    // Answer the caller first, then tear down.
    this.leaving = true
    clock.setTimeout(() => { void this.stop({ teardown: true }) }, LEAVE_POLL_MS)
    return { nodeId: this.identity.nodeId, controllerTold }
  }

  /** Ends the timers, the controller link and the sockets (the metrics server excepted: its owner closes it). */
  private release (): void {
    this.stopSignal.abort()
    this.tick?.cancel()
    this.evidence.stop()
    this.handshakes.stop()
    this.routes.stop()
    this.link.stop()
    this.swimDriver.stop()
    this.announcer.stop()
    this.local?.close()
    void this.dns.close()
  }

  /**
   * Stops the daemon. The interface and its peers stay (the data plane outlives the daemon) unless `teardown`, or
   * unless the node has left: a SIGTERM that arrives between `weft leave` answering and the teardown it promised
   * must not leave the interface, filter and host DNS settings of a node that is no longer in the mesh.
   */
  async stop (opts: { teardown: boolean } = { teardown: false }): Promise<void> {
    await notifyService('STOPPING=1', this.deps.log)
    this.execute(this.core.handle({ type: 'stop', teardown: opts.teardown || this.leaving }))
    await this.done
  }

  /** Carries out `release`: closes everything, then resolves stopped() with how the daemon ends. */
  private async finish (teardown: boolean): Promise<void> {
    this.release()
    await this.metricsServer?.close()
    await this.state.flushNetmap().catch(() => {})
    if (teardown) {
      try {
        await this.dns.leave()
        await this.routes.teardown()
        await this.policy.remove()
        await this.device.destroy()
      } catch (err) {
        this.deps.log.error({ event: 'wg.destroy.failed', reason: (err as Error).message }, 'could not remove the interface')
      }
    }
    const exit = this.core.exit
    this.deps.log.info({ event: 'daemon.stopped', teardown, restart: exit === 'restart' },
      teardown ? 'interface removed; daemon stopped' : 'daemon stopped; WireGuard interface left running')
    this.core.handle({ type: 'released' })
    this.resolveDone(this.leaving ? 'left' : exit)
  }
}

/**
 * The route preferences a start runs with: the flags given over those saved by the last start or `weft set`
 * (or the defaults). Saved when the flags changed them, so the next start without flags keeps them.
 */
async function routePrefsAtStart (cfg: DaemonConfig, state: StateDir, log: Logger): Promise<Readonly<RoutePrefs>> {
  const saved = await state.loadPrefs()
  const prefs = startPrefs(cfg.routePrefs, saved)
  const changed = changedPrefs(startPrefs({}, saved), prefs)
  if (changed.length > 0) {
    await state.savePrefs(prefs)
    if (saved !== null) log.info({ event: 'routes.prefs', changed, prefs }, 'route flags override the saved preferences')
  }
  return prefs
}

/** The host's addresses a peer could reach it at (hostAddresses), less its mesh IP: its underlay. */
function underlayAddresses (meshCidr: string): string[] {
  const mesh = parseCidr(meshCidr)
  return hostAddresses().filter(a => { const ip = parseIPv4(a); return ip === null || mesh === null || !cidrContains(mesh, ip) }).sort()
}

function prefixed (p: string, o: object): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(o)) if (typeof v === 'number') out[`${p}.${k}`] = v
  return out
}

function unreachable (x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`)
}
