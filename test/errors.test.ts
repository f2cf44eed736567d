/**
 * lib/errors.ts is the one list of codes: docs/errors.md documents exactly those (with the same HTTP status
 * and exit code), no other file in lib/, cmd/ or sim/ spells a code out, and every error carries the HTTP
 * status of its code from the moment it is made.
 */
import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { STATUS_CODES } from 'node:http'
import { join } from 'node:path'
import {
  AddressPoolExhaustedError, AmbiguousNodeError, CODES, Code, ConfigError, ConflictError, ControllerError, ControllerTlsError,
  ControllerUnreachableError, DaemonError, DataDirError, DeviceError, DeviceTimeoutError, HTTP_STATUS, InvalidInputError,
  PolicyError,
  InvalidNetmapError, NodeRemovedError, NotFoundError, PeerApplyError, ProofRejectedError, RateLimitedError, StoreBehindError,
  StoreUnavailableError, SwimConfigError, TokenRejectedError, TokenRevokedError, ForbiddenError, UnauthorizedError, WeftError, type WeftCode
} from '../lib/errors.js'
import { codeForStatus, errorReply } from '../lib/control/errors-http.js'
import { exitCodeOf } from '../cmd/exit.js'

const ROOT = process.cwd()

/** One error of each code, as the code that throws it makes it; null for the codes only the HTTP layer answers with. */
const EXAMPLES: { [C in WeftCode]: (() => WeftError) | null } = {
  [Code.CONFIG]: () => new ConfigError('--cidr must be an IPv4 CIDR'),
  [Code.SWIM_CONFIG]: () => new SwimConfigError('swim config probeIntervalMs must be a whole number from 1 to 60000 (got 0)'),
  [Code.INVALID_INPUT]: () => new InvalidInputError('hostname is not valid'),
  [Code.POLICY]: () => new PolicyError('tag:db is not defined in "tagOwners"', { line: 3, column: 14 }),
  [Code.UNAUTHORIZED]: () => new UnauthorizedError(),
  [Code.FORBIDDEN]: () => new ForbiddenError('a viewer cannot remove nodes'),
  [Code.TOKEN_REJECTED]: () => new TokenRejectedError('join token was already used'),
  [Code.TOKEN_REVOKED]: () => new TokenRevokedError('join token t1 was revoked'),
  [Code.PROOF_REJECTED]: () => new ProofRejectedError('proof does not verify'),
  [Code.NODE_REMOVED]: () => new NodeRemovedError('node n1 was removed'),
  [Code.NOT_FOUND]: () => new NotFoundError('no node n1'),
  [Code.CONFLICT]: () => new ConflictError('node n1 is being removed'),
  [Code.AMBIGUOUS_NODE]: () => new AmbiguousNodeError('"web" names 2 nodes', []),
  [Code.POOL_EXHAUSTED]: () => new AddressPoolExhaustedError('100.64.0.0/30'),
  [Code.RATE_LIMITED]: () => new RateLimitedError(),
  [Code.REQUEST_TIMEOUT]: null,
  [Code.BODY_TOO_LARGE]: null,
  [Code.URI_TOO_LONG]: null,
  [Code.UNSUPPORTED_MEDIA_TYPE]: null,
  [Code.HEADERS_TOO_LARGE]: null,
  [Code.INTERNAL]: null,
  [Code.DATA_DIR]: () => new DataDirError('/var/lib/weft is not writable'),
  [Code.STORE_UNAVAILABLE]: () => new StoreUnavailableError('the store refuses writes'),
  [Code.STORE_BEHIND]: () => new StoreBehindError('the database is behind'),
  [Code.DEVICE]: () => new DeviceError('UAPI get failed: errno=1'),
  [Code.INVALID_NETMAP]: () => new InvalidNetmapError('netmap.json is not valid JSON'),
  [Code.CONTROLLER]: () => new ControllerError('controller answered HTTP 500: boom', 500, Code.INTERNAL),
  [Code.CONTROLLER_UNREACHABLE]: () => new ControllerUnreachableError('connection refused', 'refused'),
  [Code.CONTROLLER_TLS]: () => new ControllerTlsError('certificate not trusted', 'untrusted'),
  [Code.DAEMON]: () => new DaemonError('cannot reach the daemon', 503)
}

/** The rows of the table in docs/errors.md: code, HTTP cell, exit cell (`| \`CODE\` | meaning | HTTP | exit | action |`). */
function documented (): Array<{ code: string, http: string, exit: string }> {
  const text = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8')
  const rows: Array<{ code: string, http: string, exit: string }> = []
  for (const line of text.split('\n')) {
    const m = /^\|\s*`(WEFT_ERR_[A-Z_]+)`\s*\|/.exec(line)
    if (m === null) continue
    const cells = line.split(' | ').map(c => c.replace(/^\|\s*|\s*\|$/g, '').trim())
    rows.push({ code: m[1]!, http: cells[2] ?? '', exit: cells[3] ?? '' })
  }
  return rows
}

/** Every .ts file under `dir`. */
function sources (dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap(name => {
    const rel = join(dir, name)
    if (statSync(join(ROOT, rel)).isDirectory()) return sources(rel)
    return name.endsWith('.ts') ? [rel] : []
  })
}

t.test('every code is defined once, and its name in Code is the code without WEFT_ERR_', async (t) => {
  t.equal(new Set(CODES).size, CODES.length, 'no code twice')
  for (const [name, code] of Object.entries(Code)) t.equal(code, `WEFT_ERR_${name}`, name)
})

