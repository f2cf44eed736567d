import type { PeerCertificate } from 'node:tls'
import { ControllerError, ControllerTlsError, ControllerUnreachableError } from '../errors.js'
import type { Fingerprint } from '../wire/fingerprint.js'
import type { ControllerUrl } from './url.js'

/**
 * Turns every way of failing to talk to the controller into one sentence that says what happened and what to
 * fix, as a ControllerUnreachableError or ControllerTlsError. The daemon's and the admin CLI's client both
 * come through here (lib/client/http.ts), so an operator reads the same sentence in `weft nodes list` and in
 * the daemon's `control.lost` log.
 */

/** What the caller knows beyond the error itself. */
export interface FailureContext {
  url: ControllerUrl
  /** `--controller-ca` was given (an untrusted certificate then means "not from that CA"). */
  caGiven?: boolean
  /** A TLS handshake with the same host and port succeeded (asked after a plain-HTTP hang-up). */
  speaksTls?: boolean
}

const DNS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NODATA', 'EAI_FAIL', 'EAI_NONAME'])
const NO_ROUTE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL'])
const HANG_UP = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED'])
const UNTRUSTED = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE', 'CERT_REJECTED'])

/** `scheme://host:port/prefix` with the other scheme, for "use this URL instead". */
function otherScheme (u: ControllerUrl): string {
  return u.href.replace(/^https?:/, u.protocol === 'https:' ? 'http:' : 'https:')
}

/** A connection-level failure (the error from node:http, node:tls or node:dns) as a coded sentence. */
export function classifyFailure (err: unknown, ctx: FailureContext): ControllerError {
  if (err instanceof ControllerError) return err
  const e = err as { code?: string, message?: string }
  const code = e.code ?? ''
  const message = e.message ?? String(err)
  const { url } = ctx
  const at = `cannot reach the controller at ${url.href}`
  if (code === 'ECONNREFUSED') {
    return new ControllerUnreachableError(`${at}: connection refused, nothing listens on ${url.host} port ${url.port}. ` +
      'Check that the controller is running and that --controller names its --listen address and port.', 'refused', { cause: err })
  }
  if (DNS.has(code)) {
    const what = code === 'EAI_AGAIN'
      ? `looking up the name ${url.host} failed for now (EAI_AGAIN). Check this machine's DNS resolver (/etc/resolv.conf)`
      : `the name ${url.host} does not resolve (${code}). Check the host name in --controller`
    return new ControllerUnreachableError(`${at}: ${what}, or give the controller's IP address.`, 'dns', { cause: err })
  }
  if (NO_ROUTE.has(code)) {
    return new ControllerUnreachableError(`${at}: no route to ${url.host} (${code}). Check the address in --controller, that the ` +
      "controller's host is up, and the routes and firewalls between this machine and it.", 'unreachable', { cause: err })
  }
  if (code === 'ETIMEDOUT') {
    return new ControllerUnreachableError(`${at}: connecting to ${url.host} port ${url.port} timed out. The host may be down or a ` +
      'firewall may drop the traffic; check the address and port in --controller.', 'timeout', { cause: err })
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long|unknown protocol/i.test(message)) {
    return new ControllerTlsError(`the controller at ${url.href} speaks plain HTTP, not HTTPS: use ${otherScheme(url)} in --controller, ` +
      'or start the controller with --tls-cert and --tls-key.', 'not-https', { cause: err })
  }
  if (url.protocol === 'http:' && ctx.speaksTls === true && (HANG_UP.has(code) || code.startsWith('HPE_'))) return speaksHttps(url, err)
  if (UNTRUSTED.has(code)) return certificateRejected(url, code, undefined, ctx.caGiven === true)
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return certificateRejected(url, code, undefined, ctx.caGiven === true)
  }
  if (HANG_UP.has(code)) {
    return new ControllerUnreachableError(`${at}: the connection was closed before an answer (${code}). If a proxy sits in front ` +
      'of the controller, check it; otherwise the controller may be restarting.', 'reset', { cause: err })
  }
  if (code.startsWith('HPE_')) {
    return new ControllerUnreachableError(`${at}: what answered is not an HTTP server (${code}). Check the port in --controller.`, 'reset', { cause: err })
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code === 'EPROTO') {
    return new ControllerTlsError(`TLS with the controller at ${url.href} failed: ${message.trim()}`, 'handshake', { cause: err })
  }
  return new ControllerUnreachableError(`${at}: ${code !== '' ? `${code} ` : ''}${message.trim()}`, 'unreachable', { cause: err })
}

