/**
 * The daemon's decisions, without IO: inputs (a netmap, a SWIM verdict, a finished reconcile, the controller's
 * refusal, the retry tick) go in, actions come out, and the Daemon carries them out. It owns the phase and the
 * current netmap; no clock, no sockets, no device.
 */
import type { SwimEvent } from '../swim/types.js'
import type { Netmap, NodeRecord } from '../wire/netmap.js'
import { desired, type DesiredConfig } from './desired.js'
import { ending, reconciles, transition, type DaemonPhase, type PhaseEvent } from './phase.js'

/** Who this node is and how it starts; fixed for the life of a DaemonCore. */
export interface DaemonCoreConfig {
  selfId: string
  /** This node's WireGuard public key: desired() holds the peers that initiate to us. */
  selfKey: string
  /** The SWIM claim key this node signs with, as the controller's record of us should carry it. */
  signingKey: string
  /** Persistent keepalive of every peer, in seconds. */
  keepaliveSeconds: number
  /** Whether a join token was given: a controller that forgot us is then asked to register us again. */
  joinToken: boolean
  /**
   * Whether this start announces itself over the underlay: a restart (saved identity or netmap) does, a first
   * start does not (docs/daemon-swim.md, "Returning while the controller is down: the underlay announcement").
   */
  announce: boolean
}

/** What the Daemon tells the core. */
export type DaemonInput =
  | { type: 'started' }
  | { type: 'netmap', map: Netmap, source: 'disk' | 'full' | 'delta' }
  /** SWIM's verdict on a member: `down` for dead or left, not for alive. */
  | { type: 'member', id: string, down: boolean }
  | { type: 'reconciled' }
  /** The periodic tick (deadAnnounceIntervalMs); `stale` = the reconciler does not know the device. */
  | { type: 'tick', stale: boolean }
  /** A handshake reset or arm failed and left the device unknown. */
  | { type: 'device-stale' }
  | { type: 'revoked', reason: string, removed: boolean }
  | { type: 'forgotten', reason: string }
  /** Registered again under a new identity: stop, to be started on it. */
  | { type: 'rejoined' }
  /** The signing-key registration finished, either way. */
  | { type: 'signing-key-done' }
  | { type: 'stop', teardown: boolean }
  | { type: 'released' }

/** What the Daemon carries out, in the order given. */
export type DaemonAction =
  /** Reconcile the device toward desired() (coalesced with one that runs). */
  | { type: 'reconcile' }
  /** Give SWIM the netmap's members; the first time, SWIM starts probing and gossips us alive. */
  | { type: 'set-swim-members' }
  /** Let the underlay announcer answer members' pings. */
  | { type: 'open-announcer' }
  /** Tell these members over the underlay that this daemon is back. */
  | { type: 'announce', ids: string[] }
  /** Ping every member SWIM holds dead, over the underlay. */
  | { type: 'announce-dead' }
  /** Register again with our credential, so that the controller learns our signing key. */
  | { type: 'refresh-signing-key' }
  /** Show the refusal; `removed`: record in node.json that an admin removed the node, for every later start. */
  | { type: 'record-revocation', reason: string, removed: boolean }
  /** Register again with the join token and the saved mesh IP (the controller lost its record of us). */
  | { type: 'rejoin', reason: string }
  /** The controller lost its record of us and there is no join token: tell the operator. */
  | { type: 'need-join-token', reason: string }
  /** Close everything (the interface too when `teardown`), then report `released`. */
  | { type: 'release', teardown: boolean }

/**
 * Underlay announcements of a restart: `off`, `on` (to each member not yet told, until the first controller
 * netmap is covered), `last` (a controller netmap arrived: the next announcement is the last).
 */
type AnnounceState = 'off' | 'on' | 'last'

const NONE: readonly DaemonAction[] = []

/** The daemon's state machine: one phase, the current netmap, and the decisions made from them. */
export class DaemonCore {
  private current: DaemonPhase = 'starting'
  private map: Netmap | null = null
  /** desired() of the current netmap with nobody down, made on first use. */
  private base: DesiredConfig | null = null
  private nodesById = new Map<string, NodeRecord>()
  /** Who SWIM held dead or left when the last desired peer set was computed. */
  private down: ReadonlySet<string> = new Set()
  private announceState: AnnounceState
  /** Members told over the underlay that this daemon started. */
  private readonly announced = new Set<string>()
  /** A signing-key registration is under way. */
  private keyRefresh = false
  private outcome: 'stopped' | 'restart' = 'stopped'

  constructor (private readonly cfg: DaemonCoreConfig) {
    this.announceState = cfg.announce ? 'on' : 'off'
  }

  get phase (): DaemonPhase { return this.current }

  /** The current netmap: the saved one, then each one the controller sends. Its only owner. */
  get netmap (): Netmap | null { return this.map }

  /** How the daemon ends: `restart` after registering again under a new identity. */
  get exit (): 'stopped' | 'restart' { return this.outcome }

  node (id: string): NodeRecord | undefined {
    return this.nodesById.get(id)
  }

  /**
   * The peer set to reconcile toward, given who SWIM holds dead or left; null when no reconcile should run (no
   * netmap, or not in a reconciling phase). Revoked: no peers at all. Remembers `down` for the member input.
   */
  desired (down: ReadonlySet<string>): DesiredConfig | null {
    if (this.map === null || !reconciles(this.current)) return null
    this.down = down
    if (this.current === 'revoked') return { peers: [], excluded: [] }
    // Which records are valid peers depends on the netmap alone, so it is worked out once per netmap; only who
    // is down changes from one reconcile to the next. Same result as desired(map, down, ...), at a fraction of
    // the cost: checking every record's key, IP and endpoint again was most of a reconcile's CPU.
    this.base ??= desired(this.map, NOBODY, this.cfg.selfId, { keepaliveSeconds: this.cfg.keepaliveSeconds, selfKey: this.cfg.selfKey })
    return withDown(this.base, down)
  }

