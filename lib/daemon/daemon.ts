import { randomBytes } from 'node:crypto'
import { hostname as osHostname } from 'node:os'
import type { Server } from 'node:net'
import type { Clock } from '../clock.js'
import type { Logger } from '../log.js'
import { Code, ControllerError } from '../errors.js'
import { cidrContains, parseCidr, parseIPv4 } from '../wire/addr.js'
import { generateKeyPair, SigningKey, type KeyPair } from '../wire/keys.js'
import type { Netmap, NodeRecord } from '../wire/netmap.js'
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
import { serveLocal, SOCKET_NAME } from './control-socket.js'
import { desired } from './desired.js'
import { ensureInterface } from './iface.js'
import { IncarnationLease } from './incarnation-lease.js'
import { defaultEndpoints, ensureJoined, register, registerAgain, removedMessage } from './join.js'
import { swimMembers, underlayPeer } from './membership.js'
import { Evidence } from './evidence.js'
import { HandshakeWatch } from './handshake-watch.js'
import { Reconciler } from './reconciler.js'
import { PeerHistory } from './peer-history.js'
import { mustSaveAtOnce, StateDir, type NodeIdentity } from './state.js'
import { checkMetricsListen, serveDaemonMetrics, type MetricsServer } from './metrics-server.js'
import { preflight } from './preflight.js'
import { buildStatus } from './status-build.js'
import type { DaemonStatus } from './status.js'
import { SwimDriver } from './swim-driver.js'
import type { DeviceState, WireGuardDevice } from './wg/device.js'
import { openPlannedDevice } from './wg/open.js'

/** Longest a leaving daemon waits for SWIM to finish gossiping its leave. */
const LEAVE_GOSSIP_MS = 2000

/**
 * The daemon: joins (or comes back from saved state), keeps the WireGuard interface matching
 * desired(netmap, SWIM view, self), runs SWIM over the overlay and the underlay announcer, reports to the
 * controller, and answers `weft status` / `weft leave` on its local socket. The controller being down never
 * stops it: the last netmap on disk is enough to run the mesh.
 */
export class Daemon {
  readonly startedAt: number
  private netmap: Netmap | null = null
  /** The netmap's nodes by id: every SWIM event looks one up for its log line. */
  private nodesById = new Map<string, NodeRecord>()
  private netmapAppliedAt: number | null = null
  private lastError: string | null = null
  private reconciling = false
  private reconcileAgain = false
  /** Who SWIM held dead or left when the last reconcile computed the peer set. */
  private lastDown: ReadonlySet<string> = new Set()
  private deadTimer: NodeJS.Timeout | undefined
  private readonly evidence: Evidence
  private readonly handshakes: HandshakeWatch
  /** Each peer's figures as last read from the device, for peers no longer on it. */
  private readonly history = new PeerHistory()
  /** Members told over the underlay that this daemon started. */
  private readonly announced = new Set<string>()
  /**
   * Whether members not yet told get an underlay announcement (announceToNew): only after a restart, and only
   * until the first netmap from the controller has been covered. Members that joined since our last start are
   * in that netmap; later ones never held us dead (SWIM accuses no newcomer before hearing from it, and we
   * run). A first start needs none: nobody has heard of us, so nobody holds us dead, and announcing on every
   * join costs CPU (docs/daemon.md, "Returning while the controller is down: the underlay announcement").
   */
  private announceNew = false
  /** Whether SWIM has its members yet: not before the first reconcile (startSwim). */
  private swimMembersSet = false
  /** Whether a netmap from the controller (not the saved one) has been applied since this start. */
  private controllerNetmapSeen = false
  private local: Server | null = null
  private metricsServer: MetricsServer | null = null
  private link: ControlLink | null = null
  private revoked = false
  /** Whether a re-registration that tells the controller our signing key is under way (refreshSigningKey). */
  private keyRefresh = false
  private stopping = false
  /** Set when the daemon stops to be started again on a new identity (see rejoin). */
  private restart = false
  /** Aborts a registration retrying while the daemon stops. */
  private readonly stopSignal = new AbortController()
  private readonly done: Promise<'stopped' | 'restart'>
  private resolveDone!: (how: 'stopped' | 'restart') => void

