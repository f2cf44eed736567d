/**
 * The arithmetic of SWIM and Lifeguard as small pure functions, so each can be checked against a table.
 * n is always the size of the authorised membership including this node.
 */

/** log10(n) floored at 1, so meshes under 10 nodes still get one probe-interval-scaled unit (memberlist does the same). */
function nodeScale (n: number): number {
  return Math.max(1, Math.log10(Math.max(1, n)))
}

/**
 * Lifeguard's minimum suspicion timeout: suspicionMult * max(1, log10(max(1, n))) * probeIntervalMs.
 * The floor at 1 departs from the bare formula so that n < 10 does not give a near-zero timeout.
 */
export function suspicionMinMs (suspicionMult: number, n: number, probeIntervalMs: number): number {
  return Math.round(suspicionMult * nodeScale(n) * probeIntervalMs)
}

/** Lifeguard's maximum suspicion timeout (no confirmations): maxMult * min. */
export function suspicionMaxMs (maxMult: number, minMs: number): number {
  return maxMult * minMs
}

/** Independent confirmations that shrink a suspicion to its minimum: suspicionMult - 2, or 0 when n - 2 is smaller. */
export function expectedConfirmations (suspicionMult: number, n: number): number {
  const k = suspicionMult - 2
  return n - 2 < k ? 0 : Math.max(0, k)
}

/**
 * Total suspicion timeout after `confirmations` of `k` expected: starts at maxMs and falls logarithmically,
 * maxMs - (maxMs - minMs) * log(c + 1) / log(k + 1), never below minMs. With k = 0 it is minMs at once.
 */
export function suspicionTimeoutMs (confirmations: number, k: number, minMs: number, maxMs: number): number {
  if (k <= 0) return minMs
  const frac = Math.log(Math.min(confirmations, k) + 1) / Math.log(k + 1)
  return Math.max(minMs, Math.floor(maxMs - (maxMs - minMs) * frac))
}

/** How many packets one update rides on before it is dropped: retransmitMult * ceil(log10(n + 1)). */
export function retransmitLimit (retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(Math.max(0, n) + 1))
}

/** Lifeguard local health: the score after `delta`, clamped to 0..max-1. */
export function nextHealthScore (score: number, delta: number, max: number): number {
  return Math.min(max - 1, Math.max(0, score + delta))
}

/** A timeout stretched by local health: ms * (score + 1). */
export function scaleByHealth (ms: number, score: number): number {
  return ms * (score + 1)
}

/**
 * Health delta after a failed probe: missing nacks are evidence that we, not the target, are slow.
 * With relays asked, +1 per relay that did not nack; with none asked, +1.
 */
export function failedProbeHealthDelta (expectedNacks: number, nacksReceived: number): number {
  if (expectedNacks <= 0) return 1
  return Math.max(0, expectedNacks - nacksReceived)
}
