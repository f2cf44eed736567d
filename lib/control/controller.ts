import { randomBytes, randomInt } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Clock, Timer } from '../clock.js'
import { ConfigError, InvalidInputError } from '../errors.js'
import type { Logger } from '../log.js'
import type {
  AdvertiseRequest, ControllerInfo, CreateTokenRequest, CreateTokenResponse, NodeExpiryRequest, NodeRenameRequest, NodeRouting, NodeStatus, NodeTagsRequest,
  RouteDecisionRequest, TokenInfo, TokenListResponse
} from '../wire/api.js'
import type { NodeRecord } from '../wire/netmap.js'
import { formatIPv4 } from '../wire/addr.js'
import { fingerprintOfPem, type Fingerprint } from '../wire/fingerprint.js'
import { StaticKey } from '../wire/keys.js'
import { ownProtocols } from '../wire/compat.js'
import { buildApp } from './app.js'
import { makeBackup, type Backup } from './backup.js'
import { Channels } from './channels.js'
import { parseListen, resolve as resolveConfig, type ControllerConfig, type ControllerConfigInput } from './config.js'
import { ensureDataDir, loadAdminKey, loadControllerKey } from './data-dir.js'
import { DurableStore } from './durable-store.js'
import { GroupCommit } from './group-commit.js'
import { Ipam } from './ipam.js'
import { Liveness } from './liveness.js'
import { ControllerMetrics } from './metrics.js'
import { NetmapLog, serialize } from './netmap-log.js'
import { NodeExpiry } from './node-expiry.js'
import { EventLog } from './events.js'
import { HealthHistory, HISTORY_FLUSH_MS } from './history.js'
import { SessionBook } from './sessions.js'
import { PolicyAdmin } from './policy-admin.js'
import { Registration } from './registration.js'
import { Registry } from './registry.js'
import { advertise, decide, parseAutoApprove, type AutoApprove } from './routing.js'
import type { StoredNode, StoreOp } from './store.js'
import { EtcdSession } from './etcd-session.js'
import { encodeLive } from './live-record.js'
import { applyLive, applyRecords, type FollowTargets } from './store-follow.js'
import type { EtcdStore } from './etcd-store.js'
import { openStore, storeBackend, type OpenedStore } from './store-open.js'
import { TokenAdmin } from './token-admin.js'
import { TokenBook } from './tokens.js'
import { notifyService } from '../sd-notify.js'

/** How often the deadline wheels are swept; also the granularity of health deadlines. */
const SWEEP_MS = 250
/** How often expired nonces and tokens are deleted from the store. */
const MAINTENANCE_MS = 60_000

/** What the controller is started with besides its config. */
export interface ControllerDeps {
  clock: Clock
  log: Logger
  /**
   * Called when the store can only be made to agree with memory by a restart (a write reported as failed
   * reached the disk after all). The CLI exits with status 75 so that the supervisor restarts it.
   */
  onRestartRequired?: (why: string) => void
}

/**
 * The controller: owns the store, the in-memory state built from it, the HTTP server and the timers.
 * `Controller.start` opens everything (failing fast with a coded error on a bad config or data dir);
 * `close` stops it and releases the database lock.
 */
export class Controller {
  readonly metrics: ControllerMetrics
  /** On etcd: this controller's session (its lease and live keys) and the shared store it follows; null on LevelDB. */
  private session: EtcdSession | null = null
  private etcd: EtcdStore | null = null
  /** Why this controller serves no update channel and takes no write now (cut off from etcd), or null. */
  isolated: string | null = null
  readonly store: DurableStore
  readonly commit: GroupCommit
  readonly ipam: Ipam
  readonly tokens: TokenBook
  readonly tokenAdmin: TokenAdmin
  readonly expiry: NodeExpiry
  readonly channels: Channels
  readonly liveness: Liveness
  readonly registry: Registry
  readonly registration: Registration
  readonly netmap: NetmapLog
  readonly policy: PolicyAdmin
  /** Dashboard sessions (sessions.ts). */
  readonly sessions: SessionBook
  /** The dashboard's timeline of what happened to the mesh (events.ts). */
  readonly events: EventLog
  /** Every node's health history, kept in the store (history.ts). */
  readonly history: HealthHistory
  readonly epoch = randomBytes(8).toString('hex')
  private auto: AutoApprove | null = null
  app: FastifyInstance | null = null
  /** Base URL once listening, e.g. `http://127.0.0.1:8080`. */
  url = ''
  /** SHA-256 fingerprint of the served TLS certificate (what `--controller-fingerprint` pins); null without TLS. */
  tlsFingerprint: Fingerprint | null = null
  private timers: Timer[] = []