  private constructor (
    private readonly cfg: DaemonConfig,
    private readonly deps: { clock: Clock, log: Logger, agentVersion: string },
    private readonly state: StateDir,
    private readonly keys: KeyPair,
    private readonly identity: NodeIdentity,
    private readonly device: WireGuardDevice,
    private readonly reconciler: Reconciler,
    private readonly swim: Swim,
    private readonly claims: ClaimSigner,
    private readonly swimDriver: SwimDriver,
    private readonly announcer: Announcer,
    private readonly client: ControlClient
  ) {
    this.startedAt = deps.clock.now()
    this.evidence = new Evidence({
      swim, clock: deps.clock, selfId: identity.nodeId,
      nodes: () => this.netmap?.nodes ?? [],
      node: id => this.node(id),
      linkUp: () => this.link?.state === 'connected',
      pump: () => swimDriver.pump(),
      periodMs: swim.config.probeIntervalMs
    })
    this.handshakes = new HandshakeWatch({
      clock: deps.clock,
      selfKey: keys.publicKey,
      readPeers: async () => (await device.get()).peers,
      // A failed reset or arm leaves the device unknown and no reconcile of its own: without one, a reset whose
      // remove went through would leave the peer out until the next netmap.
      reset: async (key, reason) => { await reconciler.reset(key, reason); if (reconciler.stale) this.scheduleReconcile() },
      arm: async keys => { await reconciler.arm(keys); if (reconciler.stale) this.scheduleReconcile() }
    })
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
    const plan = await preflight(cfg, state, log)
    signal?.throwIfAborted()

    const undo: Array<() => Promise<void>> = []
    let daemon: Daemon | null = null
    try {
      const keys = plan.key ?? generateKeyPair()
      const device = await openPlannedDevice(plan.device, { driver: cfg.wg, ifname: cfg.ifname, privateKey: keys.privateKey, listenPort: cfg.listenPort, log })
      if (!device.adopted) undo.push(async () => await device.destroy())
      signal?.throwIfAborted()

      const dir = await state.prepare()
      if (dir.created || dir.tightened) log.info({ event: 'state.dir', dir: cfg.stateDir, ...dir }, dir.created ? 'created the state directory (0700)' : 'closed the state directory to other users (0700)')
      if (plan.key === null) {
        await state.saveKey(keys)
        log.info({ event: 'key.created', publicKey: keys.publicKey }, 'generated a new WireGuard key pair')
      }

      const client = new ControlClient(cfg.controllerUrl, undefined, cfg.controllerTrust)
      const checkInfo = cfg.metricsListen === undefined ? undefined : (info: { cidr: string }) => { checkMetricsListen(cfg.metricsListen!, info.cidr, cfg.metricsAllowMesh === true) }
      const identity = await ensureJoined(cfg, client, state, plan.saved, keys, deps, { signal, checkInfo })
      signal?.throwIfAborted()
      let netmap = plan.netmap
      if (netmap !== null && !netmap.nodes.some(n => n.id === identity.nodeId)) {
        // Saved before this node registered again under a new id: it would make our old record a peer of ours.
        log.info({ event: 'netmap.skip', version: netmap.version }, 'the saved netmap predates this identity; waiting for the controller')
        netmap = null
      }
      const metricsServer = cfg.metricsListen === undefined
        ? null
        : await serveDaemonMetrics({
          listen: cfg.metricsListen, allowMesh: cfg.metricsAllowMesh === true, cidr: identity.cidr, clock: deps.clock, log,
          status: async () => { if (daemon === null) throw new Error('the daemon is still starting'); return await daemon.status() }
        })
      if (metricsServer !== null) undo.push(async () => await metricsServer.close())

      await ensureInterface({ ifname: cfg.ifname, meshIp: identity.meshIp, cidr: identity.cidr, mtu: cfg.mtu, log })
      signal?.throwIfAborted()
      // The SWIM core is made below; the reconciler only asks it for incarnations once the daemon runs.
      const reconciler = new Reconciler({ device, log, clock: deps.clock, selfKey: keys.publicKey, incarnationOf: id => swim.member(id)?.incarnation,
        beforeRemove: async keys => { await daemon?.notePeers(keys) } })

      const bound = await state.loadIncarnation()
      const lease = new IncarnationLease({ bound, save: b => state.reserveIncarnation(b), log })
      const claims = new ClaimSigner({ selfId: identity.nodeId, key: SigningKey.derive(keys.privateKey), reserve: inc => lease.cover(inc) })
      const swimLog = log.child({ component: 'swim' })
      const swim = new Swim({
        config: PRESETS[cfg.swimPreset]!(),
        self: { id: identity.nodeId, addr: `${identity.meshIp}:${cfg.swimPort}` },
        incarnation: restartIncarnation(bound, deps.clock.now()),
        claims,
        random: new SeededRandom(randomBytes(4).readUInt32LE(0)),
        log: swimLog
      })
      const swimDriver = new SwimDriver({ core: swim, host: identity.meshIp, port: cfg.swimPort, clock: deps.clock, log: swimLog, onEvent: ev => daemon?.onSwimEvent(ev) })
      const announcer = new Announcer({
        selfId: identity.nodeId,
        privateKey: keys.privateKey,
        port: cfg.announcePort,
        lookup: id => { const n = daemon?.node(id); return n === undefined || n.id === identity.nodeId ? null : underlayPeer(n, cfg.announcePort - cfg.listenPort) },
        alive: () => swim.signedAlive(),
        onAlive: (id, inc, sig) => daemon?.onUnderlayAlive(id, inc, sig),
        onDeadNotice: (id, inc) => daemon?.onUnderlayDeadNotice(id, inc),
        clock: deps.clock,
        log: log.child({ component: 'announce' })
      })
      daemon = new Daemon(cfg, deps, state, keys, identity, device, reconciler, swim, claims, swimDriver, announcer, client)
      daemon.lastError = plan.netmapError
      daemon.metricsServer = metricsServer
      daemon.announceNew = plan.saved !== null || netmap !== null || plan.identityCorrupt !== null
      await daemon.run(netmap)
      return daemon
    } catch (err) {
      daemon?.release()
      for (const step of undo.reverse()) {
        await step().catch((e: unknown) => log.error({ event: 'daemon.start.undo.failed', reason: (e as Error).message }, 'could not undo a step of the failed start'))
      }
      throw err
    }
  }