t.test('docs/errors.md lists every code of lib/errors.ts once, and no other', async (t) => {
  const rows = documented()
  const inDocs = rows.map(r => r.code)
  t.same(CODES.filter(c => !inDocs.includes(c)), [], 'every code has a row')
  t.same(inDocs.filter(c => !(CODES as readonly string[]).includes(c)), [], 'every row is a code')
  t.same(inDocs.filter((c, i) => inDocs.indexOf(c) !== i), [], 'one row per code')
})

t.test('no doc names a code that lib/errors.ts does not define', async (t) => {
  const files = ['README.md', 'CHANGELOG.md', ...readdirSync(join(ROOT, 'docs')).filter(n => n.endsWith('.md')).map(n => `docs/${n}`)]
  for (const file of files) {
    const named = new Set(readFileSync(join(ROOT, file), 'utf8').match(/WEFT_ERR_[A-Z_]*[A-Z]/g) ?? [])
    t.same([...named].filter(c => !(CODES as readonly string[]).includes(c)), [], file)
  }
})

t.test('the HTTP and exit columns of docs/errors.md are what the code does', async (t) => {
  for (const { code, http, exit } of documented()) {
    if (!(CODES as readonly string[]).includes(code)) continue // the test above names it
    const c = code as WeftCode
    t.equal(http, String(HTTP_STATUS[c] ?? '–'), `${code}: HTTP ${http}`)
    const make = EXAMPLES[c]
    if (make === null) t.equal(exit, '–', `${code}: nothing throws it, so it stops no command`)
    else if (exit !== '–') t.equal(exit, String(exitCodeOf(make())), `${code}: exit ${exit}`)
    if (make !== null && exitCodeOf(make()) === 2) t.equal(exit, '2', `${code}: a config error says exit 2`)
  }
})

t.test('an error carries the HTTP status of its code from the moment it is made, and the HTTP layer answers with it', async (t) => {
  for (const code of CODES) {
    const make = EXAMPLES[code]
    if (make === null) continue
    const err = make()
    t.equal(err.code, code, `${err.name} carries ${code}`)
    const status = HTTP_STATUS[code]
    if (status === null) continue
    t.equal(err.statusCode, status, `${code}: statusCode ${status}`)
    t.same(errorReply(err), { status, body: { statusCode: status, code, error: STATUS_CODES[status], message: err.message } }, `${code}: answered ${status}`)
  }
})

t.test('a code no controller answer carries has no HTTP status of its own; one that reached a handler would be a 500', async (t) => {
  for (const code of [Code.CONFIG, Code.SWIM_CONFIG, Code.AMBIGUOUS_NODE, Code.STORE_BEHIND, Code.DEVICE, Code.INVALID_NETMAP]) {
    const err = EXAMPLES[code]!()
    t.equal(err.statusCode, undefined, `${code}: no status`)
    t.equal(errorReply(err).status, 500, `${code}: 500`)
  }
})

t.test('a full pool is 409 where it is made, not 507 turned into 409 later', async (t) => {
  t.equal(new AddressPoolExhaustedError('100.64.0.0/30').statusCode, 409)
})

t.test('the codes without a class are the statuses fastify or Node decide, and a failure that is no WeftError', async (t) => {
  for (const code of CODES) {
    if (EXAMPLES[code] !== null || code === Code.INTERNAL) continue
    t.equal(codeForStatus(HTTP_STATUS[code]!), code, `${HTTP_STATUS[code]} -> ${code}`)
  }
  t.match(errorReply(new Error('boom')), { status: 500, body: { code: Code.INTERNAL, message: 'internal error; see the controller log' } })
})

t.test('client-side errors keep the status that says how the call failed', async (t) => {
  const cases: Array<[WeftError, WeftCode, number]> = [
    [new ControllerError('not JSON'), Code.CONTROLLER, 502],
    [new ControllerError('controller answered HTTP 403', 403, Code.NODE_REMOVED), Code.CONTROLLER, 403],
    [new ControllerUnreachableError('refused', 'refused'), Code.CONTROLLER_UNREACHABLE, 503],
    [new ControllerUnreachableError('no answer in time', 'timeout'), Code.CONTROLLER_UNREACHABLE, 504],
    [new ControllerTlsError('pin mismatch', 'pin-mismatch'), Code.CONTROLLER_TLS, 502],
    [new DaemonError('no answer in time', 504), Code.DAEMON, 504],
    [new DaemonError('daemon refused: busy', 500), Code.DAEMON, 500]
  ]
  for (const [err, code, status] of cases) t.match(err, { code, statusCode: status }, `${err.message}: ${code} ${status}`)
})

t.test('subclasses keep their parent\'s code and status, and a cause', async (t) => {
  const cause = new Error('EPIPE')
  t.match(new DeviceTimeoutError('no reply', { cause }), { code: Code.DEVICE, statusCode: undefined, cause })
  t.match(new PeerApplyError('3rd op failed', 2, 5), { code: Code.DEVICE, applied: 2, total: 5 })
  t.equal(new ConfigError('x', { cause }).cause, cause)
  t.notOk('cause' in new ConfigError('x'), 'no cause property without one')
})

t.test('no file in lib/, cmd/ or sim/ but lib/errors.ts spells a code out', async (t) => {
  const found: string[] = []
  for (const file of ['lib', 'cmd', 'sim'].flatMap(sources)) {
    if (file === join('lib', 'errors.ts')) continue
    readFileSync(join(ROOT, file), 'utf8').split('\n').forEach((line, i) => {
      if (/['"`]WEFT_ERR_/.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`)
    })
  }
  t.same(found, [], 'codes are named through Code')
})
