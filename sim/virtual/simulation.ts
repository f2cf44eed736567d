import { createHash } from 'node:crypto'
import { Swim } from '../../lib/swim/swim.js'
import { DEFAULTS, type SwimConfig } from '../../lib/swim/config.js'
import { SeededRandom } from '../../lib/swim/random.js'
import type { SwimEvent } from '../../lib/swim/types.js'
import type { Netmap } from '../../lib/wire/netmap.js'
import { VirtualDaemon, type Announcement, type DaemonCounters, type ReconcilePlan } from './daemon.js'
import { EventHeap, type Timed } from './heap.js'
import { SimKeyring } from './keyring.js'
import { spread, type Spread } from './metrics.js'
import { WireGuardModel, type WgMessage, type WireGuardCounters } from './wireguard.js'

/**
 * The deterministic simulator behind `weft sim virtual`: N SWIM cores in one process, a simulated network
 * with uniform latency and independent loss, and virtual time driven by one event heap. Nothing reads a
 * real clock, so a seed replays a run exactly (the trace hash proves it).
 */

/** What to simulate. */
export interface VirtualOptions {
  nodes: number
  seed: number
  /** Probability that one packet is lost, 0..1. Default: 0. */
  loss?: number
  /** One-way latency range, ms, drawn uniformly per packet. Default: 1-10 ms (one cloud region). */
  latencyMinMs?: number
  latencyMaxMs?: number
  /** Nodes crashed (stop sending and receiving, silently). Default: 0. */
  crash?: number
  /** When the crashes happen, ms of virtual time. Default: 20 s, after start-up gossip has settled. */
  crashAtMs?: number
  /** Virtual time simulated, ms. Default: 120 s. */
  durationMs?: number
  /**
   * Cuts the members into two halves (indices below n/2 and the rest) from `fromMs` until `toMs` of virtual
   * time: every packet between the halves is lost. Not combined with crashes. Default: none. With `spreadMs`,
   * each node's side of the cut starts at a uniform time within `spreadMs` after `fromMs` and ends likewise
   * after `toMs`, and a pair is cut while either end's side is: a cut made of per-node firewall rules applied
   * one node after another.
   */
  partition?: { fromMs: number, toMs: number, spreadMs?: number }
  /** SWIM config of every node. Default: lib/swim/config.ts DEFAULTS (the mesh preset). */
  config?: SwimConfig
  /**
   * Models the daemon and its WireGuard device around each core (daemon.ts, wireguard.ts): SWIM packets travel
   * only through established tunnels, a SWIM verdict removes or re-adds the peer, and returns travel as
   * underlay announcements. Unset: SWIM packets go straight between the cores (the protocol alone).
   */
  dataplane?: DataPlaneOptions
  /** Called with every SWIM event (node index, event), in order; for tests and traces. */
  onEvent?: (node: number, e: SwimEvent) => void
}

/** How the simulated daemons and devices behave; every field has a default. */
export interface DataPlaneOptions {
  /** A reconcile's cost: fixed, and per peer added or removed. Default: 2 ms and 0.5 ms. */
  reconcileBaseMs?: number
  reconcilePerChangeMs?: number
  /** Probability that crossing initiations leave one end on a session the other never learnt. Default: 0.1. */
  darkCrossing?: number
  /** The daemons' periodic tick (dead re-probes over the underlay). Default: 5000 ms, as the daemon's. */
  tickMs?: number
  /** Daemons start at uniform times in [0, startSpreadMs). Default: 2000 ms. */
  startSpreadMs?: number
}

