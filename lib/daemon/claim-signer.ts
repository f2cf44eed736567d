import type { KeyObject } from 'node:crypto'
import { claimMessage, type ClaimAuth, type SignedClaim } from '../swim/claims.js'
import { signingPublicKey, verifySignature, type SigningKey } from '../wire/keys.js'
import type { NodeRecord } from '../wire/netmap.js'

/** Options of ClaimSigner. */
export interface ClaimSignerOptions {
  selfId: string
  key: SigningKey
  /**
   * Makes `incarnation` durable before it is signed (a restart must start above every incarnation this node
   * ever signed: docs/swim.md, "Restarts"). Called for every signature; cheap when nothing is due.
   */
  reserve: (incarnation: number) => void
}

/**
 * The daemon's ClaimAuth: signs this node's SWIM claims with its Ed25519 key and checks members' with the
 * signing keys in the netmap. A member whose record carries no key cannot have its claims believed.
 */
export class ClaimSigner implements ClaimAuth {
  private readonly keys = new Map<string, { text: string, key: KeyObject }>()
  private readonly own: KeyObject

  constructor (private readonly o: ClaimSignerOptions) {
    this.own = signingPublicKey(o.key.publicKey)
  }

  /** Our signing key's public half, base64: what the controller must hold for us. */
  get publicKey (): string { return this.o.key.publicKey }

  /** Takes the members' signing keys from the netmap; parses only the keys that changed. */
  setMembers (nodes: readonly NodeRecord[]): void {
    const seen = new Set<string>()
    for (const n of nodes) {
      if (n.signingKey === undefined || n.id === this.o.selfId) continue
      seen.add(n.id)
      if (this.keys.get(n.id)?.text === n.signingKey) continue
      try {
        this.keys.set(n.id, { text: n.signingKey, key: signingPublicKey(n.signingKey) })
      } catch {
        this.keys.delete(n.id) // netmap-check refuses such records; nothing to believe in any case
      }
    }
    for (const id of [...this.keys.keys()]) if (!seen.has(id)) this.keys.delete(id)
  }

  sign (claim: SignedClaim): Uint8Array {
    if (claim.id !== this.o.selfId) throw new Error(`node ${this.o.selfId} cannot sign a claim about ${claim.id}`)
    this.o.reserve(claim.incarnation)
    return this.o.key.sign(claimMessage(claim))
  }

  verify (claim: SignedClaim, sig: Uint8Array): boolean {
    const key = claim.id === this.o.selfId ? this.own : this.keys.get(claim.id)?.key
    return key !== undefined && verifySignature(key, claimMessage(claim), sig)
  }
}