  private async run (saved: Netmap | null): Promise<void> {
    await this.swimDriver.start()
    await this.announcer.start()
    this.evidence.start(this.identity.meshIp)
    if (saved !== null) {
      this.deps.log.info({ event: 'netmap.apply', version: saved.version, nodes: saved.nodes.length, source: 'disk' }, 'bringing the mesh up from the saved netmap')
      this.applyNetmap(saved, 'disk')
    }
    this.link = new ControlLink({
      client: this.client,
      credential: this.identity.credential,
      netmap: saved,
      onNetmap: (map, how) => this.applyNetmap(map, how),
      heartbeat: () => ({
        endpoints: this.endpoints(),
        listenPort: this.cfg.listenPort,
        netmapVersion: this.netmap?.version,
        agentVersion: this.deps.agentVersion,
        swim: this.swim.report()
      }),
      onRevoked: (reason, removed) => this.onRevoked(reason, removed),
      onForgotten: reason => this.onForgotten(reason),
      onState: () => this.evidence.refresh(),
      clock: this.deps.clock,
      log: this.deps.log
    })
    this.link.start()
    this.local = await serveLocal(this.state.path(SOCKET_NAME), {
      status: async () => await this.status(),
      leave: async () => await this.leave()
    }, this.deps.log)
    this.maybeAnnounce()
    this.scheduleDeadAnnounce()
    this.deps.log.info({ event: 'daemon.started', nodeId: this.identity.nodeId, meshIp: this.identity.meshIp, interface: this.cfg.ifname, adopted: this.device.adopted },
      'weft daemon running')
  }

  /**
   * Resolves when the daemon has stopped: `stopped` (SIGTERM or leave), or `restart` when it registered
   * again under a new identity and must be started again on it (DaemonRunner does).
   */
  async stopped (): Promise<'stopped' | 'restart'> { return await this.done }

  private endpoints (): string[] {
    if (this.cfg.endpoints.length > 0) return this.cfg.endpoints
    const cidr = parseCidr(this.identity.cidr)
    return defaultEndpoints(this.cfg.listenPort).filter(e => {
      const ip = parseIPv4(e.slice(0, e.lastIndexOf(':')))
      return ip === null || cidr === null || !cidrContains(cidr, ip)
    })
  }

  private node (id: string): NodeRecord | undefined {
    return this.nodesById.get(id)
  }

