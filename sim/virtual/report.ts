import type { VirtualResult } from './simulation.js'
import type { Spread } from './metrics.js'

/** Human-readable summary of a virtual run, one figure per line. */
export function formatResult (r: VirtualResult): string {
  const ms = (x: number | null): string => (x === null ? '-' : `${(x / 1000).toFixed(2)}s`)
  const sp = (s: Spread): string => `p50 ${ms(s.p50)}  p99 ${ms(s.p99)}  max ${ms(s.max)}  (n=${s.count})`
  return [
    `nodes ${r.nodes}  seed ${r.seed}  loss ${(r.loss * 100).toFixed(1)}%  latency ${r.latencyMs[0]}-${r.latencyMs[1]} ms  duration ` +
    `${ms(r.durationMs)}  crashed ${r.crashed}`,
    `crash -> first suspect   ${sp(r.firstSuspectMs)}`,
    `crash -> first dead      ${sp(r.firstDeadMs)}`,
    `crash -> all live agree  ${sp(r.allAgreeMs)}  not agreed by end: ${r.notAgreed}`,
    `false dead declarations  ${r.falseDead} (about ${r.falseDeadNodes} live nodes)`,
    `suspect events (live)    ${r.falseSuspect} (one per node that held a live node suspect)  refutations ${r.refutations}`,
    `per member per second    ${r.msgsPerMemberSec.toFixed(1)} msgs  ${r.bytesPerMemberSec.toFixed(0)} bytes  (largest packet ${r.maxPacketBytes} bytes)`,
    ...(r.heal === undefined
      ? []
      : [
          `partition                ${ms(r.heal.fromMs)} to ${ms(r.heal.toMs)}: ${r.heal.sameSideDead} deaths of a member of the declarer's own half`,
          `after the heal           ${r.heal.deadAfterHeal} death declarations (about ${r.heal.deadAfterHealNodes} members); no member held dead anywhere ` +
          `after ${ms(r.heal.noneDeadMs)}`,
          ...(r.heal.reachableMs === undefined
            ? []
            : [`heal to every pair up    ${ms(r.heal.reachableMs)}; ${r.heal.tunnelRemovalsAfterHeal ?? 0} tunnels removed after the heal`])
        ]),
    ...(r.dataplane === undefined
      ? []
      : [
          `data plane               full mesh at ${ms(r.dataplane.fullMeshMs)}; ${r.dataplane.reconciles} reconciles, ` +
          `${r.dataplane.peersAdded} peers added, ${r.dataplane.peersRemoved} removed, ${r.dataplane.resets} resets, ${r.dataplane.arms} arms`,
          `wireguard                ${r.dataplane.wireguard.initiations} initiations, ${r.dataplane.wireguard.handshakes} handshakes, ` +
          `${r.dataplane.wireguard.crossings} crossings (${r.dataplane.wireguard.darkCrossings} dark); dropped: ` +
          `${r.dataplane.wireguard.droppedNoPeer} no peer, ${r.dataplane.wireguard.droppedUnknown} unknown, ${r.dataplane.wireguard.droppedStaged} staged`
        ]),
    `packets                  ${r.packetsSent} sent, ${r.packetsLost} lost`,
    `trace                    ${r.traceHash}`,
    `wall time                ${(r.wallMs / 1000).toFixed(1)}s`
  ].join('\n') + '\n'
}