  private constructor (
    readonly config: ControllerConfig,
    readonly clock: Clock,
    readonly log: Logger,
    private readonly rootLog: Logger,
    opened: OpenedStore,
    private readonly onRestartRequired: ((why: string) => void) | undefined,
    readonly publicKey: string,
    privateKey: string,
    readonly adminKeyHash: string
  ) {
    this.ipam = new Ipam(config.cidr, config.ipQuarantineMs)
    this.metrics = new ControllerMetrics({
      healthCounts: () => this.registry.healthCounts(),
      netmapVersion: () => this.netmap.version,
      openChannels: () => this.channels.size,
      syncedBatches: () => this.commit.batches,
      storeHealthy: () => this.store.phase === 'healthy',
      policyVersion: () => this.policy.version
    }, clock)
    this.store = new DurableStore({
      ...storeBackend(config, clock),
      dataDir: config.dataDir,
      cidr: config.cidr,
      clock,
      log: log.child({ component: 'store' }),
      ipHighWater: () => this.ipam.highWater,
      onError: stage => this.metrics.storeErrors.inc({ stage }),
      onRefused: () => this.metrics.storeRefused.inc(),
      ...(onRestartRequired !== undefined ? { onRestartRequired } : {})
    }, opened.base)
    this.commit = new GroupCommit(this.store)
    this.sessions = new SessionBook(clock)
    this.events = new EventLog(() => clock.now())
    this.history = new HealthHistory({
      clock,
      log,
      commit: this.commit,
      writes: id => !this.store.shared || this.liveness.holds(id)
    })
    this.netmap = new NetmapLog({
      epoch: this.epoch,
      cidr: config.cidr,
      dns: { domain: config.dnsDomain },
      historyLimit: config.deltaHistory,
      onDelta: line => this.channels.broadcast(line),
      minIntervalMs: config.netmapIntervalMs,
      healthIntervalMs: config.netmapHealthIntervalMs,
      clock
    })
    this.tokens = new TokenBook(clock)
    this.tokenAdmin = new TokenAdmin({
      clock,
      log,
      tokens: this.tokens,
      commit: this.commit,
      admitTags: tags => this.policy.admitTags(tags),
      ...(this.store.shared ? { admitted: () => this.registry.admittedByToken() } : {})
    })
    this.expiry = new NodeExpiry({
      clock,
      log,
      expiresAt: id => this.registry.get(id)?.expiresAt,
      remove: async id => await this.registry.remove(id, 'expired'),
      retryMs: config.storeRetryMs
    })
    this.channels = new Channels({
      clock,
      log: log.child({ component: 'channels' }),
      maxBufferBytes: config.maxChannelBufferBytes,
      onChange: (id, open) => this.liveness.streams(id, open)
    })
    this.liveness = new Liveness({
      clock,
      controlStaleMs: config.controlStaleMs,
      streamGraceMs: config.streamGraceMs,
      reportFreshMs: config.reportFreshMs,
      onVerdict: (id, from, to) => this.registry.onVerdict(id, from, to),
      onLocal: id => this.shareLive(id),
      onSuspicions: n => this.metrics.suspicions.inc(n)
    })
    this.registry = new Registry({
      clock,
      log,
      commit: this.commit,
      ipam: this.ipam,
      netmap: this.netmap,
      liveness: this.liveness,
      channels: this.channels,
      metrics: this.metrics,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      dnsDomain: config.dnsDomain,
      expiry: this.expiry,
      events: this.events,
      history: this.history
    })
    this.policy = new PolicyAdmin({
      clock,
      log,
      commit: this.commit,
      metrics: this.metrics,
      publish: p => {
        this.netmap.setPolicy(p)
        this.events.emit('policy', { to: `v${p.version}`, reason: `access policy version ${p.version} in force` })
      },
      nodes: () => this.registry.policyNodes()
    })
    this.registration = new Registration({
      clock,
      log,
      registry: this.registry,
      tokens: this.tokens,
      ipam: this.ipam,
      commit: this.commit,
      metrics: this.metrics,
      controllerKey: StaticKey.from(privateKey),
      controllerPublicKey: publicKey,
      cidr: config.cidr,
      proofSkewMs: config.proofSkewMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      sharedStore: this.store.shared
    })
  }