  private applyNetmap (map: Netmap, source: 'full' | 'delta' | 'disk'): void {
    const prev = this.netmap
    this.netmap = map
    this.nodesById = new Map(map.nodes.map(n => [n.id, n]))
    this.claims.setMembers(map.nodes)
    this.history.prune(new Set(map.nodes.map(n => n.publicKey)))
    const now = this.deps.clock.now()
    this.netmapAppliedAt = now
    if (this.swimMembersSet) this.swim.setMembers(now, swimMembers(map))
    this.evidence.refresh(now)
    if (source !== 'disk') { this.controllerNetmapSeen = true; this.refreshSigningKey() }
    this.maybeAnnounce()
    if (source !== 'disk') {
      this.deps.log.info({ event: 'netmap.apply', version: map.version, from: prev?.version ?? null, how: source, nodes: map.nodes.length }, 'netmap applied')
      this.state.saveNetmap(map, mustSaveAtOnce(prev, map)).catch((err: unknown) => {
        this.lastError = `cannot save netmap: ${(err as Error).message}`
        this.deps.log.error({ event: 'state.save.failed', reason: (err as Error).message }, 'cannot save the netmap; running on the in-memory copy')
      })
    }
    this.scheduleReconcile()
  }

  private onSwimEvent (ev: SwimEvent): void {
    const n = this.node(ev.id)
    this.deps.log.info({ event: `swim.${ev.type}`, nodeId: ev.id, hostname: n?.hostname, meshIp: n?.meshIp, incarnation: ev.incarnation, reason: ev.reason },
      `member ${n?.hostname ?? ev.id} ${ev.type}`)
    if (ev.type === 'refute') return
    if (ev.type === 'suspect') {
      this.evidence.onSuspect()
      return
    }
    // Only a change in who is down changes the peer set (a suspect keeps its tunnel): a refuted suspicion's
    // `alive`, one per member per false suspicion, costs no reconcile.
    const down = ev.type === 'dead' || ev.type === 'left'
    if (down !== this.lastDown.has(ev.id)) this.scheduleReconcile()
  }

  private onUnderlayAlive (id: string, incarnation: number, sig: Uint8Array): void {
    const before = this.swim.member(id)
    const revived = this.swim.noteAlive(this.deps.clock.now(), id, incarnation, sig)
    // Revived at the incarnation we buried it at: it does not know it was buried, and our buddy claim reaches it
    // only once both ends of the tunnel are back. Tell it over the underlay so that it refutes now.
    if (revived && before?.state === 'dead' && before.incarnation === incarnation) this.announcer.notifyDead(id, incarnation)
    this.swimDriver.pump()
  }

  /** A member holds us dead at `incarnation` (an underlay notice): SWIM refutes, and the refutation goes out. */
  private onUnderlayDeadNotice (id: string, incarnation: number): void {
    this.swim.noteClaimedDead(this.deps.clock.now(), id, incarnation)
    this.swimDriver.pump()
  }

  /** Reconciles the device with desired(); coalesces requests that arrive while one runs. */
  private scheduleReconcile (): void {
    if (this.reconciling) { this.reconcileAgain = true; return }
    this.reconciling = true
    void (async () => {
      do {
        this.reconcileAgain = false
        if (this.netmap === null || this.stopping) break
        const down = new Set(this.swim.members().filter(m => m.state === 'dead' || m.state === 'left').map(m => m.id))
        this.lastDown = down
        const want = this.revoked ? { peers: [], excluded: [] } : desired(this.netmap, down, this.identity.nodeId, { keepaliveSeconds: this.cfg.keepaliveSeconds })
        const res = await this.reconciler.reconcile(want)
        this.handshakes.removed(res.applied.flatMap(c => c.op.kind === 'remove' ? [c.op.publicKey] : []))
        this.handshakes.added(res.applied.flatMap(c => c.op.kind === 'add' ? [c.op.peer.publicKey] : []))
        if (!this.swimMembersSet) this.startSwim()
        if (!res.ok) this.lastError = `WireGuard reconcile incomplete: ${res.readError?.message ?? res.failed[0]?.error.message ?? 'stopped early'}`
        else if (this.lastError?.startsWith('WireGuard') === true) this.lastError = null
      } while (this.reconcileAgain)
      this.reconciling = false
    })()
  }

  /**
   * Gives SWIM its members once the first reconcile has configured the tunnels (even if some changes failed:
   * SWIM must not wait on a broken device). Only then does this node announce itself alive: a member's join
   * grace at the others counts from the first sign that it runs (docs/swim.md), and a node that announced
   * itself before its peers were configured was accused by everyone whose probes it could not yet answer
   * (seen in a 200-node join on 2 cores, where a new daemon took tens of seconds to configure its peers).
   */
  private startSwim (): void {
    if (this.netmap === null) return
    this.swimMembersSet = true
    const now = this.deps.clock.now()
    this.swim.setMembers(now, swimMembers(this.netmap))
    this.evidence.refresh(now) // pumps SWIM's outputs too
    this.maybeAnnounce()
  }