  /** Takes one input; returns what to do about it. */
  handle (input: DaemonInput): readonly DaemonAction[] {
    switch (input.type) {
      case 'started':
        this.move('started')
        return this.reconcile()
      case 'netmap':
        return this.onNetmap(input.map, input.source)
      case 'member':
        // Only a change in who is down changes the peer set: a refuted suspicion's `alive` costs no reconcile.
        return input.down === this.down.has(input.id) ? NONE : this.reconcile()
      case 'reconciled':
        if (this.current !== 'syncing') return NONE
        this.move('reconciled')
        return [{ type: 'set-swim-members' }, { type: 'open-announcer' }, ...this.announceNew()]
      case 'tick':
        if (!reconciles(this.current)) return NONE
        return [{ type: 'announce-dead' }, ...(input.stale ? this.reconcile() : NONE)]
      case 'device-stale':
        return this.reconcile()
      case 'revoked':
        if (this.current !== 'syncing' && this.current !== 'running') return NONE
        this.move('revoked')
        return [{ type: 'record-revocation', reason: input.reason, removed: input.removed }, ...this.reconcile()]
      case 'forgotten':
        if (this.current !== 'syncing' && this.current !== 'running') return NONE
        return [this.cfg.joinToken ? { type: 'rejoin', reason: input.reason } : { type: 'need-join-token', reason: input.reason }]
      case 'rejoined':
        if (ending(this.current)) return NONE
        this.outcome = 'restart'
        this.move('stop')
        return [{ type: 'release', teardown: false }]
      case 'signing-key-done':
        this.keyRefresh = false
        return NONE
      case 'stop':
        if (ending(this.current)) return NONE
        this.move('stop')
        return [{ type: 'release', teardown: input.teardown }]
      case 'released':
        this.move('released')
        return NONE
      default:
        return unreachable(input)
    }
  }

  private move (event: PhaseEvent): void {
    this.current = transition(this.current, event)
  }

  private onNetmap (map: Netmap, source: 'disk' | 'full' | 'delta'): readonly DaemonAction[] {
    this.map = map
    this.base = null
    this.nodesById = new Map(map.nodes.map(n => [n.id, n]))
    const out: DaemonAction[] = []
    if (this.current === 'running') out.push({ type: 'set-swim-members' })
    if (source !== 'disk') {
      if (this.announceState === 'on') this.announceState = 'last'
      if (this.needsSigningKey()) {
        this.keyRefresh = true
        out.push({ type: 'refresh-signing-key' })
      }
    }
    if (this.current === 'running') out.push(...this.announceNew())
    out.push(...this.reconcile())
    return out
  }

  /** A reconcile, when one should run: a netmap to follow, in a phase that follows it. */
  private reconcile (): readonly DaemonAction[] {
    return this.map !== null && reconciles(this.current) ? [{ type: 'reconcile' }] : NONE
  }

  /**
   * Whether to register again so that the controller learns our signing key: its record of us lacks it (a
   * record from before signed claims), and no such registration is under way. Once per netmap that lacks it.
   */
  private needsSigningKey (): boolean {
    return !this.keyRefresh && this.current !== 'revoked' && !ending(this.current) && this.nodesById.get(this.cfg.selfId)?.signingKey !== this.cfg.signingKey
  }

  /**
   * The members of the netmap not yet told that this daemon is back, while announcing (see AnnounceState); the
   * last announcement is the one that covers the first controller netmap.
   */
  private announceNew (): readonly DaemonAction[] {
    if (this.announceState === 'off') return NONE
    if (this.announceState === 'last') this.announceState = 'off'
    const ids: string[] = []
    for (const n of this.map?.nodes ?? []) {
      if (n.id === this.cfg.selfId || this.announced.has(n.id)) continue
      this.announced.add(n.id)
      ids.push(n.id)
    }
    return ids.length === 0 ? NONE : [{ type: 'announce', ids }]
  }
}

const NOBODY: ReadonlySet<string> = new Set()

/**
 * The core's input for a SWIM event, or null: only dead, left and alive change who is down. A suspect keeps its
 * tunnel, so that it can refute over it; a refutation is about ourselves.
 */
export function memberInput (ev: Pick<SwimEvent, 'type' | 'id'>): DaemonInput | null {
  if (ev.type === 'suspect' || ev.type === 'refute') return null
  return { type: 'member', id: ev.id, down: ev.type !== 'alive' }
}

/**
 * `base` (desired() with nobody down) with the peers in `down` moved to the exclusions as `swim-dead`. The
 * exclusions stay in node id order, as desired() lists them.
 */
export function withDown (base: DesiredConfig, down: ReadonlySet<string>): DesiredConfig {
  if (down.size === 0) return { peers: [...base.peers], excluded: [...base.excluded] }
  const peers: DesiredConfig['peers'] = []
  const dead: DesiredConfig['excluded'] = []
  for (const p of base.peers) {
    if (down.has(p.nodeId)) dead.push({ nodeId: p.nodeId, publicKey: p.publicKey, meshIp: p.meshIp, reason: 'swim-dead' })
    else peers.push(p)
  }
  const excluded = [...base.excluded, ...dead].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0))
  return { peers, excluded }
}

function unreachable (x: never): never {
  throw new Error(`unknown daemon input ${JSON.stringify(x)}`)
}