  /**
   * Opens the data dir, checks the database against its store guard, restores state, starts listening.
   * Throws ConfigError, DataDirError or StoreBehindError on bad input.
   */
  static async start (input: ControllerConfigInput, deps: ControllerDeps): Promise<Controller> {
    const config = resolveConfig(input)
    const log = deps.log.child({ component: 'controller' })
    await ensureDataDir(config.dataDir)
    const https = config.tlsCertFile !== undefined ? await readTls(config.tlsCertFile, config.tlsKeyFile!) : undefined
    let ctl: Controller | undefined
    const opened = await openStore(config, { clock: deps.clock, log })
    try {
      const { state } = opened
      const key = await loadControllerKey(config.dataDir, state.meta.get('controllerPublicKey'))
      const admin = await loadAdminKey(config.dataDir, state.meta.get('adminKeyHash'), config.rotateAdminKey)
      const meta: StoreOp[] = [...opened.meta]
      if (key.created || state.meta.get('controllerPublicKey') === undefined) meta.push({ kind: 'meta', key: 'controllerPublicKey', value: key.keys.publicKey })
      if (state.meta.get('adminKeyHash') !== admin.hash) meta.push({ kind: 'meta', key: 'adminKeyHash', value: admin.hash })
      if (state.meta.get('cidr') === undefined) meta.push({ kind: 'meta', key: 'cidr', value: config.cidr })

      ctl = new Controller(config, deps.clock, log, deps.log, opened, deps.onRestartRequired, key.keys.publicKey, key.keys.privateKey, admin.hash)
      const now = deps.clock.now()
      for (const [id, changes] of state.history) ctl.history.restore(id, changes)
      for (const n of state.nodes) if (n.state !== 'removed') ctl.registry.restore(n)
      for (const node of ctl.registry.nameUnnamed()) meta.push({ kind: 'node', node })
      const registry = ctl.registry
      const records: NodeRecord[] = state.nodes.flatMap(n => n.state === 'removed' ? [] : [registry.seedRecord(n.id)])
      for (const n of state.nodes) {
        if (n.state !== 'removed') continue
        if ((n.removedAt ?? 0) + config.ipQuarantineMs <= now) {
          ctl.ipam.restoreHighWater(ctl.ipam.offsetOf(n.meshIp))
          meta.push({ kind: 'del-node', id: n.id })
        } else {
          ctl.ipam.restoreQuarantine(n.publicKey, n.meshIp, n.removedAt ?? now)
          ctl.registry.restoreRemoved(n)
        }
      }
      if (opened.orphans !== null) ctl.ipam.restoreOrphans(opened.orphans.upTo, opened.orphans.until)
      ctl.ipam.restoreHighWater(opened.ipHighWater)
      if (opened.etcd !== null) ctl.ipam.startAt(randomInt(1, ctl.ipam.capacity + 1))
      ctl.tokens.restore(state.tokens)
      ctl.registration.restoreNonces(state.nonces)
      await ctl.store.write(meta, { sync: true })
      ctl.logStart(admin.file, opened.accepted)
      ctl.netmap.seed(records, ctl.policy.restore(state.policy))
      if (opened.etcd !== null) await ctl.followEtcd(opened.etcd)
      await ctl.listen(https)
    } catch (err) {
      await ctl?.session?.close()
      if (ctl !== undefined) await ctl.store.close().catch(() => {})
      else await opened.base.raw.close().catch(() => {})
      throw err
    }
    return ctl
  }