  /**
   * Opens the announcer and announces this start to the members not yet told (announceNew), but only once
   * the first reconcile has configured the tunnels, as SWIM's members wait for it (startSwim). An
   * announcement, or the ack to a member's re-probe, makes the member revive us and probe us through its
   * tunnel at once; before our side of the tunnels existed those probes went unanswered, and once the
   * member's join grace ran out it accused us while we could hear nobody to refute (docs/daemon.md). Stops
   * announcing after the first controller netmap has been covered.
   */
  private maybeAnnounce (): void {
    if (this.swimMembersSet) this.announcer.open()
    if (!this.announceNew || this.local === null || !this.swimMembersSet) return
    this.announceToNew()
    if (this.controllerNetmapSeen) this.announceNew = false
  }

  /**
   * Tells every member we have not told since this start that we are up, over the underlay: a peer that
   * removed our tunnel while we were away (or declared us dead before our SWIM agent was listening) re-adds
   * it at once instead of at its next dead re-probe.
   */
  private announceToNew (): void {
    let told = 0
    for (const n of this.netmap?.nodes ?? []) {
      if (n.id === this.identity.nodeId || this.announced.has(n.id)) continue
      this.announced.add(n.id)
      this.announcer.ping(n.id)
      told++
    }
    if (told > 0) this.deps.log.info({ event: 'announce.start', members: told }, 'told members over the underlay that this daemon is back')
  }

  private scheduleDeadAnnounce (): void {
    this.deadTimer = setTimeout(() => {
      for (const m of this.swim.members()) if (m.state === 'dead') this.announcer.pingDead(m.id, m.incarnation)
      // Retried here too while the reconciler does not know the device (after any failed reconcile, reset or
      // arm, and for the settle time after a call that ran out of time), so a hiccup never leaves the mesh stale.
      if (this.reconciler.stale) this.scheduleReconcile()
      this.scheduleDeadAnnounce()
    }, this.cfg.deadAnnounceIntervalMs)
  }

  /**
   * Registers again with our credential when the controller's record of us lacks our signing key (it was
   * registered by a daemon from before signed claims): until it has it, no member believes our refutations.
   * One attempt per controller netmap that still lacks it.
   */
  private refreshSigningKey (): void {
    const key = this.claims.publicKey
    if (this.keyRefresh || this.revoked || this.nodesById.get(this.identity.nodeId)?.signingKey === key) return
    this.keyRefresh = true
    const endpoints = this.endpoints()
    register(this.client, this.state, this.identity, {
      keys: this.keys, hostname: this.cfg.hostname, endpoints, listenPort: this.cfg.listenPort, swimPort: this.cfg.swimPort
    }, this.deps).then(() => {
      this.deps.log.info({ event: 'control.signing_key', signingKey: key }, 'told the controller our SWIM signing key')
    }, (err: unknown) => {
      this.deps.log.warn({ event: 'control.signing_key.failed', reason: (err as Error).message }, 'could not tell the controller our SWIM signing key; retrying with the next netmap')
    }).finally(() => { this.keyRefresh = false })
  }

  /**
   * The controller refused our credential with a 403. Its peers go. When it says an admin removed the node,
   * the removal is saved with the identity, so that no later start, token or not, brings the node back.
   */
  private onRevoked (reason: string, removed: boolean): void {
    this.revoked = true
    this.lastError = `the controller revoked this node: ${reason}`
    this.scheduleReconcile()
    if (!removed) return
    const identity = { ...this.identity, removedAt: this.deps.clock.now() }
    this.lastError = removedMessage(this.state, identity)
    this.deps.log.error({ event: 'control.removed', nodeId: this.identity.nodeId, meshIp: this.identity.meshIp }, this.lastError)
    this.state.saveIdentity(identity).catch((err: unknown) => {
      this.deps.log.error({ event: 'state.save.failed', reason: (err as Error).message }, 'cannot record the removal in node.json')
    })
  }

  /**
   * The controller does not know our credential: it lost its record of this node (a store restored from an
   * older backup, or data loss accepted). The mesh keeps running from the saved netmap. With a join token
   * the node registers again, asking for its mesh IP (rejoin); without one the operator is told what to do.
   */
  private onForgotten (reason: string): void {
    if (this.cfg.joinToken === undefined) {
      this.lastError = 'the controller does not know this node (it lost its record: restored from an older backup, or data loss accepted); ' +
        'to register again with the same key and ask for the same mesh IP, restart the daemon with --join-token'
      this.deps.log.error({ event: 'control.forgotten', nodeId: this.identity.nodeId, meshIp: this.identity.meshIp, reason }, this.lastError)
      return
    }
    this.deps.log.warn({ event: 'control.forgotten', nodeId: this.identity.nodeId, meshIp: this.identity.meshIp, reason },
      'the controller does not know this node; registering again with the join token')
    void this.rejoin()
  }

