/**
 * A TCP relay from the host's loopback into a world's namespace, so that a browser on the host (or an
 * operator's, through an SSH tunnel) reaches a server the host cannot route to, such as the controller at
 * 198.18.0.1:8080. Network namespaces do not separate unix sockets: the harness listens on 127.0.0.1:PORT and
 * carries each accepted connection over a unix socket, in the world's run directory, to a small process
 * started inside the namespace (this file run as a script), which connects to the target there. Bytes are
 * piped both ways with half-closes passed on; either side closing or failing closes the pair.
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { unlinkSync } from 'node:fs'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { silentLogger, type Logger } from '../../lib/log.js'
import type { NetnsWorld } from './world.js'

const SELF = fileURLToPath(import.meta.url)
/** The line the in-namespace process writes on stdout once its unix socket accepts connections. */
const READY = 'relay ready\n'
/** Where the host side listens: loopback only, as the relay bypasses the world's isolation. */
const LISTEN_HOST = '127.0.0.1'

/** Options of openRelay. */
export interface RelayOptions {
  /** Namespace the target lives in, e.g. `world.names.controllerNs`. */
  ns: string
  /** Target address as seen inside `ns`, e.g. 198.18.0.1 or 127.0.0.1. */
  host: string
  /** Target TCP port. */
  port: number
  /** Port on 127.0.0.1 to listen on; 0 takes any free one (read it from `NetnsRelay.port`). Default: 0. */
  listenPort?: number
  /** How long the in-namespace process may take to listen, in ms. Default: 10 s; Node starts in well under one here. */
  startTimeoutMs?: number
  /** Where a failed connection or an early exit of the in-namespace process is logged (debug, warn). Default: silent. */
  log?: Logger
}

/**
 * Joins two sockets (made with allowHalfOpen): each one's bytes go to the other, an end on one side ends the
 * other's writing only (a request may still be answered), and a close or error on either destroys both.
 */
export function splice (a: Socket, b: Socket, onError: (err: Error) => void = () => {}): void {
  a.pipe(b)
  b.pipe(a)
  const done = (): void => { a.destroy(); b.destroy() }
  const failed = (err: Error): void => { onError(err); done() }
  a.on('error', failed)
  b.on('error', failed)
  a.on('close', done)
  b.on('close', done)
}

/** A relay from 127.0.0.1:port to a target inside a namespace; `close()` ends it (the world's destroy ends its process too). */
export class NetnsRelay {
  /** Both sockets of every relayed connection, so that close() can drop them. */
  private readonly sockets = new Set<Socket>()
  private readonly clients = new Set<Socket>()
  private closed = false

  /** @internal Made by openRelay. */
  constructor (private readonly server: Server, private readonly child: ChildProcess, readonly socketPath: string,
    private readonly log: Logger) {
    const a = server.address()
    this.port = typeof a === 'object' && a !== null ? a.port : 0
    server.on('connection', client => this.accept(client))
    server.on('error', err => log.warn({ event: 'sim.relay.error', err: err.message }, 'the relay\'s listener failed'))
    child.once('exit', (code, signal) => {
      if (!this.closed) log.warn({ event: 'sim.relay.exit', code, signal }, 'the relay process inside the namespace exited; new connections fail')
    })
  }

  /** The port on 127.0.0.1 the relay listens on (kept after close, for messages). */
  readonly port: number

  /** `http://127.0.0.1:PORT` followed by `path`. */
  url (path = '/'): string { return `http://${LISTEN_HOST}:${this.port}${path}` }

  /** Pid of the process inside the namespace. */
  get pid (): number | undefined { return this.child.pid }

  /** Connections open through the relay now. */
  get connections (): number { return this.clients.size }

