import type { NodeHealth } from '../wire/netmap.js'

/**
 * Health fusion: one pure function from the evidence about a node to its NodeHealth. The controller's own
 * evidence (heartbeats, update channel) and the mesh's (SWIM reports from other fresh nodes) each answer
 * "is it up?"; agreement and disagreement give the four live states, as the table below says.
 */

/** What the controller knows about one node at one instant. */
export interface HealthEvidence {
  /** An admin removed it. */
  removed: boolean
  /** It left gracefully. */
  left: boolean
  /** Heartbeat within the stale window and its update channel not closed beyond the grace period. */
  controlFresh: boolean
  /** Other nodes whose control evidence and SWIM report are both fresh. */
  reporters: number
  /** Of those, how many hold it dead at or above its own incarnation. */
  deadVotes: number
  /** Of those, how many suspect it (shown in the reason; suspicion alone is not evidence of death). */
  suspectVotes: number
}

/** The fused health with a human reason (shown in `weft nodes list` and logs). */
export interface HealthVerdict { health: NodeHealth, reason: string }

/** Mesh view of a node: `down` = a majority (at least one) of fresh reporters hold it dead; `silent` = no fresh reporters. */
export type MeshView = 'up' | 'down' | 'silent'

/** Reduces reports to a MeshView. A tie is not a majority: one of two reporters cannot bring a node down. */
export function meshView (reporters: number, deadVotes: number): MeshView {
  if (reporters <= 0) return 'silent'
  return deadVotes * 2 > reporters ? 'down' : 'up'
}

/**
 * The transition table. Pure: same evidence, same verdict.
 *
 * | removed | left | control | mesh          | health       |
 * |---------|------|---------|---------------|--------------|
 * | yes     |  -   |   -     |   -           | removed      |
 * | no      | yes  |   -     |   -           | left         |
 * | no      | no   | fresh   | up / silent   | online       |
 * | no      | no   | fresh   | down          | mesh-lost    |
 * | no      | no   | stale   | up            | control-lost |
 * | no      | no   | stale   | down / silent | offline      |
 */
export function fuseHealth (e: HealthEvidence): HealthVerdict {
  if (e.removed) return { health: 'removed', reason: 'removed by an admin' }
  if (e.left) return { health: 'left', reason: 'left the mesh gracefully' }
  const mesh = meshView(e.reporters, e.deadVotes)
  const votes = `${e.deadVotes}/${e.reporters} peers hold it dead` + (e.suspectVotes > 0 ? `, ${e.suspectVotes} suspect it` : '')
  const key: `${'fresh' | 'stale'}/${MeshView}` = `${e.controlFresh ? 'fresh' : 'stale'}/${mesh}`
  switch (key) {
    case 'fresh/up': return { health: 'online', reason: `controller hears it; ${votes}` }
    case 'fresh/silent': return { health: 'online', reason: 'controller hears it; no peer reports yet' }
    case 'fresh/down': return { health: 'mesh-lost', reason: `controller hears it but ${votes}` }
    case 'stale/up': return { health: 'control-lost', reason: `controller lost it but peers see it (${votes})` }
    case 'stale/down': return { health: 'offline', reason: `controller lost it and ${votes}` }
    case 'stale/silent': return { health: 'offline', reason: 'controller lost it and no peer reports' }
    default: {
      const never: never = key
      throw new Error(`unhandled health evidence ${String(never)}`)
    }
  }
}
