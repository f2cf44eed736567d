/**
 * Every failure Weft reports on purpose, in one place. Each code below is stable: logs, the CLI and the HTTP
 * API carry it unchanged, and docs/errors.md explains each one (test/errors.test.ts checks both ways). Code
 * elsewhere names a code through `Code`, never as a string of its own.
 *
 * Two kinds of failure, handled differently:
 * - "our own config is wrong" (bad flag, unusable data dir): thrown at start-up with a sentence saying
 *   what to fix; the CLI prints it and exits non-zero (cmd/exit.ts picks the exit code from the error's kind).
 * - "a peer sent us garbage" (malformed packet, bad body): counted and dropped, or answered with a 4xx;
 *   never thrown out of a receive loop.
 */

/** Every WEFT_ERR_* code, by name; each entry says when it happens and which class carries it. */
export const Code = {
  /** ConfigError: a flag, a config value or the host cannot work as given; start-up stops with what to fix. */
  CONFIG: 'WEFT_ERR_CONFIG',
  /** SwimConfigError, a kind of ConfigError: a SWIM config value that cannot work (zero interval, timeout past the interval). */
  SWIM_CONFIG: 'WEFT_ERR_SWIM_CONFIG',
  /** InvalidInputError: a request body, query or value that does not have the required shape; also any malformed HTTP request. */
  INVALID_INPUT: 'WEFT_ERR_INVALID_INPUT',
  /**
   * PolicyError: an access policy document that is malformed, names what it does not define or a hostname no node has, or fails its own
   * tests; or a tag the policy in force does not declare.
   */
  POLICY: 'WEFT_ERR_POLICY',
  /** UnauthorizedError: a missing or unknown admin key or node credential (never issued, replaced, expired, or lost with a restore). */
  UNAUTHORIZED: 'WEFT_ERR_UNAUTHORIZED',
  /**
   * ForbiddenError: a request the signed-in party may not make: a viewer asking for a change or for what only an admin
   * sees, or a change from a dashboard session without its CSRF header.
   */
  FORBIDDEN: 'WEFT_ERR_FORBIDDEN',
  /** TokenRejectedError: a join token that is unknown, expired or already used, or missing where one is needed. */
  TOKEN_REJECTED: 'WEFT_ERR_TOKEN_REJECTED',
  /** TokenRevokedError: a join token an admin revoked. */
  TOKEN_REVOKED: 'WEFT_ERR_TOKEN_REVOKED',
  /** ProofRejectedError: a proof of key possession that does not verify, is outside the allowed clock skew, or replays a nonce. */
  PROOF_REJECTED: 'WEFT_ERR_PROOF_REJECTED',
  /** NodeRemovedError: the credential or key of a node an admin removed; the node stays out. */
  NODE_REMOVED: 'WEFT_ERR_NODE_REMOVED',
  /** NotFoundError: no such node, token, route or resource. */
  NOT_FOUND: 'WEFT_ERR_NOT_FOUND',
  /**
   * ConflictError: the request conflicts with a change under way (a removal, another write of the same node); StoreConflictError: another
   * controller on the same etcd changed the same records at the same moment, more times than the controller retries.
   */
  CONFLICT: 'WEFT_ERR_CONFLICT',
  /** AmbiguousNodeError: a node name that fits several nodes, given to a command that changes one. */
  AMBIGUOUS_NODE: 'WEFT_ERR_AMBIGUOUS_NODE',
  /** AddressPoolExhaustedError: the mesh CIDR has no free address left for a new node. */
  POOL_EXHAUSTED: 'WEFT_ERR_POOL_EXHAUSTED',
  /** RateLimitedError: too many registrations or failed authentications from one address in the window. */
  RATE_LIMITED: 'WEFT_ERR_RATE_LIMITED',
  /** No class: a request that did not arrive within Node's request timeouts (lib/control/errors-http.ts answers it). */
  REQUEST_TIMEOUT: 'WEFT_ERR_REQUEST_TIMEOUT',
  /** No class: a request body above the controller's limit (64 KiB). */
  BODY_TOO_LARGE: 'WEFT_ERR_BODY_TOO_LARGE',
  /** No class: a path parameter above 100 characters. */
  URI_TOO_LONG: 'WEFT_ERR_URI_TOO_LONG',
  /** No class: a request body that is not `application/json`. */
  UNSUPPORTED_MEDIA_TYPE: 'WEFT_ERR_UNSUPPORTED_MEDIA_TYPE',
  /** No class: a request line and headers above Node's 16 KiB limit. */
  HEADERS_TOO_LARGE: 'WEFT_ERR_HEADERS_TOO_LARGE',
  /** No class: a controller failure that is not a WeftError (a bug); the answer says to read the controller's log. */
  INTERNAL: 'WEFT_ERR_INTERNAL',
  /** DataDirError: the controller's or daemon's data directory or a file in it cannot be used (corrupt, locked, unwritable). */
  DATA_DIR: 'WEFT_ERR_DATA_DIR',
  /** StoreUnavailableError: a write while the controller's store refuses writes after a failed one. */
  STORE_UNAVAILABLE: 'WEFT_ERR_STORE_UNAVAILABLE',
  /** StoreBehindError: at start-up, the database holds less than the controller acknowledged. */
  STORE_BEHIND: 'WEFT_ERR_STORE_BEHIND',
  /** DeviceError (DeviceTimeoutError, PeerApplyError): a call to the WireGuard device (UAPI, `ip`, `wg`) failed. */
  DEVICE: 'WEFT_ERR_DEVICE',
  /** InvalidNetmapError: a netmap, or the saved copy of one, that fails validation; the previous config stays in force. */
  INVALID_NETMAP: 'WEFT_ERR_INVALID_NETMAP',
  /** ControllerError: the controller answered a call with an error, or with something that is not its API. */
  CONTROLLER: 'WEFT_ERR_CONTROLLER',
  /** ControllerUnreachableError: no HTTP answer from the controller (refused, no such name, no route, no answer in time). */
  CONTROLLER_UNREACHABLE: 'WEFT_ERR_CONTROLLER_UNREACHABLE',
  /** ControllerTlsError: the controller's transport is not what this side expects (untrusted certificate, wrong pin, TLS vs plain HTTP). */
  CONTROLLER_TLS: 'WEFT_ERR_CONTROLLER_TLS',
  /** DaemonError: `weft status` or `weft leave` got no usable answer from the daemon's local control socket. */
  DAEMON: 'WEFT_ERR_DAEMON'
} as const