  /** Stops listening, drops every open connection, and ends the process in the namespace. Idempotent. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    const stopped = new Promise<void>(resolve => this.server.close(() => resolve()))
    for (const s of this.sockets) s.destroy()
    await stopped
    await stopChild(this.child)
  }

  private accept (client: Socket): void {
    const inner = createConnection({ path: this.socketPath, allowHalfOpen: true })
    this.clients.add(client)
    client.once('close', () => this.clients.delete(client))
    for (const s of [client, inner]) {
      this.sockets.add(s)
      s.once('close', () => this.sockets.delete(s))
    }
    splice(client, inner, err => this.log.debug({ event: 'sim.relay.error', err: err.message }, 'relayed connection failed'))
  }
}

/** Ends `child` with SIGTERM (SIGKILL after 2 s) and resolves once it has exited. */
async function stopChild (child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
  await exited
  clearTimeout(timer)
}

/**
 * Opens a relay from 127.0.0.1:`listenPort` to `host`:`port` inside namespace `ns` of `world`. The process in
 * the namespace is started with `world.spawn`, so it is recorded and ended with the world. Rejects (leaving
 * nothing running) when that process does not come up or the port cannot be bound.
 */
export async function openRelay (world: NetnsWorld, opts: RelayOptions): Promise<NetnsRelay> {
  const log = opts.log ?? silentLogger()
  const socketPath = `${world.names.runDir}/relay-${randomBytes(6).toString('hex')}.sock`
  const child = world.spawn(opts.ns, [process.execPath, SELF, 'serve', socketPath, opts.host, String(opts.port)],
    { stdio: ['pipe', 'pipe', 'pipe'], name: 'relay' })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString('utf8')).slice(-2000) })
  // Listening only once the unix socket is there: no client is accepted before it can be carried on.
  const server = createServer({ allowHalfOpen: true })
  try {
    await waitReady(child, opts.startTimeoutMs ?? 10_000, () => stderr.trim())
    server.listen(opts.listenPort ?? 0, LISTEN_HOST)
    await once(server, 'listening')
  } catch (err) {
    server.close()
    await stopChild(child)
    throw err
  }
  child.stdout!.resume()
  return new NetnsRelay(server, child, socketPath, log)
}

/** Resolves when `child` prints READY; rejects when it exits first or takes longer than `timeoutMs`. */
async function waitReady (child: ChildProcess, timeoutMs: number, stderr: () => string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let out = ''
    const finish = (err?: Error): void => {
      clearTimeout(timer)
      child.stdout!.off('data', onData)
      child.off('exit', onExit)
      child.off('error', finish)
      if (err === undefined) resolve()
      else reject(err)
    }
    const onData = (d: Buffer): void => {
      out += d.toString('utf8')
      if (out.includes(READY)) finish()
    }
    const onExit = (code: number | null, signal: string | null): void => {
      finish(new Error(`the relay process exited (${signal ?? `code ${String(code)}`}) before listening: ${stderr() || 'no output'}`))
    }
    const timer = setTimeout(() => finish(new Error(`the relay process did not listen within ${timeoutMs} ms: ${stderr() || 'no output'}`)), timeoutMs)
    child.stdout!.on('data', onData)
    child.once('exit', onExit)
    child.once('error', finish)
  })
}

/**
 * The half inside the namespace: accepts on unix socket `path` and connects each connection to `host`:`port`.
 * Ends when its stdin closes, so a harness that dies without cleaning up leaves no relay behind.
 */
async function serve (path: string, host: string, port: number): Promise<void> {
  try { unlinkSync(path) } catch { /* none left over */ }
  const server = createServer({ allowHalfOpen: true }, client => {
    splice(client, createConnection({ host, port, allowHalfOpen: true }))
  })
  server.listen(path)
  await once(server, 'listening')
  server.on('error', err => process.stderr.write(`relay: ${err.message}\n`))
  process.stdout.write(READY)
  process.stdin.resume()
  process.stdin.on('close', () => process.exit(0))
  process.stdin.on('end', () => process.exit(0))
  process.on('SIGTERM', () => process.exit(0))
  process.on('exit', () => { try { unlinkSync(path) } catch { /* already gone */ } })
}

if (process.argv[1] === SELF && process.argv[2] === 'serve') {
  const [path, host, port] = process.argv.slice(3)
  serve(path!, host!, Number(port)).catch(err => { process.stderr.write(`relay: ${(err as Error).message}\n`); process.exit(1) })
}
