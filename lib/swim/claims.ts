/**
 * Signed claims. A member's incarnation orders every claim about it, so whoever could raise it could silence
 * the member: a suspicion far above its incarnation forces a refutation there, and a forged alive claim buries
 * every later true one. So the two claims only a member may make about itself, `alive` at an incarnation and
 * `left`, carry its signature, and a suspect or dead claim counts only at an incarnation the member has
 * signed (Swim.merge). The core stays free of crypto and keys: it calls a ClaimAuth.
 */

/** The states a member claims about itself. */
export type SignedState = 'alive' | 'left'

/** A claim that needs the member's signature. */
export interface SignedClaim { state: SignedState, id: string, incarnation: number }

/** Length of a signature on the wire (Ed25519's). */
export const SIGNATURE_BYTES = 64

/** Signs this node's claims and checks members' (the daemon's uses Ed25519 keys from the netmap). */
export interface ClaimAuth {
  /**
   * This node's signature of its own `claim`. The core calls it once per new (state, incarnation) before the
   * claim leaves: the last moment an implementation can make the incarnation durable first.
   */
  sign (claim: SignedClaim): Uint8Array
  /** Whether `sig` is member `claim.id`'s signature of `claim`; false when its key is unknown. */
  verify (claim: SignedClaim, sig: Uint8Array): boolean
}

const encoder = new TextEncoder()

/** The bytes a signature covers: `weft-swim-claim-v1`, state, member id and incarnation (decimal), NUL-separated. */
export function claimMessage (c: SignedClaim): Uint8Array {
  return encoder.encode(`weft-swim-claim-v1\0${c.state}\0${c.id}\0${c.incarnation}`)
}
