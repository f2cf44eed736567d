import { Agent as HttpsAgent, type RequestOptions } from 'node:https'
import type { LookupFunction } from 'node:net'
import type { Duplex } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { fingerprintOfDer } from '../wire/fingerprint.js'
import { certificateRejected, pinMismatch, timedOut } from './failure.js'
import type { ControllerTrust } from './trust.js'
import type { ControllerUrl } from './url.js'

/**
 * The https agent for the controller. It makes each TLS connection with Node's own verification result
 * recorded but not enforced, then decides itself (ControllerTrust: CA, pin, or both) before the socket is
 * handed to a request: nothing, not even a request line, is written to a server that fails the check. Deciding
 * here, not in the TLS layer, is what lets a rejection name the presented certificate's fingerprint.
 */
export class ControllerTlsAgent extends HttpsAgent {
  private readonly handshakeTimeoutMs: number

  constructor (private readonly url: ControllerUrl, private readonly trust: ControllerTrust,
    opts: { keepAlive: boolean, maxSockets: number, handshakeTimeoutMs: number, lookup?: LookupFunction }) {
    super({
      keepAlive: opts.keepAlive,
      maxSockets: opts.maxSockets,
      rejectUnauthorized: false,
      ...(trust.ca !== undefined ? { ca: trust.ca } : {}),
      ...(opts.lookup !== undefined ? { lookup: opts.lookup } : {})
    })
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs
  }

  override createConnection (options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const socket = super.createConnection(options) as TLSSocket
    let settled = false
    const settle = (err: Error | null): void => {
      if (settled) return
      settled = true
      socket.off('error', settle)
      socket.setTimeout(0)
      if (err !== null) socket.destroy()
      callback?.(err, socket)
    }
    socket.once('error', settle)
    socket.setTimeout(this.handshakeTimeoutMs, () => settle(timedOut(this.url, 'the TLS handshake', this.handshakeTimeoutMs)))
    socket.once('secureConnect', () => settle(this.verdict(socket)))
    return undefined
  }

  /** null when `socket`'s peer is the controller this agent trusts; otherwise the coded reason. */
  private verdict (socket: TLSSocket): Error | null {
    const cert = socket.getPeerCertificate(false)
    const raw = (cert as { raw?: Buffer }).raw
    if (raw === undefined) return certificateRejected(this.url, 'no certificate presented', undefined, this.trust.ca !== undefined)
    const fingerprint = fingerprintOfDer(raw)
    if (this.trust.fingerprint !== undefined) {
      if (fingerprint !== this.trust.fingerprint) return pinMismatch(this.url, fingerprint, this.trust.fingerprint)
      if (this.trust.ca === undefined) return null
    }
    if (socket.authorized) return null
    return certificateRejected(this.url, String(socket.authorizationError), { cert, fingerprint }, this.trust.ca !== undefined)
  }
}