/** Plain HTTP reached a port that speaks HTTPS (a hang-up, or a proxy's "plain HTTP request was sent to HTTPS port"). */
export function speaksHttps (url: ControllerUrl, cause?: unknown): ControllerTlsError {
  return new ControllerTlsError(`the controller at ${url.href} speaks HTTPS, not plain HTTP: use ${otherScheme(url)} in --controller.`, 'not-http',
    cause !== undefined ? { cause } : undefined)
}

/** The controller did not answer within `timeoutMs`. */
export function timedOut (url: ControllerUrl, what: string, timeoutMs: number): ControllerUnreachableError {
  return new ControllerUnreachableError(`the controller at ${url.href} did not answer ${what} within ${timeoutMs / 1000} s. The host may ` +
    'be down, a firewall may drop the traffic, or the controller is overloaded.', 'timeout')
}

/** The certificate's names, as the operator would read them: `IP Address:127.0.0.1, DNS:ctl` or its CN. */
function namesOf (cert: PeerCertificate | undefined): string {
  if (cert === undefined) return 'other names'
  return cert.subjectaltname ?? (cert.subject?.CN !== undefined ? `CN ${String(cert.subject.CN)}` : 'no names')
}

/**
 * A certificate the TLS layer did not accept (`code` is its verify error). `fingerprint` is the presented
 * certificate's, so the operator can compare it with the one the controller printed at start.
 */
export function certificateRejected (
  url: ControllerUrl, code: string, presented: { cert: PeerCertificate, fingerprint: Fingerprint } | undefined, caGiven: boolean
): ControllerTlsError {
  const at = `the controller at ${url.href} presented a certificate`
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new ControllerTlsError(`${at} that is not valid for ${url.host} (it names ${namesOf(presented?.cert)}). Use a --controller URL ` +
      `with a name the certificate lists, or reissue the certificate with subjectAltName for ${url.host} (docs/tls.md).`, 'name-mismatch')
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    const when = code === 'CERT_HAS_EXPIRED'
      ? `that expired${presented !== undefined ? ` on ${presented.cert.valid_to}` : ''}`
      : `that is not valid yet${presented !== undefined ? ` (from ${presented.cert.valid_from})` : ''}`
    return new ControllerTlsError(`${at} ${when}. Renew the controller's certificate (docs/tls.md), or check the clocks of both machines.`, 'expired')
  }
  const why = code === 'DEPTH_ZERO_SELF_SIGNED_CERT'
    ? 'it is self-signed'
    : code === 'SELF_SIGNED_CERT_IN_CHAIN'
      ? 'its chain ends in a CA not trusted here'
      : UNTRUSTED.has(code) ? 'its issuer is not a CA trusted here' : code
  const fp = presented !== undefined ? `; its fingerprint is ${presented.fingerprint}` : ''
  const fix = caGiven
    ? 'It is not signed by the CA in --controller-ca: give the CA that issued the controller\'s certificate, or the certificate itself.'
    : 'Pass --controller-ca FILE with the CA or the controller\'s own certificate (PEM), or compare the fingerprint with the one the ' +
      'controller printed at start and pin it with --controller-fingerprint.'
  return new ControllerTlsError(`${at} this machine does not trust (${why}${fp}). ${fix}`, 'untrusted')
}

/** The presented certificate is not the pinned one. */
export function pinMismatch (url: ControllerUrl, presented: Fingerprint, pinned: Fingerprint): ControllerTlsError {
  return new ControllerTlsError(`the controller at ${url.href} presented a certificate with fingerprint ${presented}, not the pinned ` +
    `${pinned}. If the controller's certificate was replaced, pin the fingerprint it printed at start; otherwise something else ` +
    'answers at this address.', 'pin-mismatch')
}