/** Detection figures for the crashed nodes, ms from the crash. */
export interface VirtualResult {
  nodes: number
  seed: number
  loss: number
  latencyMs: [number, number]
  durationMs: number
  crashed: number
  /** Crash to the first suspicion of it by anyone. */
  firstSuspectMs: Spread
  /** Crash to the first death declaration of it by anyone. */
  firstDeadMs: Spread
  /** Crash to every live member holding it dead. */
  allAgreeMs: Spread
  /** Crashed nodes that not every live member held dead by the end. */
  notAgreed: number
  /** Death declarations about live nodes (by any node), and how many distinct live nodes that hit. */
  falseDead: number
  falseDeadNodes: number
  /** Suspect events about live nodes, one per node that came to hold it suspect (normal under loss; refuted). */
  falseSuspect: number
  refutations: number
  /** Per member per second, over the whole run. */
  msgsPerMemberSec: number
  bytesPerMemberSec: number
  /** Largest SWIM payload sent, bytes. */
  maxPacketBytes: number
  packetsSent: number
  packetsLost: number
  /** sha256 over every event (time, node, type, subject, incarnation): same seed, same hash. */
  traceHash: string
  /** With `partition`: how the mesh came back together. */
  heal?: HealResult
  /** With `dataplane`: what the daemons and devices did. */
  dataplane?: DataPlaneResult
  /** Real time the run took, ms (not part of the trace). */
  wallMs: number
}

/** How a partitioned mesh healed. Deaths of members across the cut are expected; the rest are not. */
export interface HealResult {
  fromMs: number
  toMs: number
  /** Death declarations about a member of the declarer's own half (always reachable): false. */
  sameSideDead: number
  /** Death declarations after the heal, about either half: each a tunnel taken down that was reachable. */
  deadAfterHeal: number
  /** Of those, how many distinct members were buried after the heal. */
  deadAfterHealNodes: number
  /**
   * Heal to the moment no member was held dead anywhere (every tunnel back), or null if that never happened by
   * the end. Suspicions are not counted: under loss some always come and go.
   */
  noneDeadMs: number | null
  /** With `dataplane`: tunnels removed after the heal (each one a pair cut again) and by how many members. */
  tunnelRemovalsAfterHeal?: number
  /** With `dataplane`: heal to the first moment every pair had an established tunnel; null if never. */
  reachableMs?: number | null
}

/** What the simulated daemons and their devices did over the run. */
export interface DataPlaneResult extends DaemonCounters {
  /** Virtual time until every pair of nodes had an established tunnel, from the start; null if never. */
  fullMeshMs: number | null
  wireguard: WireGuardCounters
}

interface Deliver extends Timed { kind: 0, to: number, from: string, bytes: Uint8Array }
interface Wake extends Timed { kind: 1, node: number, token: number }
interface Crash extends Timed { kind: 2 }
interface WgArrive extends Timed { kind: 3, to: number, from: number, msg: WgMessage }
interface WgTimer extends Timed { kind: 4, node: number, peer: number, gen: number }
interface Reconciled extends Timed { kind: 5, node: number, plan: ReconcilePlan }
interface Check extends Timed { kind: 6, node: number, peer: number, token: number }
interface Tick extends Timed { kind: 7, node: number }
interface AnnounceArrive extends Timed { kind: 8, to: number, from: number, msg: Announcement }
interface Start extends Timed { kind: 9, node: number }
interface Sample extends Timed { kind: 10 }
type SimEvent = Deliver | Wake | Crash | WgArrive | WgTimer | Reconciled | Check | Tick | AnnounceArrive | Start | Sample

/** How often, after the heal, the simulation checks whether every pair has a tunnel again. */
const REACH_SAMPLE_MS = 100

