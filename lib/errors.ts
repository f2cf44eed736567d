/**
 * Every failure Weft reports on purpose, in one place. Each class has a stable `code` (`WEFT_ERR_*`) that
 * logs, the CLI and the HTTP API carry unchanged, and an HTTP status the controller maps it to.
 *
 * Two kinds of failure, handled differently:
 * - "our own config is wrong" (bad flag, unusable data dir): thrown at start-up with a sentence saying
 *   what to fix; the CLI prints it and exits non-zero.
 * - "a peer sent us garbage" (malformed packet, bad body): counted and dropped, or answered with a 4xx;
 *   never thrown out of a receive loop.
 */

/** Base class: a failure with a stable machine-readable code and the HTTP status it maps to. */
export class WeftError extends Error {
  readonly code: string
  readonly statusCode: number

  constructor (code: string, message: string, statusCode = 500, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.statusCode = statusCode
  }
}

/** A flag or config value that cannot work; the message says what to fix. */
export class ConfigError extends WeftError {
  constructor (message: string, options?: { cause?: unknown }) { super('WEFT_ERR_CONFIG', message, 2, options) }
}

/** A request body, query or packet that does not have the required shape. */
export class InvalidInputError extends WeftError {
  constructor (message: string) { super('WEFT_ERR_INVALID_INPUT', message, 400) }
}

/** Missing or wrong admin key or node credential. */
export class UnauthorizedError extends WeftError {
  constructor (message = 'missing or invalid credentials') { super('WEFT_ERR_UNAUTHORIZED', message, 401) }
}

/** A join token that is unknown, expired or already used. */
export class TokenRejectedError extends WeftError {
  constructor (message: string) { super('WEFT_ERR_TOKEN_REJECTED', message, 403) }
}

/** A proof of key possession that does not verify, is stale, or replays a nonce. */
export class ProofRejectedError extends WeftError {
  constructor (message: string) { super('WEFT_ERR_PROOF_REJECTED', message, 403) }
}

/**
 * A credential or key of a node an admin removed. Unlike an unknown credential (401), it tells the node that
 * it must stay out: it comes back only by registering again from fresh state with a join token.
 */
export class NodeRemovedError extends WeftError {
  constructor (message: string) { super('WEFT_ERR_NODE_REMOVED', message, 403) }
}

/** No such node, token or resource. */
export class NotFoundError extends WeftError {
  constructor (message: string) { super('WEFT_ERR_NOT_FOUND', message, 404) }
}

/** The request conflicts with current state (for example a removed node trying to act). */
export class ConflictError extends WeftError {
  constructor (message: string) { super('WEFT_ERR_CONFLICT', message, 409) }
}

/** The mesh CIDR has no free address left. */
export class AddressPoolExhaustedError extends WeftError {
  constructor (cidr: string) {
    super('WEFT_ERR_POOL_EXHAUSTED', `no free mesh address left in ${cidr}; remove nodes or restart the controller with a larger --cidr`, 507)
  }
}

/** The controller's or daemon's data directory cannot be used (corrupt, locked, unwritable). */
export class DataDirError extends WeftError {
  constructor (message: string, options?: { cause?: unknown }) { super('WEFT_ERR_DATA_DIR', message, 500, options) }
}

/**
 * The controller's database failed a write (disk full, I/O error) and refuses every write until it has been
 * reopened and shown to hold everything acknowledged. Reads keep working; the client retries later.
 */
export class StoreUnavailableError extends WeftError {
  constructor (message: string, options?: { cause?: unknown }) { super('WEFT_ERR_STORE_UNAVAILABLE', message, 503, options) }
}

/**
 * The database holds less than the store guard says was acknowledged (a damaged or deleted database, or an
 * older copy): the controller refuses to start on it. The message says how to restore or accept the loss.
 */
export class StoreBehindError extends WeftError {
  constructor (message: string) { super('WEFT_ERR_STORE_BEHIND', message, 500) }
}

/** Too many requests from one client in the window; retry later. */
export class RateLimitedError extends WeftError {
  constructor (message = 'too many requests; retry later') { super('WEFT_ERR_RATE_LIMITED', message, 429) }
}