/** One of the codes in `Code`. */
export type WeftCode = typeof Code[keyof typeof Code]

/** Every code, for enumerating (docs and tests). */
export const CODES: readonly WeftCode[] = Object.values(Code)

/**
 * The HTTP status the controller answers each code with; null for a code no controller answer carries (start-up,
 * device and client-side failures). An error's `statusCode` is this status, fixed when the error is made.
 */
export const HTTP_STATUS: { readonly [C in WeftCode]: number | null } = {
  [Code.CONFIG]: null,
  [Code.SWIM_CONFIG]: null,
  [Code.INVALID_INPUT]: 400,
  [Code.UNAUTHORIZED]: 401,
  [Code.FORBIDDEN]: 403,
  [Code.TOKEN_REJECTED]: 403,
  [Code.TOKEN_REVOKED]: 403,
  [Code.PROOF_REJECTED]: 403,
  [Code.NODE_REMOVED]: 403,
  [Code.NOT_FOUND]: 404,
  [Code.CONFLICT]: 409,
  [Code.AMBIGUOUS_NODE]: null,
  // A full pool is a state of the mesh the operator resolves (remove nodes, a larger --cidr), not a storage failure (507).
  [Code.POOL_EXHAUSTED]: 409,
  [Code.RATE_LIMITED]: 429,
  [Code.POLICY]: 400,
  [Code.REQUEST_TIMEOUT]: 408,
  [Code.BODY_TOO_LARGE]: 413,
  [Code.URI_TOO_LONG]: 414,
  [Code.UNSUPPORTED_MEDIA_TYPE]: 415,
  [Code.HEADERS_TOO_LARGE]: 431,
  [Code.INTERNAL]: 500,
  [Code.DATA_DIR]: 500,
  [Code.STORE_UNAVAILABLE]: 503,
  [Code.STORE_BEHIND]: null,
  [Code.DEVICE]: null,
  [Code.INVALID_NETMAP]: null,
  [Code.CONTROLLER]: null,
  [Code.CONTROLLER_UNREACHABLE]: null,
  [Code.CONTROLLER_TLS]: null,
  [Code.DAEMON]: null
}

