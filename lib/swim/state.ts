/**
 * Member states and the one function that decides how a claim about a member changes what we hold.
 * Incarnation numbers order claims: only the member itself raises its incarnation (by refuting), so a
 * higher incarnation always means fresher news from the source.
 */

/** What we believe about a member. `left` is a graceful, announced departure; `dead` was inferred. */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left'

/** Every MemberState, for tables and metrics. */
export const MEMBER_STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left']

/**
 * What to do with a claim `claimed` at incarnation `inc` about a member we hold as `current` at `curInc`:
 * - `apply`: adopt the claim (new state and incarnation), re-gossip it, emit an event if the state changed;
 * - `confirm`: same suspicion from another node: count it as an independent confirmation;
 * - `ignore`: stale or no news.
 */
export type Outcome = 'apply' | 'confirm' | 'ignore'

/** The transition function; claims about ourselves are handled by the core's refutation instead. */
export function transition (current: MemberState, curInc: number, claimed: MemberState, inc: number): Outcome {
  switch (claimed) {
    case 'alive':
      // Only a refutation or restart (strictly newer incarnation) revives or refreshes a member.
      return inc > curInc ? 'apply' : 'ignore'
    case 'suspect':
      switch (current) {
        case 'alive': return inc >= curInc ? 'apply' : 'ignore'
        case 'suspect': return inc > curInc ? 'apply' : inc === curInc ? 'confirm' : 'ignore'
        // A suspicion at a newer incarnation means it was alive after we buried it.
        case 'dead': return inc > curInc ? 'apply' : 'ignore'
        case 'left': return inc > curInc ? 'apply' : 'ignore'
        default: return unreachable(current)
      }
    case 'dead':
      switch (current) {
        case 'alive':
        case 'suspect': return inc >= curInc ? 'apply' : 'ignore'
        case 'dead': return inc > curInc ? 'apply' : 'ignore'
        // A graceful leave is more informative than an inferred death at the same incarnation.
        case 'left': return inc > curInc ? 'apply' : 'ignore'
        default: return unreachable(current)
      }
    case 'left':
      switch (current) {
        case 'alive':
        case 'suspect':
        case 'dead': return inc >= curInc ? 'apply' : 'ignore'
        case 'left': return inc > curInc ? 'apply' : 'ignore'
        default: return unreachable(current)
      }
    default:
      return unreachable(claimed)
  }
}

function unreachable (x: never): never {
  throw new Error(`unreachable member state ${String(x)}`)
}
