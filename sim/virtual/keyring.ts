import { createHash } from 'node:crypto'
import { claimMessage, SIGNATURE_BYTES, type ClaimAuth, type SignedClaim } from '../../lib/swim/claims.js'

/**
 * Claim signatures for simulated members: a keyed SHA-512 per member, from a secret derived from the seed
 * and the member id. Within one process this has the property the protocol relies on (a claim verifies only
 * under its member's secret, and a forged or altered one does not) at a microsecond a claim, where Ed25519
 * would make a 10,000-node simulation spend most of its time verifying. Daemons sign with Ed25519
 * (lib/daemon/claim-signer.ts).
 */
export class SimKeyring {
  private readonly secrets = new Map<string, Buffer>()

  constructor (private readonly seed: string) {}

  /** The ClaimAuth of member `id`: it signs as `id` and checks every member's claims. */
  auth (id: string): ClaimAuth {
    return {
      sign: (c: SignedClaim): Uint8Array => {
        if (c.id !== id) throw new Error(`member ${id} cannot sign for ${c.id}`)
        return this.mac(c)
      },
      verify: (c: SignedClaim, sig: Uint8Array): boolean => sig.length === SIGNATURE_BYTES && Buffer.from(sig).equals(this.mac(c))
    }
  }

  private mac (c: SignedClaim): Buffer {
    let s = this.secrets.get(c.id)
    if (s === undefined) {
      s = createHash('sha256').update(`weft-sim-claims\0${this.seed}\0${c.id}`).digest()
      this.secrets.set(c.id, s)
    }
    return createHash('sha512').update(s).update(claimMessage(c)).digest()
  }
}