  /** What a node needs before it registers. */
  info (): ControllerInfo {
    return {
      publicKey: this.publicKey,
      cidr: this.config.cidr,
      epoch: this.epoch,
      version: this.netmap.version,
      heartbeatIntervalMs: this.config.heartbeatIntervalMs,
      protocols: ownProtocols()
    }
  }

  /** Every record of the store, read at one moment (a LevelDB snapshot, one etcd revision), as a backup. */
  async backup (): Promise<Backup> {
    const records = await this.store.dump()
    this.log.info({ event: 'controller.backup', records: records.length }, `backup taken: ${records.length} records`)
    return makeBackup(records, this.store.storeId, this.clock.now())
  }

  /** Creates a join token and persists its hash (synced) before returning the secret. */
  async createToken (req: CreateTokenRequest): Promise<CreateTokenResponse> {
    return await this.tokenAdmin.create(req)
  }

  /** Every join token on record, without secrets. */
  listTokens (): TokenListResponse {
    return this.tokenAdmin.list()
  }

  /** Revokes a join token, durably; see TokenAdmin.revoke. */
  async revokeToken (id: string): Promise<TokenInfo> {
    return await this.tokenAdmin.revoke(id)
  }

  /**
   * Sets when node `id` expires, durably: `expiresAt` (a future time, or null for never) or `ttlMs` from now.
   * Throws InvalidInputError for a time not in the future, NotFoundError, or ConflictError while another
   * write of the node is under way.
   */
  async setNodeExpiry (id: string, req: NodeExpiryRequest): Promise<NodeStatus> {
    const now = this.clock.now()
    const at = req.ttlMs !== undefined ? now + req.ttlMs : req.expiresAt ?? null
    if (at !== null && at <= now) {
      throw new InvalidInputError(`expiresAt ${new Date(at).toISOString()} is not in the future (controller clock ${new Date(now).toISOString()}); ` +
        'to remove the node now, use `weft nodes remove`')
    }
    const n = this.registry.get(id)
    return await this.registry.edits.setExpiry(id, at, n !== undefined && this.registration.busy(n.publicKey))
  }

  /**
   * Records what node `authed` advertises (its whole advertisement, replacing the last), approving what
   * --auto-approve-routes covers. Throws InvalidInputError for a bad route, ConflictError while the node is being
   * removed.
   */
  async advertiseRoutes (authed: StoredNode, req: AdvertiseRequest): Promise<NodeRouting> {
    const auto = this.autoApprove
    const st = await this.registry.edits.setRouting(authed.id, r => advertise(r, req, this.config.cidr, auto), 'node')
    return st.routing
  }

  /** An admin's approvals and rejections of node `id`'s routes (CIDRs or `exit`). */
  async decideRoutes (id: string, req: RouteDecisionRequest): Promise<NodeStatus> {
    return await this.registry.edits.setRouting(id, r => decide(r, req.approve ?? [], req.reject ?? [], this.config.cidr), 'admin')
  }

  /** Renames node `id` (its DNS label), durably; see Registry.rename. */
  async renameNode (id: string, req: NodeRenameRequest): Promise<NodeStatus> {
    return await this.registry.edits.rename(id, req.name)
  }

  /**
   * Replaces node `id`'s tags, durably. Throws InvalidInputError for a malformed tag, PolicyError for one the
   * policy in force does not declare, NotFoundError, or ConflictError while the node is being removed.
   */
  async setNodeTags (id: string, req: NodeTagsRequest): Promise<NodeStatus> {
    return await this.registry.edits.setTags(id, this.policy.admitTags(req.tags))
  }

  private get autoApprove (): AutoApprove {
    this.auto ??= parseAutoApprove(this.config.autoApproveRoutes)
    return this.auto
  }

  /** Removes the nodes whose expiry has passed (the sweep does this every 250 ms of the controller's clock; tests may call it). */
  async expireNodes (): Promise<string[]> {
    return await this.expiry.run()
  }

