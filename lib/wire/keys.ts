import { createPrivateKey, createPublicKey, diffieHellman, hkdfSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto'
import { InvalidInputError } from '../errors.js'

// DER wrappers around the raw 32-byte X25519 keys (RFC 8410), so node:crypto can import WireGuard keys.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')
const KEY_RE = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/
// The same for Ed25519 (RFC 8410), for the keys nodes sign their SWIM claims with.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
/** HKDF info of the signing key derivation; a new derivation needs a new tag. */
const SIGNING_KEY_INFO = 'weft-swim-signing-key-v1'

/** A WireGuard key pair in WireGuard's base64 form (44 characters each). */
export interface KeyPair { privateKey: string, publicKey: string }

/** True when `s` is a canonical WireGuard base64 key (32 bytes). */
export function isWireGuardKey (s: unknown): s is string {
  return typeof s === 'string' && KEY_RE.test(s)
}

function rawKey (b64: string, what: string): Buffer {
  if (!isWireGuardKey(b64)) throw new InvalidInputError(`${what} is not a WireGuard key (44 base64 characters)`)
  return Buffer.from(b64, 'base64')
}

function privateKeyObject (privateKey: string): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, rawKey(privateKey, 'private key')]), format: 'der', type: 'pkcs8' })
}

function publicKeyObject (publicKey: string): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, rawKey(publicKey, 'public key')]), format: 'der', type: 'spki' })
}

/** Generates a clamped X25519 key pair, as `wg genkey | wg pubkey` would. */
export function generateKeyPair (): KeyPair {
  const d = randomBytes(32)
  d[0] = d[0]! & 248
  d[31] = (d[31]! & 127) | 64
  const privateKey = d.toString('base64')
  return { privateKey, publicKey: publicKeyFor(privateKey) }
}

/** The public key that belongs to `privateKey`. */
export function publicKeyFor (privateKey: string): string {
  const spki = createPublicKey(privateKeyObject(privateKey)).export({ format: 'der', type: 'spki' })
  return spki.subarray(SPKI_PREFIX.length).toString('base64')
}

/**
 * A private key parsed once, for a process that computes many shared secrets with it (the controller
 * verifying proofs, a daemon keying announcements): importing the key is most of the cost of one DH.
 */
export class StaticKey {
  private constructor (private readonly key: KeyObject) {}

  /** Parses a base64 WireGuard private key; throws InvalidInputError when it is not one. */
  static from (privateKey: string): StaticKey {
    return new StaticKey(privateKeyObject(privateKey))
  }

  /** The 32-byte X25519 secret shared with `publicKey`'s owner. */
  sharedSecret (publicKey: string): Buffer {
    return diffieHellman({ privateKey: this.key, publicKey: publicKeyObject(publicKey) })
  }
}

/** Static X25519 Diffie-Hellman: the 32-byte secret shared by `privateKey`'s owner and `publicKey`'s. */
export function sharedSecret (privateKey: string | StaticKey, publicKey: string): Buffer {
  return typeof privateKey === 'string'
    ? diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(publicKey) })
    : privateKey.sharedSecret(publicKey)
}

/** WireGuard's base64 key as the 64-character hex form the UAPI protocol uses. */
export function keyToHex (b64: string): string {
  return rawKey(b64, 'key').toString('hex')
}

/** The UAPI hex form back to WireGuard's base64. */
export function hexToKey (hex: string): string {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new InvalidInputError('UAPI key is not 64 hex characters')
  return Buffer.from(hex, 'hex').toString('base64')
}

/**
 * The Ed25519 key a node signs its SWIM claims with (lib/swim/claims.ts). Derived from the WireGuard private
 * key with HKDF-SHA256, so it needs no file of its own and is lost or kept together with the node's identity;
 * the controller learns its public half at registration and puts it in the netmap.
 */
export class SigningKey {
  /** The public key, base64 of the raw 32 bytes (44 characters, like a WireGuard key). */
  readonly publicKey: string

  private constructor (private readonly key: KeyObject) {
    this.publicKey = createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(ED25519_SPKI_PREFIX.length).toString('base64')
  }

  /** Derives the signing key of the node whose WireGuard private key is `privateKey`. */
  static derive (privateKey: string): SigningKey {
    const seed = Buffer.from(hkdfSync('sha256', rawKey(privateKey, 'private key'), Buffer.alloc(0), SIGNING_KEY_INFO, 32))
    return new SigningKey(createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' }))
  }

  /** The 64-byte Ed25519 signature of `message`. */
  sign (message: Uint8Array): Buffer {
    return sign(null, message, this.key)
  }
}

/** Parses a base64 Ed25519 public key (as SigningKey.publicKey gives it); throws InvalidInputError otherwise. */
export function signingPublicKey (publicKey: string): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, rawKey(publicKey, 'signing key')]), format: 'der', type: 'spki' })
}

/** True when `sig` is the Ed25519 signature of `message` under `publicKey`. Never throws. */
export function verifySignature (publicKey: KeyObject, message: Uint8Array, sig: Uint8Array): boolean {
  try {
    return sig.length === 64 && verify(null, message, publicKey, sig)
  } catch {
    return false
  }
}
