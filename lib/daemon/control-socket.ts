import { createServer, createConnection, type Server, type Socket } from 'node:net'
import { chmod, unlink } from 'node:fs/promises'
import type { Clock } from '../clock.js'
import { DaemonError, DataDirError, WeftError } from '../errors.js'
import type { Logger } from '../log.js'

/**
 * The daemon's local control socket (`DIR/weft.sock`, mode 0600, so only root and the owner can ask): one JSON
 * request line in, one JSON response line out. `weft status` and `weft leave` speak it.
 */

/** Socket file name inside the state directory. */
export const SOCKET_NAME = 'weft.sock'

/** Requests the daemon answers. `set` changes route preferences (prefs.ts); its `prefs` is checked by the daemon. */
export type LocalRequest = { cmd: 'status' } | { cmd: 'leave' } | { cmd: 'set', prefs: Record<string, unknown> }

/** Handlers, one per command, each given its request. */
export type LocalHandlers = { [K in LocalRequest['cmd']]: (req: Extract<LocalRequest, { cmd: K }>) => Promise<unknown> }

const MAX_REQUEST_BYTES = 4096

/** Listens on `path`, replacing a stale socket file left by a crashed daemon. */
export async function serveLocal (path: string, handlers: LocalHandlers, log: Logger): Promise<Server> {
  await unlink(path).catch(() => {})
  const server = createServer(sock => { handle(sock, handlers, log) })
  await new Promise<void>((resolve, reject) => {
    server.once('error', err => reject(new DataDirError(`cannot listen on ${path}: ${err.message}`, { cause: err })))
    server.listen(path, () => resolve())
  })
  await chmod(path, 0o600)
  return server
}

function handle (sock: Socket, handlers: LocalHandlers, log: Logger): void {
  let buf = ''
  sock.setEncoding('utf8')
  sock.on('error', () => {})
  sock.on('data', (chunk: string) => {
    buf += chunk
    if (buf.length > MAX_REQUEST_BYTES) { sock.end(JSON.stringify({ ok: false, error: 'request too large' }) + '\n'); return }
    const nl = buf.indexOf('\n')
    if (nl < 0) return
    const line = buf.slice(0, nl)
    sock.removeAllListeners('data')
    void answer(line, handlers).then(out => sock.end(JSON.stringify(out) + '\n'), (err: unknown) => {
      log.warn({ event: 'local.error', reason: (err as Error).message }, 'local request failed')
      sock.end(JSON.stringify({ ok: false, error: (err as Error).message, code: err instanceof WeftError ? err.code : undefined }) + '\n')
    })
  })
}

async function answer (line: string, handlers: LocalHandlers): Promise<unknown> {
  let req: { cmd?: unknown }
  try { req = JSON.parse(line) as { cmd?: unknown } } catch { return { ok: false, error: 'request is not JSON' } }
  if (typeof req !== 'object' || req === null) return { ok: false, error: 'request is not a JSON object' }
  const h = typeof req.cmd === 'string' && Object.hasOwn(handlers, req.cmd) ? handlers[req.cmd as LocalRequest['cmd']] : undefined
  if (h === undefined) return { ok: false, error: `unknown command ${String(req.cmd)}` }
  return { ok: true, result: await (h as (r: unknown) => Promise<unknown>)(req) }
}

/**
 * Sends one request to the daemon at `path` and returns its result, giving up after `timeoutMs` on `clock`.
 * Throws a clear error when no daemon answers.
 */
export async function askLocal<T> (path: string, req: LocalRequest, clock: Clock, timeoutMs = 10_000): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const sock = createConnection(path)
    let buf = ''
    const timer = clock.setTimeout(() => {
      sock.destroy()
      reject(new DaemonError(`no answer from the daemon at ${path} within ${timeoutMs} ms`, 504))
    }, timeoutMs)
    sock.setEncoding('utf8')
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'))
    sock.on('data', (c: string) => { buf += c })
    sock.on('error', (err: NodeJS.ErrnoException) => {
      timer.cancel()
      const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'is the daemon running with this --state?' : err.message
      reject(new DaemonError(`cannot reach the daemon at ${path}: ${why}`, 503))
    })
    sock.on('end', () => {
      timer.cancel()
      try {
        const res = JSON.parse(buf) as { ok: boolean, result?: T, error?: string }
        if (res.ok) resolve(res.result as T)
        else reject(new DaemonError(`daemon refused: ${res.error ?? 'unknown error'}`, 500))
      } catch {
        reject(new DaemonError('daemon answered with something that is not JSON', 502))
      }
    })
  })
}
