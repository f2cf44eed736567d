import type { DecodeDrop } from './codec.js'
import type { MemberState } from './state.js'

/** One packet for the caller to send over UDP to `to` ("ip:port", opaque to the core). */
export interface Transmit {
  to: string
  bytes: Uint8Array
}

/** What the daemon acts on: `suspect`/`dead`/`alive`/`left` are about a member, `refute` about this node. */
export type SwimEventType = 'suspect' | 'dead' | 'alive' | 'refute' | 'left'

/** A state change, in the order it happened; `at` is the `now` of the call that caused it. */
export interface SwimEvent {
  type: SwimEventType
  id: string
  incarnation: number
  /** Why, in words, for the log line (e.g. "suspicion timed out after 3000 ms with 2 confirmations"). */
  reason: string
  at: number
}

/** One member as `members()` reports it (for `weft status`). */
export interface MemberInfo {
  id: string
  addr: string
  state: MemberState
  incarnation: number
  /** When we last changed its state, ms; the time setMembers added it for a member never changed. */
  since: number
}

/** The controller's fused evidence about a member (see Swim.setControlHint). */
export type ControlHint = 'fresh' | 'stale' | null

/** Why a received packet was dropped without effect. */
export type DropReason = DecodeDrop | 'unknown-sender' | 'spoofed' | 'from-self' | 'misdirected' | 'unknown-target' | 'relay-overflow'

/** Every DropReason, for zeroed counters and metrics. */
export const DROP_REASONS: readonly DropReason[] = [
  'oversized', 'truncated', 'malformed', 'unknown-version', 'unknown-sender', 'spoofed', 'from-self', 'misdirected', 'unknown-target',
  'relay-overflow'
]

/** Counters since construction; all monotonic. */
export interface SwimStats {
  packetsIn: number
  packetsOut: number
  bytesIn: number
  bytesOut: number
  dropped: Record<DropReason, number>
  /** Direct probes started by this node. */
  probes: number
  /** Probes that got no ack, direct or relayed, before the interval ended. */
  probeFailures: number
  /** Probes that needed relays (direct ack timed out). */
  indirectProbes: number
  /** Ping-reqs this node served as a relay. */
  relaysServed: number
  nacksReceived: number
  /** Suspicions this node started holding (its own or learned). */
  suspicions: number
  /** Independent confirmations that shortened a suspicion. */
  confirmations: number
  /** Members this node came to hold dead. */
  deaths: number
  /** Suspicions of ours that ran out and made their last call: a direct ping before the declaration of death. */
  lastCalls: number
  /** Deaths declared by others that we held as suspicions instead: we had heard from the member since. */
  deathsDoubted: number
  /** Deaths declared by others that we checked with a ping of our own before applying them. */
  deathChecks: number
  /** Suspicions or deaths at an incarnation the member never proved to us, checked with a ping of ours. */
  unprovenChecks: number
  /** Checks of either kind the member disproved (it answered in time, or refuted): the claim was dropped. */
  deathsDisproved: number
  /** Probe or ack deadlines handled more than a probe timeout late (this process was starved). */
  lateWakeups: number
  /** Failed probes of members in their join grace (no ack from them since they appeared): no accusation. */
  graceSpared: number
  /** Times this node refuted a claim about itself. */
  refutations: number
  /** Suspicions or deaths of ourselves older than our incarnation, answered by gossiping our incarnation again. */
  staleClaimsAnswered: number
  /** Re-probes of members held dead. */
  deadProbes: number
  /** Anti-entropy exchanges started. */
  syncs: number
  /** Suspect or dead claims at an incarnation the member never signed (about us: above our own); ignored. */
  claimsUnproven: number
  /** Alive or left claims that would have changed our view but carried no signature; ignored. */
  claimsUnsigned: number
  /** Alive or left claims whose signature is not the member's; ignored. */
  claimsBadSignature: number
  /** Gossip updates that changed our view, that were stale, or named a member outside the authorised set. */
  updatesApplied: number
  updatesIgnored: number
  updatesUnknownMember: number
}

/** A SwimStats with every counter at zero. */
export function zeroStats (): SwimStats {
  const dropped = {} as Record<DropReason, number>
  for (const r of DROP_REASONS) dropped[r] = 0
  return {
    packetsIn: 0,
    packetsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    dropped,
    probes: 0,
    probeFailures: 0,
    indirectProbes: 0,
    relaysServed: 0,
    nacksReceived: 0,
    suspicions: 0,
    confirmations: 0,
    deaths: 0,
    lastCalls: 0,
    deathsDoubted: 0,
    deathChecks: 0,
    unprovenChecks: 0,
    deathsDisproved: 0,
    lateWakeups: 0,
    graceSpared: 0,
    refutations: 0,
    staleClaimsAnswered: 0,
    deadProbes: 0,
    syncs: 0,
    claimsUnproven: 0,
    claimsUnsigned: 0,
    claimsBadSignature: 0,
    updatesApplied: 0,
    updatesIgnored: 0,
    updatesUnknownMember: 0
  }
}
