import { createHash, X509Certificate } from 'node:crypto'
import { ConfigError } from '../errors.js'

/**
 * A certificate fingerprint as Weft prints and pins it: `sha256:` and the SHA-256 of the certificate's DER
 * bytes in 64 lowercase hex digits. The controller prints its own at start; `--controller-fingerprint` pins it.
 */
export type Fingerprint = `sha256:${string}`

/** The fingerprint of DER certificate bytes (what a TLS peer presents). */
export function fingerprintOfDer (der: Uint8Array): Fingerprint {
  return `sha256:${createHash('sha256').update(der).digest('hex')}`
}

/** The fingerprint of the first certificate in a PEM file's text (the leaf of a chain). Throws ConfigError when there is none. */
export function fingerprintOfPem (pem: string | Buffer, what: string): Fingerprint {
  let cert: X509Certificate
  try { cert = new X509Certificate(pem) } catch (err) {
    throw new ConfigError(`${what} holds no PEM certificate: ${(err as Error).message}`, { cause: err })
  }
  return fingerprintOfDer(cert.raw)
}

/**
 * Parses a pinned fingerprint: `sha256:` then 64 hex digits, any case, colons allowed (as
 * `openssl x509 -noout -fingerprint -sha256` prints them). Throws ConfigError naming `flag`.
 */
export function parseFingerprint (text: string, flag = '--controller-fingerprint'): Fingerprint {
  const m = /^sha256:((?:[0-9a-f]{2}:?){31}[0-9a-f]{2})$/i.exec(text.trim())
  if (m === null) {
    throw new ConfigError(`${flag} must be sha256: and 64 hex digits, as the controller prints at start (got "${text}")`)
  }
  return `sha256:${m[1]!.replace(/:/g, '').toLowerCase()}`
}