/**
 * Base class: a failure with a stable machine-readable code. `statusCode` is the HTTP status the controller
 * answers it with (HTTP_STATUS), or, for a call this side made (ControllerError, DaemonError), the status that
 * describes how the call failed; undefined when it is neither.
 */
export class WeftError extends Error {
  readonly code: WeftCode
  readonly statusCode: number | undefined

  constructor (code: WeftCode, message: string, options?: { cause?: unknown, statusCode?: number }) {
    super(message, options !== undefined && 'cause' in options ? { cause: options.cause } : undefined)
    this.name = new.target.name
    this.code = code
    this.statusCode = options?.statusCode ?? HTTP_STATUS[code] ?? undefined
  }
}

/** True when `err` is a WeftError carrying `code`. */
export function hasCode (err: unknown, code: WeftCode): boolean {
  return err instanceof WeftError && err.code === code
}

/** A flag or config value that cannot work; the message says what to fix. The CLI exits 2 on it and its kinds. */
export class ConfigError extends WeftError {
  constructor (message: string, options?: { cause?: unknown }) { super(Code.CONFIG, message, options) }
}

/** A SWIM config value that cannot work (zero interval, timeout longer than the interval...); the message says what to fix. */
export class SwimConfigError extends ConfigError {
  override readonly code: WeftCode = Code.SWIM_CONFIG
}

/** A request body, query or packet that does not have the required shape. */
export class InvalidInputError extends WeftError {
  constructor (message: string) { super(Code.INVALID_INPUT, message) }
}

/** Where in a policy document something is wrong: 1-based line and column. */
export interface PolicyLocation { line: number, column: number }

/**
 * An access policy that cannot be used: malformed, naming a group, tag or host it does not define (or, at the
 * controller, a hostname no node has), or failing one of its own tests; also a tag given to a node or token that
 * the policy in force does not declare. `at` locates it in the document; the message then starts with `line:column`.
 */
export class PolicyError extends WeftError {
  constructor (message: string, readonly at?: PolicyLocation) {
    super(Code.POLICY, at === undefined ? message : `${at.line}:${at.column}: ${message}`)
  }
}

/** Missing or wrong admin key or node credential. */
export class UnauthorizedError extends WeftError {
  constructor (message = 'missing or invalid credentials') { super(Code.UNAUTHORIZED, message) }
}

/** A viewer's request for a change or for what only an admin sees; a session's change without its CSRF header. */
export class ForbiddenError extends WeftError {
  constructor (message: string) { super(Code.FORBIDDEN, message) }
}

/** A join token that is unknown, expired or already used. */
export class TokenRejectedError extends WeftError {
  constructor (message: string) { super(Code.TOKEN_REJECTED, message) }
}

/** A join token an admin revoked (`weft token revoke`): it admits nobody, whatever its expiry. */
export class TokenRevokedError extends WeftError {
  constructor (message: string) { super(Code.TOKEN_REVOKED, message) }
}

/** A proof of key possession that does not verify, is stale, or replays a nonce. */
export class ProofRejectedError extends WeftError {
  constructor (message: string) { super(Code.PROOF_REJECTED, message) }
}

/**
 * A credential or key of a node an admin removed. Unlike an unknown credential (401), it tells the node that
 * it must stay out: it comes back only by registering again from fresh state with a join token.
 */
export class NodeRemovedError extends WeftError {
  constructor (message: string) { super(Code.NODE_REMOVED, message) }
}

/** No such node, token or resource. */
export class NotFoundError extends WeftError {
  constructor (message: string) { super(Code.NOT_FOUND, message) }
}

/** The request conflicts with current state (for example a removed node trying to act). */
export class ConflictError extends WeftError {
  constructor (message: string) { super(Code.CONFLICT, message) }
}

/**
 * A write to a store shared by several controllers (etcd) found a record it read changed by another
 * controller meanwhile; nothing of it was written. `settled` resolves once this controller has taken in the
 * newer records, after which the operation may be decided again (retryOnConflict does that).
 */
export class StoreConflictError extends WeftError {
  constructor (message: string, readonly settled: Promise<void>) { super(Code.CONFLICT, message) }
}