/** Runs one simulation to completion and returns its figures. */
export function runVirtual (opts: VirtualOptions): VirtualResult {
  const wallStart = performance.now()
  const n = opts.nodes
  const loss = opts.loss ?? 0
  const latMin = opts.latencyMinMs ?? 1
  const latMax = opts.latencyMaxMs ?? 10
  const crashCount = opts.crash ?? 0
  const crashAt = opts.crashAtMs ?? 20_000
  const duration = opts.durationMs ?? 120_000
  const config = opts.config ?? DEFAULTS
  if (!Number.isInteger(n) || n < 2) throw new RangeError('nodes must be at least 2')
  if (crashCount < 0 || crashCount >= n) throw new RangeError('crash must be from 0 to nodes - 1')
  const cut = opts.partition
  if (cut !== undefined && (crashCount > 0 || !(cut.fromMs < cut.toMs) || cut.toMs > duration)) {
    throw new RangeError('partition must end within the ' +
      'duration, after it starts, in a run without crashes')
  }
  const half = (i: number): number => (i < n / 2 ? 0 : 1)
  // Per node, when its side of the cut is in place (the same for all without a spread).
  const cutFrom = new Float64Array(n).fill(cut?.fromMs ?? Infinity)
  const cutTo = new Float64Array(n).fill(cut?.toMs ?? -Infinity)
  if (cut?.spreadMs !== undefined && cut.spreadMs > 0) {
    const draw = new SeededRandom(opts.seed ^ 0x5eed)
    for (let i = 0; i < n; i++) {
      cutFrom[i] = cut.fromMs + draw.next() * cut.spreadMs
      cutTo[i] = cut.toMs + draw.next() * cut.spreadMs
    }
  }
  const cutApart = (t: number, a: number, b: number): boolean =>
    half(a) !== half(b) && ((t >= cutFrom[a]! && t < cutTo[a]!) || (t >= cutFrom[b]! && t < cutTo[b]!))

  const master = new SeededRandom(opts.seed)
  const net = master.fork()
  const ids: string[] = []
  const addrs: string[] = []
  const byAddr = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    ids.push('n' + String(i).padStart(5, '0'))
    // Opaque strings in the overlay range; nothing is ever sent to them.
    addrs.push(`100.64.${i >> 8}.${i & 255}:7946`)
    byAddr.set(addrs[i]!, i)
  }
  const idIndex = new Map(ids.map((id, i) => [id, i]))
  const roster = ids.map((id, i) => ({ id, addr: addrs[i]! }))
  const cores: Swim[] = []
  const keyring = new SimKeyring(String(opts.seed))
  for (let i = 0; i < n; i++) {
    const core = new Swim({ config, self: roster[i]!, incarnation: 0, claims: keyring.auth(ids[i]!), random: master.fork() })
    // With the data plane the daemon gives SWIM its members after its first reconcile, as weft daemon does.
    if (opts.dataplane === undefined) core.setMembers(0, roster)
    cores.push(core)
  }

  const heap = new EventHeap<SimEvent>()
  const wakeAt = new Float64Array(n).fill(Infinity)
  const wakeToken = new Uint32Array(n)
  const crashed = new Uint8Array(n)
  let liveCount = n
  const hash = createHash('sha256')
  let packetsSent = 0
  let packetsLost = 0
  let bytesSent = 0
  let maxPacket = 0
  let falseDead = 0
  let falseSuspect = 0
  let refutations = 0
  const falseDeadSet = new Set<number>()

  // Per crashed node: which live nodes hold it dead, and the milestones.
  const crashIdx: number[] = []
  const holders = new Map<number, Uint8Array>()
  const holderCount = new Map<number, number>()
  const firstSuspect = new Map<number, number>()
  const firstDead = new Map<number, number>()
  const allAgree = new Map<number, number>()

  // With a partition: which (observer, member) pairs hold the member dead, and their count.
  const deadPairs = cut === undefined ? undefined : new Uint8Array(n * n)
  let deadCount = 0
  let noneDeadAt: number | null = null
  let sameSideDead = 0
  let deadAfterHeal = 0
  const deadAfterHealSet = new Set<number>()
  const onHealEvent = (i: number, subject: number, e: SwimEvent, t: number): void => {
    const k = i * n + subject
    const was = deadPairs![k]!
    const now = e.type === 'dead' ? 1 : 0
    if (was !== now) { deadPairs![k] = now; deadCount += now === 1 ? 1 : -1 }
    if (e.type === 'dead') {
      if (half(i) === half(subject)) sameSideDead++
      if (t >= cut!.toMs) { deadAfterHeal++; deadAfterHealSet.add(subject) }
    }
    if (t >= cut!.toMs) noneDeadAt = deadCount === 0 ? (noneDeadAt ?? t) : null
  }

  const checkAgree = (c: number, t: number): void => {
    if (!allAgree.has(c) && holderCount.get(c) === liveCount) allAgree.set(c, t - crashAt)
  }

  const onEvent = (i: number, e: SwimEvent, t: number): void => {
    hash.update(`${t.toFixed(3)} ${i} ${e.type} ${e.id} ${e.incarnation}\n`)
    opts.onEvent?.(i, e)
    daemons[i]?.swimEvent(t, e)
    if (e.type === 'refute') { refutations++; return }
    const subject = idIndex.get(e.id)!
    if (deadPairs !== undefined) onHealEvent(i, subject, e, t)
    const h = holders.get(subject)
    if (crashed[subject] === 0) {
      if (e.type === 'dead') { falseDead++; falseDeadSet.add(subject) }
      if (e.type === 'suspect') falseSuspect++
      return
    }
    if (h === undefined) return
    if (e.type === 'suspect' && !firstSuspect.has(subject)) firstSuspect.set(subject, t - crashAt)
    if (e.type === 'dead' && !firstDead.has(subject)) firstDead.set(subject, t - crashAt)
    const holds = e.type === 'dead' ? 1 : 0
    if (h[i] !== holds) {
      h[i] = holds
      holderCount.set(subject, holderCount.get(subject)! + (holds === 1 ? 1 : -1))
      checkAgree(subject, t)
    }
  }

  /**
   * Arrival time over the underlay from `from` to `to`, or null when loss or the cut drops it (counted) or `to`
   * is no member. Every packet draws its loss and latency, dropped or not, so the draws do not depend on the fate.
   */
  const carry = (t: number, from: number, to: number | undefined): number | null => {
    const lossDraw = net.next()
    const latDraw = net.next()
    if (lossDraw < loss) { packetsLost++; return null }
    if (to === undefined) return null
    if (cutApart(t, from, to)) { packetsLost++; return null }
    return t + latMin + latDraw * (latMax - latMin)
  }

  const drain = (i: number, t: number): void => {
    const core = cores[i]!
    for (let tx = core.pollTransmit(); tx !== undefined; tx = core.pollTransmit()) {
      packetsSent++
      bytesSent += tx.bytes.length
      if (tx.bytes.length > maxPacket) maxPacket = tx.bytes.length
      const to = byAddr.get(tx.to)
      if (wg !== undefined) {
        if (to !== undefined) wg.sendData(t, i, to, tx.bytes)
        continue
      }
      const at = carry(t, i, to)
      if (at !== null) heap.push({ kind: 0, t: at, seq: 0, to: to!, from: addrs[i]!, bytes: tx.bytes })
    }
    for (let e = core.pollEvent(); e !== undefined; e = core.pollEvent()) onEvent(i, e, t)
    const next = core.pollTimeout()
    if (next !== undefined && next !== wakeAt[i]) {
      wakeAt[i] = next
      heap.push({ kind: 1, t: Math.max(next, t), seq: 0, node: i, token: ++wakeToken[i]! })
    }
  }

  // The data plane: one daemon and one device per node, and the underlay that carries tunnels and announcements.
  const dp = opts.dataplane
  let wg: WireGuardModel | undefined
  const daemons: VirtualDaemon[] = []
  const tickMs = dp?.tickMs ?? 5000
  let fullMeshAt: number | null = null
  let reachableAt: number | null = null
  let tunnelRemovalsAfterHeal = 0
  /** Whether every pair of running nodes has an established tunnel. */
  const fullMesh = (): boolean => {
    for (let i = 0; i < n; i++) {
      if (crashed[i] === 1) continue
      for (let j = i + 1; j < n; j++) if (crashed[j] === 0 && !wg!.established(i, j)) return false
    }
    return true
  }
  if (dp !== undefined) {
    const dpRandom = master.fork()
    wg = new WireGuardModel(n, {
      send: (t, from, to, msg) => {
        const at = carry(t, from, to)
        if (at !== null) heap.push({ kind: 3, t: at, seq: 0, to, from, msg })
      },
      schedule: (at, node, peer, gen) => heap.push({ kind: 4, t: at, seq: 0, node, peer, gen }),
      deliver: (t, to, from, payload) => {
        cores[to]!.handlePacket(t, addrs[from]!, payload)
        drain(to, t)
      }
    }, dpRandom.fork(), {
      // A round trip and a little: an initiation sent longer ago than that is not in a race with the other end's.
      crossWindowMs: 2 * latMax + 5,
      ...(dp.darkCrossing === undefined ? {} : { darkCrossing: dp.darkCrossing })
    })
    const netmap = simNetmap(ids, String(opts.seed))
    const keyOf = netmap.nodes.map(r => r.publicKey)
    const cost = { baseMs: dp.reconcileBaseMs ?? 2, perChangeMs: dp.reconcilePerChangeMs ?? 0.5 }
    for (let i = 0; i < n; i++) {
      daemons.push(new VirtualDaemon(i, cores[i]!, netmap, keyOf, idIndex, wg, {
        announce: (t, from, to, msg) => {
          const at = carry(t, from, to)
          if (at !== null) heap.push({ kind: 8, t: at, seq: 0, to, from, msg })
        },
        reconcileAt: (at, node, plan) => heap.push({ kind: 5, t: at, seq: 0, node, plan }),
        checkAt: (at, node, peer, token) => heap.push({ kind: 6, t: at, seq: 0, node, peer, token }),
        pump: (t, node) => drain(node, t),
        onPeerChange: (t, node, peer, added) => {
          hash.update(`${t.toFixed(3)} ${node} wg.${added ? 'add' : 'remove'} ${peer}\n`)
          if (!added && cut !== undefined && t >= cut.toMs) tunnelRemovalsAfterHeal++
        }
      }, cost))
    }
    const spreadMs = dp.startSpreadMs ?? 2000
    for (let i = 0; i < n; i++) heap.push({ kind: 9, t: dpRandom.next() * spreadMs, seq: 0, node: i })
    heap.push({ kind: 10, t: spreadMs, seq: 0 })
  }

  for (let i = 0; i < n; i++) drain(i, 0)
  if (crashCount > 0) heap.push({ kind: 2, t: crashAt, seq: 0 })

  for (let ev = heap.pop(); ev !== undefined && ev.t <= duration; ev = heap.pop()) {
    const t = ev.t
    switch (ev.kind) {
      case 0:
        if (crashed[ev.to] === 1) break
        cores[ev.to]!.handlePacket(t, ev.from, ev.bytes)
        drain(ev.to, t)
        break
      case 1:
        if (crashed[ev.node] === 1 || ev.token !== wakeToken[ev.node]) break
        wakeAt[ev.node] = Infinity
        cores[ev.node]!.handleTimeout(t)
        drain(ev.node, t)
        break
      case 2: {
        const pick = master.fork()
        while (crashIdx.length < crashCount) {
          const c = pick.int(n)
          if (crashed[c] === 1) continue
          crashed[c] = 1
          crashIdx.push(c)
          liveCount--
          hash.update(`${t.toFixed(3)} crash ${c}\n`)
        }
        for (const c of crashIdx) {
          const h = new Uint8Array(n)
          let count = 0
          for (let i = 0; i < n; i++) {
            if (crashed[i] === 0 && cores[i]!.member(ids[c]!)?.state === 'dead') { h[i] = 1; count++ }
          }
          holders.set(c, h)
          holderCount.set(c, count)
        }
        for (const c of crashIdx) checkAgree(c, t)
        break
      }
      case 3:
        if (crashed[ev.to] === 0) wg!.receive(t, ev.to, ev.from, ev.msg)
        break
      case 4:
        if (crashed[ev.node] === 0) wg!.timer(t, ev.node, ev.peer, ev.gen)
        break
      case 5:
        if (crashed[ev.node] === 0) daemons[ev.node]!.reconciled(t, ev.plan)
        break
      case 6:
        if (crashed[ev.node] === 0) daemons[ev.node]!.checkPeer(t, ev.peer, ev.token)
        break
      case 7:
        if (crashed[ev.node] === 1) break
        daemons[ev.node]!.tick(t)
        heap.push({ kind: 7, t: t + tickMs, seq: 0, node: ev.node })
        break
      case 8:
        if (crashed[ev.to] === 0) daemons[ev.to]!.receiveAnnouncement(t, ev.from, ev.msg)
        break
      case 9:
        daemons[ev.node]!.start(t)
        heap.push({ kind: 7, t: t + tickMs, seq: 0, node: ev.node })
        break
      case 10: {
        // Waits for the first full mesh, then (with a cut) for every pair to be back after the heal.
        const healing = cut !== undefined && t >= cut.toMs
        if ((fullMeshAt === null || (healing && reachableAt === null)) && fullMesh()) {
          if (fullMeshAt === null) fullMeshAt = t
          if (healing) reachableAt = t
        }
        const next = fullMeshAt === null || (healing && reachableAt === null)
          ? t + REACH_SAMPLE_MS
          : cut !== undefined && t < cut.toMs ? cut.toMs : null
        if (next !== null) heap.push({ kind: 10, t: next, seq: 0 })
        break
      }
      default: { const never: never = ev; return never }
    }
  }

  const seconds = duration / 1000
  return {
    nodes: n,
    seed: opts.seed,
    loss,
    latencyMs: [latMin, latMax],
    durationMs: duration,
    crashed: crashCount,
    firstSuspectMs: spread([...firstSuspect.values()]),
    firstDeadMs: spread([...firstDead.values()]),
    allAgreeMs: spread([...allAgree.values()]),
    notAgreed: crashIdx.filter(c => !allAgree.has(c)).length,
    falseDead,
    falseDeadNodes: falseDeadSet.size,
    falseSuspect,
    refutations,
    msgsPerMemberSec: packetsSent / n / seconds,
    bytesPerMemberSec: bytesSent / n / seconds,
    maxPacketBytes: maxPacket,
    packetsSent,
    packetsLost,
    ...(cut === undefined
      ? {}
      : {
          heal: {
            fromMs: cut.fromMs,
            toMs: cut.toMs,
            sameSideDead,
            deadAfterHeal,
            deadAfterHealNodes: deadAfterHealSet.size,
            noneDeadMs: noneDeadAt === null ? (deadCount === 0 ? 0 : null) : noneDeadAt - cut.toMs,
            ...(wg === undefined ? {} : { tunnelRemovalsAfterHeal, reachableMs: reachableAt === null ? null : reachableAt - cut.toMs })
          }
        }),
    ...(wg === undefined
      ? {}
      : {
          dataplane: { fullMeshMs: fullMeshAt, wireguard: { ...wg.counters }, ...sumCounters(daemons.map(d => d.counters)) }
        }),
    traceHash: hash.digest('hex'),
    wallMs: Math.round(performance.now() - wallStart)
  }
}

