import { createHash } from 'node:crypto'
import { Swim } from '../../lib/swim/swim.js'
import { DEFAULTS, type SwimConfig } from '../../lib/swim/config.js'
import { SeededRandom } from '../../lib/swim/random.js'
import type { SwimEvent } from '../../lib/swim/types.js'
import { EventHeap, type Timed } from './heap.js'
import { SimKeyring } from './keyring.js'
import { spread, type Spread } from './metrics.js'

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
   * time: every packet between the halves is lost. Not combined with crashes. Default: none.
   */
  partition?: { fromMs: number, toMs: number }
  /** SWIM config of every node. Default: lib/swim/config.ts DEFAULTS (the mesh preset). */
  config?: SwimConfig
  /** Called with every SWIM event (node index, event), in order; for tests and traces. */
  onEvent?: (node: number, e: SwimEvent) => void
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
}

interface Deliver extends Timed { kind: 0, to: number, from: string, bytes: Uint8Array }
interface Wake extends Timed { kind: 1, node: number, token: number }
interface Crash extends Timed { kind: 2 }
type SimEvent = Deliver | Wake | Crash

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
    core.setMembers(0, roster)
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

  const drain = (i: number, t: number): void => {
    const core = cores[i]!
    for (let tx = core.pollTransmit(); tx !== undefined; tx = core.pollTransmit()) {
      packetsSent++
      bytesSent += tx.bytes.length
      if (tx.bytes.length > maxPacket) maxPacket = tx.bytes.length
      const lossDraw = net.next()
      const latDraw = net.next()
      if (lossDraw < loss) { packetsLost++; continue }
      const to = byAddr.get(tx.to)
      if (to === undefined) continue
      if (cut !== undefined && t >= cut.fromMs && t < cut.toMs && half(i) !== half(to)) { packetsLost++; continue }
      heap.push({ kind: 0, t: t + latMin + latDraw * (latMax - latMin), seq: 0, to, from: addrs[i]!, bytes: tx.bytes })
    }
    for (let e = core.pollEvent(); e !== undefined; e = core.pollEvent()) onEvent(i, e, t)
    const next = core.pollTimeout()
    if (next !== undefined && next !== wakeAt[i]) {
      wakeAt[i] = next
      heap.push({ kind: 1, t: Math.max(next, t), seq: 0, node: i, token: ++wakeToken[i]! })
    }
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
            noneDeadMs: noneDeadAt === null ? (deadCount === 0 ? 0 : null) : noneDeadAt - cut.toMs
          }
        }),
    traceHash: hash.digest('hex'),
    wallMs: Math.round(performance.now() - wallStart)
  }
}