  /**
   * Registers again with the join token and the saved mesh IP, then stops to be started again on the new
   * identity (the interface and its peers stay, as across any restart). A different mesh IP moves the
   * interface to it, and the operator is told. A refusal leaves the node as it is, with the reason shown.
   */
  private async rejoin (): Promise<void> {
    const before = this.identity
    try {
      const after = await registerAgain(this.cfg, this.client, this.state, before, this.keys, this.deps, this.stopSignal.signal)
      const moved = after.meshIp !== before.meshIp
      this.deps.log[moved ? 'warn' : 'info']({ event: 'control.rejoined', fromNodeId: before.nodeId, nodeId: after.nodeId, fromMeshIp: before.meshIp, meshIp: after.meshIp },
        moved
          ? `registered again with a new mesh IP: ${before.meshIp} -> ${after.meshIp} (the controller did not give the old one back); moving the interface to it. Anything that names ${before.meshIp} needs updating`
          : 'registered again with the same mesh IP; starting on the new identity')
      this.restart = true
      await this.stop({ teardown: false })
    } catch (err) {
      if (this.stopping) return
      if (err instanceof ControllerError && err.remoteCode === Code.NODE_REMOVED) {
        this.onRevoked((err as Error).message, true)
        return
      }
      this.lastError = `the controller does not know this node and refused to register it again: ${(err as Error).message}`
      this.deps.log.error({ event: 'control.rejoin.failed', reason: (err as Error).message }, this.lastError)
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
      netmap: this.netmap,
      netmapAppliedAt: this.netmapAppliedAt,
      swim: this.swim,
      counters: {
        ...this.swimDriver.counters, ...prefixed('announce', this.announcer.counters), 'wg.handshakeResets': this.handshakes.resets,
        ...prefixed('wg', this.reconciler.counters), ...prefixed('control', this.link?.counters ?? {})
      },
      lastError: this.lastError
    })
  }

  /** Graceful leave: SWIM and controller told, interface torn down, daemon stopped. */
  async leave (): Promise<{ nodeId: string, controllerTold: boolean }> {
    this.swim.leave(this.deps.clock.now())
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
    const until = this.deps.clock.now() + LEAVE_GOSSIP_MS
    while (this.swim.pendingBroadcasts > 0 && this.deps.clock.now() < until) await new Promise(resolve => setTimeout(resolve, 50))
    this.deps.log.info({ event: 'daemon.leave', nodeId: this.identity.nodeId, controllerTold }, 'left the mesh')
    // Answer the caller first, then tear down.
    setTimeout(() => { void this.stop({ teardown: true }) }, 50)
    return { nodeId: this.identity.nodeId, controllerTold }
  }

  /** Ends the timers, the controller link and the sockets (the metrics server excepted: its owner closes it). */
  private release (): void {
    this.stopSignal.abort()
    clearTimeout(this.deadTimer)
    this.evidence.stop()
    this.handshakes.stop()
    this.link?.stop()
    this.swimDriver.stop()
    this.announcer.stop()
    this.local?.close()
  }

  /** Stops the daemon. The interface and its peers stay (the data plane outlives the daemon) unless `teardown`. */
  async stop (opts: { teardown: boolean } = { teardown: false }): Promise<void> {
    if (this.stopping) { await this.done; return }
    this.stopping = true
    this.release()
    await this.metricsServer?.close()
    await this.state.flushNetmap().catch(() => {})
    if (opts.teardown) {
      try { await this.device.destroy() } catch (err) { this.deps.log.error({ event: 'wg.destroy.failed', reason: (err as Error).message }, 'could not remove the interface') }
    }
    this.deps.log.info({ event: 'daemon.stopped', teardown: opts.teardown, restart: this.restart }, opts.teardown ? 'interface removed; daemon stopped' : 'daemon stopped; WireGuard interface left running')
    this.resolveDone(this.restart ? 'restart' : 'stopped')
  }
}

function prefixed (p: string, o: object): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(o)) if (typeof v === 'number') out[`${p}.${k}`] = v
  return out
}