/** Every daemon's counters added up. */
function sumCounters (all: readonly DaemonCounters[]): DaemonCounters {
  const total: DaemonCounters = { reconciles: 0, peersAdded: 0, peersRemoved: 0, resets: 0, arms: 0, announcementsSent: 0 }
  for (const c of all) for (const k of Object.keys(total) as Array<keyof DaemonCounters>) total[k] += c[k]
  return total
}

/**
 * The fixed netmap of a simulated mesh: node i with id `ids[i]`, mesh IP 100.64.<i/256>.<i%256> (its SWIM
 * address), a WireGuard-shaped public key derived from the seed (only compared, never used for crypto), online.
 */
function simNetmap (ids: readonly string[], seed: string): Netmap {
  return {
    epoch: 'sim',
    version: 1,
    cidr: '100.64.0.0/10',
    nodes: ids.map((id, i) => ({
      id,
      hostname: id,
      publicKey: createHash('sha256').update(`weft-sim-key\0${seed}\0${id}`).digest('base64'),
      signingKey: 'sim',
      meshIp: `100.64.${i >> 8}.${i & 255}`,
      endpoints: [`198.18.${i >> 8}.${i & 255}:51820`],
      observedEndpoint: null,
      swimPort: 7946,
      health: 'online',
      createdAt: 0,
      updatedAt: 0
    }))
  }
}
