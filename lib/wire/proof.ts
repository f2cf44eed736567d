import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'
import { sharedSecret, type StaticKey } from './keys.js'

/**
 * Proof that a registering node holds the private key of the public key it presents.
 *
 * Both sides compute the same static X25519 secret (node private x controller public = controller private x
 * node public), derive an HMAC key from it with HKDF, and MAC a canonical message that binds the request's
 * fields, a timestamp and a nonce. The exact bytes are pinned in docs/api.md; change them only with a new
 * version tag.
 */

/** Version tag: the first line of the canonical message and the HKDF info. */
export const PROOF_VERSION = 'weft-register-v2'

/** The fields of a registration that the proof binds. */
export interface ProofFields {
  publicKey: string
  signingKey: string
  hostname: string
  endpoints: readonly string[]
  timestamp: number
  nonce: string
  /** The mesh IP asked for, when the request carries one. */
  meshIp?: string
}

/**
 * The canonical message: the fields joined by `\n`, endpoints joined by `,`, in this order; `meshIp` is a
 * last line only when present, so a request without it signs the seven lines alone. No field can hold a
 * `\n` (the schemas forbid it), so seven lines and eight never read alike.
 */
export function canonicalMessage (f: ProofFields): string {
  const lines = [PROOF_VERSION, f.publicKey, f.signingKey, f.hostname, f.endpoints.join(','), String(f.timestamp), f.nonce]
  if (f.meshIp !== undefined) lines.push(f.meshIp)
  return lines.join('\n')
}

function macKey (secret: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), PROOF_VERSION, 32))
}

/** A fresh 16-byte nonce in base64. */
export function newNonce (): string {
  return randomBytes(16).toString('base64')
}

/** The node's side: the base64 HMAC-SHA256 over the canonical message. */
export function signRegistration (nodePrivateKey: string, controllerPublicKey: string, f: ProofFields): string {
  const key = macKey(sharedSecret(nodePrivateKey, controllerPublicKey))
  return createHmac('sha256', key).update(canonicalMessage(f)).digest('base64')
}

/**
 * The controller's side: true when `proof` is the MAC the holder of `f.publicKey` would compute. Constant time.
 * Pass a StaticKey to skip re-parsing the controller's key on every request.
 */
export function verifyRegistration (controllerPrivateKey: string | StaticKey, f: ProofFields, proof: string): boolean {
  const key = macKey(sharedSecret(controllerPrivateKey, f.publicKey))
  const want = createHmac('sha256', key).update(canonicalMessage(f)).digest()
  const got = Buffer.from(proof, 'base64')
  return got.length === want.length && timingSafeEqual(got, want)
}