/**
 * A node named by a hostname (or an id or mesh IP that is also another node's hostname) that fits more than
 * one node. Destructive commands refuse it; `candidates` are the nodes it fits, for the operator to pick from.
 */
export class AmbiguousNodeError extends WeftError {
  constructor (message: string, readonly candidates: ReadonlyArray<{ id: string, hostname: string, meshIp: string }>) {
    super(Code.AMBIGUOUS_NODE, message)
  }
}

/** The mesh CIDR has no free address left. */
export class AddressPoolExhaustedError extends WeftError {
  constructor (cidr: string) {
    super(Code.POOL_EXHAUSTED, `no free mesh address left in ${cidr}; remove nodes or restart the controller with a larger --cidr`)
  }
}

/** Too many requests from one client in the window; retry later. */
export class RateLimitedError extends WeftError {
  constructor (message = 'too many requests; retry later') { super(Code.RATE_LIMITED, message) }
}

/** The controller's or daemon's data directory cannot be used (corrupt, locked, unwritable). */
export class DataDirError extends WeftError {
  constructor (message: string, options?: { cause?: unknown }) { super(Code.DATA_DIR, message, options) }
}

/**
 * The controller's database failed a write (disk full, I/O error) and refuses every write until it has been
 * reopened and shown to hold everything acknowledged. Reads keep working; the client retries later.
 */
export class StoreUnavailableError extends WeftError {
  constructor (message: string, options?: { cause?: unknown }) { super(Code.STORE_UNAVAILABLE, message, options) }
}

/**
 * The database holds less than the store guard says was acknowledged (a damaged or deleted database, or an
 * older copy): the controller refuses to start on it. The message says how to restore or accept the loss.
 */
export class StoreBehindError extends WeftError {
  constructor (message: string) { super(Code.STORE_BEHIND, message) }
}

/** A call to the WireGuard device (UAPI socket, `ip`, `wg`) failed. */
export class DeviceError extends WeftError {
  constructor (message: string, options?: { cause?: unknown }) { super(Code.DEVICE, message, options) }
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

/**
 * A multi-step device change that failed part-way: the first `applied` of `total` steps went through, the next
 * failed, the rest were not tried. A failed batch (one device transaction) knows of none, so says 0, though a
 * prefix may have gone through.
 */
export class PeerApplyError extends DeviceError {
  constructor (message: string, readonly applied: number, readonly total: number, options?: { cause?: unknown }) { super(message, options) }
}

/** A netmap or saved state that fails validation; the previous one stays in force. */
export class InvalidNetmapError extends WeftError {
  constructor (message: string) { super(Code.INVALID_NETMAP, message) }
}

/**
 * The controller answered with an error or could not be reached. `statusCode` is the controller's status (502
 * when its answer is not the API's); `remoteCode` the WEFT_ERR_* code in its answer and `remoteMessage` its
 * sentence, if any.
 */
export class ControllerError extends WeftError {
  declare readonly statusCode: number
  constructor (message: string, statusCode = 502, readonly remoteCode?: string, readonly remoteMessage?: string) {
    super(Code.CONTROLLER, message, { statusCode })
  }
}

/** Why a connection to the controller failed before any HTTP answer (lib/client/failure.ts decides). */
export type UnreachableReason = 'refused' | 'dns' | 'unreachable' | 'timeout' | 'reset'

/** No HTTP answer from the controller: nothing listens, the name does not resolve, no route, no answer in time. */
export class ControllerUnreachableError extends ControllerError {
  override readonly code: WeftCode = Code.CONTROLLER_UNREACHABLE
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
  override readonly code: WeftCode = Code.CONTROLLER_TLS
  constructor (message: string, readonly reason: TlsFailure, options?: { cause?: unknown }) {
    super(message, 502)
    if (options?.cause !== undefined) this.cause = options.cause
  }
}

/**
 * The daemon's local control socket gave no usable answer. `statusCode` says how, as for a controller call: 503
 * nothing listens, 504 no answer in time, 502 an answer that is not JSON, 500 the daemon refused the request.
 */
export class DaemonError extends WeftError {
  declare readonly statusCode: number
  constructor (message: string, statusCode: 500 | 502 | 503 | 504) { super(Code.DAEMON, message, { statusCode }) }
}
