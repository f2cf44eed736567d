import { readFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { ConfigError } from '../errors.js'
import type { ControllerUrl } from './url.js'
import { parseFingerprint, type Fingerprint } from '../wire/fingerprint.js'

/**
 * What an https:// controller must present. With neither field, the system's CAs decide. With `ca`, that
 * bundle replaces them (chain and host name checked). With `fingerprint`, the leaf certificate must be exactly
 * that one (no chain or host name check: the pin names the certificate); with both, both must hold.
 */
export interface ControllerTrust {
  /** PEM text of the CA certificates (or the controller's own self-signed certificate) to trust. */
  ca?: string
  /** The pinned certificate, `sha256:<64 hex>`. */
  fingerprint?: Fingerprint
}

/**
 * Builds a ControllerTrust from `--controller-ca FILE` and `--controller-fingerprint sha256:...`, reading and
 * checking the file now, so a wrong path or a file without a certificate fails at start with the flag's name.
 */
export function loadControllerTrust (opts: { caFile?: string, fingerprint?: string }): ControllerTrust {
  const trust: ControllerTrust = {}
  if (opts.caFile !== undefined) {
    let pem: string
    try { pem = readFileSync(opts.caFile, 'utf8') } catch (err) {
      throw new ConfigError(`cannot read --controller-ca ${opts.caFile}: ${(err as Error).message}`, { cause: err })
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new ConfigError(`--controller-ca ${opts.caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`)
    }
    // eslint-disable-next-line no-new -- parsing is the check
    try { new X509Certificate(pem) } catch (err) {
      throw new ConfigError(`--controller-ca ${opts.caFile} holds no readable certificate: ${(err as Error).message}`, { cause: err })
    }
    trust.ca = pem
  }
  if (opts.fingerprint !== undefined) trust.fingerprint = parseFingerprint(opts.fingerprint)
  return trust
}

/** Throws ConfigError when trust flags were given for a plain http:// controller, where they would do nothing. */
export function checkTrustFits (url: ControllerUrl, trust: ControllerTrust): void {
  if (url.protocol === 'http:' && (trust.ca !== undefined || trust.fingerprint !== undefined)) {
    throw new ConfigError(`--controller-ca and --controller-fingerprint apply to an https:// controller, but --controller is ${url.href}`)
  }
}