  /** A keepalive line for update channels. */
  pingLine (): Buffer {
    return serialize({ type: 'ping', epoch: this.epoch, version: this.netmap.version, at: this.clock.now() })
  }

  /** Processes passed health deadlines now (the sweep does this every 250 ms of the controller's clock; tests may call it). */
  sweep (): number {
    return this.liveness.sweep()
  }

  /** Stops timers, closes channels and the server, waits for pending writes and releases the database. */
  async close (): Promise<void> {
    await notifyService('STOPPING=1', this.log)
    for (const t of this.timers) t.cancel()
    this.timers = []
    this.channels.stopPings()
    this.channels.closeAll()
    await this.app?.close()
    if (this.store.phase === 'healthy' && this.isolated === null) await this.history.flush()
    await this.commit.drain()
    await this.session?.close()
    await this.store.close()
    this.log.info({ event: 'controller.stopped' }, 'controller stopped')
  }

  /**
   * On etcd: opens this controller's session and follows the other controllers' writes from the revision
   * loaded at start (docs/store.md, "etcd").
   */
  private async followEtcd (etcd: EtcdStore): Promise<void> {
    this.etcd = etcd
    this.session = await EtcdSession.open({
      client: etcd.etcd,
      prefix: this.config.etcdPrefix,
      id: this.epoch,
      clock: this.clock,
      log: this.log,
      timeoutMs: this.config.etcdTimeoutMs,
      onLost: why => this.isolate(why),
      onBack: () => this.rejoin()
    })
    const t: FollowTargets = {
      log: this.log,
      registry: this.registry,
      tokens: this.tokens,
      registration: this.registration,
      history: this.history,
      policy: this.policy,
      liveness: this.liveness,
      self: this.epoch
    }
    await etcd.follow(changes => applyRecords(t, changes), changes => applyLive(t, changes), why => this.followLost(why))
  }

  /** Writes what this controller now hears from node `id` to its live key (none when it no longer does). */
  private shareLive (id: string): void {
    if (this.session === null) return
    const rec = this.registry.liveRecord(id)
    this.session.set(id, rec === null ? null : encodeLive(rec))
  }

  /**
   * Cut off from etcd (no keepalive answered for the session's TTL): another controller may be deciding what
   * this one cannot see, so every write is refused with the reason, the update channels close and new ones are
   * refused, and daemons move to a controller that reaches the quorum. Ends when the session is back.
   */
  private isolate (why: string): void {
    this.isolated = why
    this.store.suspend(why)
    this.channels.closeAll()
    this.log.error({ event: 'store.isolated', reason: why }, `${why}; refusing writes and update channels until etcd answers again`)
  }

  /** The session is back: once the watch is up again (memory follows the others again), writes and channels are taken again. */
  private rejoin (): void {
    const why = this.isolated
    void this.etcd?.watching().then(() => {
      if (this.isolated !== why || this.session?.isLost === true) return
      this.isolated = null
      this.store.resume()
      this.log.warn({ event: 'store.rejoined', was: why },
        'etcd answers again: a new session is open and the watch follows the store; writes and update channels are taken again')
    })
  }

  /** The watch of the shared store ended for good: memory can no longer follow it, so only a restart helps. */
  private followLost (why: string): void {
    this.store.refuseFromNow(why)
    this.channels.closeAll()
    this.isolated = why
    this.log.error({ event: 'store.follow_lost', reason: why }, `${why}; refusing writes and update channels, and restarting`)
    this.onRestartRequired?.(why)
  }