/** A call to the WireGuard device (UAPI socket, `ip`, `wg`) failed. */
export class DeviceError extends WeftError {
  constructor (message: string, options?: { cause?: unknown }) { super('WEFT_ERR_DEVICE', message, 500, options) }
}

/** A device call that got no reply within its bound: the device may be alive but starved, unlike a refused socket. */
export class DeviceTimeoutError extends DeviceError {}

/** True when `err`, or an error it was caused by, is a DeviceTimeoutError (PeerApplyError wraps the socket's). */
export function isDeviceTimeout (err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof DeviceTimeoutError) return true
  }
  return false
}

/** The controller answered with an error or could not be reached. */
export class ControllerError extends WeftError {
  constructor (message: string, statusCode = 502, readonly remoteCode?: string) { super('WEFT_ERR_CONTROLLER', message, statusCode) }
}

/** Why a connection to the controller failed before any HTTP answer (lib/client/failure.ts decides). */
export type UnreachableReason = 'refused' | 'dns' | 'unreachable' | 'timeout' | 'reset'

/** No HTTP answer from the controller: nothing listens, the name does not resolve, no route, no answer in time. */
export class ControllerUnreachableError extends ControllerError {
  override readonly code: string = 'WEFT_ERR_CONTROLLER_UNREACHABLE'
  constructor (message: string, readonly reason: UnreachableReason, options?: { cause?: unknown }) {
    super(message, reason === 'timeout' ? 504 : 503)
    if (options?.cause !== undefined) this.cause = options.cause
  }
}

/** Why TLS with the controller failed (lib/client/failure.ts decides). */
export type TlsFailure = 'untrusted' | 'name-mismatch' | 'expired' | 'pin-mismatch' | 'not-https' | 'not-http' | 'handshake'

/**
 * The controller's transport is not what this side expects: a certificate it does not trust or that is not the
 * pinned one, or one side speaking TLS and the other plain HTTP. A 5xx status, so a daemon keeps retrying.
 */
export class ControllerTlsError extends ControllerError {
  override readonly code: string = 'WEFT_ERR_CONTROLLER_TLS'
  constructor (message: string, readonly reason: TlsFailure, options?: { cause?: unknown }) {
    super(message, 502)
    if (options?.cause !== undefined) this.cause = options.cause
  }
}

/** A netmap or saved state that fails validation; the previous one stays in force. */
export class InvalidNetmapError extends WeftError {
  constructor (message: string) { super('WEFT_ERR_INVALID_NETMAP', message, 422) }
}

/** True when `err` is a WeftError carrying `code`. */
export function hasCode (err: unknown, code: string): boolean {
  return err instanceof WeftError && err.code === code
}

/** A SWIM config value that cannot work (zero interval, timeout longer than the interval...); the message says what to fix. */
export class SwimConfigError extends WeftError {
  constructor (message: string) { super('WEFT_ERR_SWIM_CONFIG', message, 2) }
}

/**
 * A multi-step device change that failed part-way: the first `applied` of `total` steps went through, the next
 * failed, the rest were not tried. A failed batch (one device transaction) knows of none, so says 0, though a
 * prefix may have gone through.
 */
export class PeerApplyError extends DeviceError {
  constructor (message: string, readonly applied: number, readonly total: number, options?: { cause?: unknown }) { super(message, options) }
}

/** A join token an admin revoked (`weft token revoke`): it admits nobody, whatever its expiry. */
export class TokenRevokedError extends WeftError {
  constructor (message: string) { super('WEFT_ERR_TOKEN_REVOKED', message, 403) }
}

/**
 * A node named by a hostname (or an id or mesh IP that is also another node's hostname) that fits more than
 * one node. Destructive commands refuse it; `candidates` are the nodes it fits, for the operator to pick from.
 */
export class AmbiguousNodeError extends WeftError {
  constructor (message: string, readonly candidates: ReadonlyArray<{ id: string, hostname: string, meshIp: string }>) {
    super('WEFT_ERR_AMBIGUOUS_NODE', message, 409)
  }
}