  private async listen (https: { cert: Buffer, key: Buffer } | undefined): Promise<void> {
    const app = await buildApp(this, {
      log: this.rootLog,
      bodyLimitBytes: this.config.bodyLimitBytes,
      registerRatePerMin: this.config.registerRatePerMin,
      authFailuresPerMin: this.config.authFailuresPerMin,
      ...(https !== undefined ? { https } : {})
    })
    this.app = app
    const { host, port } = parseListen(this.config.listen)
    try {
      await app.listen({ host, port })
    } catch (err) {
      throw new ConfigError(`cannot listen on ${this.config.listen}: ${(err as Error).message}`, { cause: err })
    }
    const addr = app.server.address()
    const boundPort = typeof addr === 'object' && addr !== null ? addr.port : port
    const shownHost = host.includes(':') ? `[${host}]` : host
    this.url = `${https !== undefined ? 'https' : 'http'}://${shownHost}:${boundPort}`
    this.tlsFingerprint = https !== undefined ? fingerprintOfPem(https.cert, `--tls-cert ${this.config.tlsCertFile ?? ''}`) : null
    this.channels.startPings(this.config.streamPingIntervalMs, () => this.pingLine())
    const every = (ms: number, fn: () => void): Timer => this.clock.setInterval(fn, ms, { unref: true })
    this.timers.push(
      every(SWEEP_MS, () => { this.sweep(); if (this.expiry.due(this.clock.now())) void this.expireNodes() }),
      every(MAINTENANCE_MS, () => { void this.maintain() }),
      every(this.config.storeRetryMs, () => { if (this.store.phase === 'failed') void this.store.recover() }),
      every(HISTORY_FLUSH_MS, () => { if (this.store.phase === 'healthy' && this.isolated === null) void this.history.flush() })
    )
    this.log.info({
      event: 'controller.listening',
      url: this.url,
      epoch: this.epoch,
      nodes: this.registry.size,
      cidr: this.config.cidr,
      publicKey: this.publicKey,
      tlsFingerprint: this.tlsFingerprint
    }, `controller listening on ${this.url}`)
    await notifyService('READY=1', this.log)
  }

  /**
   * Deletes expired nonces, and tokens that ended more than `tokenRetentionMs` ago, from memory and store;
   * a store that refuses writes has logged why.
   */
  private async maintain (): Promise<void> {
    const ops: StoreOp[] = [
      ...this.registration.takeExpiredNonces().map(nonce => ({ kind: 'del-nonce' as const, nonce })),
      ...this.tokens.takeEnded(this.config.tokenRetentionMs).map(hash => ({ kind: 'del-token' as const, hash }))
    ]
    await this.store.write(ops, { sync: false }).catch(() => {})
  }

  /** Start-up events an operator must see: the admin key file's state and an accepted data loss. */
  private logStart (adminFile: 'created' | 'rotated' | 'present' | 'missing', accepted: OpenedStore['accepted']): void {
    const path = join(this.config.dataDir, 'admin.key')
    if (adminFile === 'created') this.log.info({ event: 'controller.admin_key_created', path }, 'admin key written (mode 0600)')
    if (adminFile === 'rotated') {
      this.log.warn({ event: 'controller.admin_key_rotated', path }, 'new admin key written (mode 0600); the old admin key no longer works')
    }
    if (adminFile === 'missing') {
      this.log.warn({ event: 'controller.admin_key_missing', path },
        `${path} is missing; the admin key it held still works if a copy was kept. ` +
        'To write a new one, restart with --rotate-admin-key (the old key stops working)')
    }
    if (accepted !== null) {
      const o = this.ipam.orphans
      this.log.warn({
        event: 'store.data_loss_accepted',
        reason: accepted.why,
        writesLost: accepted.loss.writes,
        nodesLost: accepted.loss.nodes,
        nodesBefore: accepted.loss.nodesBefore,
        nodesNow: accepted.loss.nodesNow,
        ipReservedUpTo: o.upTo > 0 ? formatIPv4(this.ipam.cidr.base + o.upTo) : null,
        ipReserved: o.count,
        ipReservedUntil: o.until
      }, `started with --accept-data-loss: ${accepted.why}. Forgotten nodes must join again with a token; ${o.count} addresses they may hold stay reserved`)
    }
  }
}

async function readTls (certFile: string, keyFile: string): Promise<{ cert: Buffer, key: Buffer }> {
  try {
    return { cert: await readFile(certFile), key: await readFile(keyFile) }
  } catch (err) {
    throw new ConfigError(`cannot read --tls-cert/--tls-key: ${(err as Error).message}`, { cause: err })
  }
}
