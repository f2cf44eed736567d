import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { Clock } from '../../lib/clock.js'
import { createLogger, silentLogger, type Logger } from '../../lib/log.js'
import { startController, type RunningController } from '../../lib/control/index.js'
import type { ControllerConfigInput } from '../../lib/control/config.js'
import type { RegisterRequest } from '../../lib/wire/api.js'
import { generateKeyPair, type KeyPair, SigningKey } from '../../lib/wire/keys.js'
import type { NetmapMessage } from '../../lib/wire/netmap.js'
import { newNonce, signRegistration } from '../../lib/wire/proof.js'

/** The bits of tap's Test the helpers use. */
interface T { teardown (fn: () => unknown): void }

/** A fresh temp directory removed when the test ends. */
export async function tempDir (t: T): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-ctl-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  return dir
}

/** A controller on 127.0.0.1:0 with a silent logger, closed at teardown; plus its admin key. */
export async function start (
  t: T, opts: Partial<ControllerConfigInput> & { clock?: Clock, dataDir?: string, log?: Logger } = {}
): Promise<RunningController & { adminKey: string }> {
  const dataDir = opts.dataDir ?? join(await tempDir(t), 'data')
  const c = await startController({ listen: '127.0.0.1:0', log: silentLogger(), ...opts, dataDir })
  let closed = false
  t.teardown(async () => { if (!closed) await c.close() })
  const adminKey = (await readFile(c.adminKeyFile, 'utf8')).trim()
  return { ...c, adminKey, close: async () => { closed = true; await c.close() } }
}

/** A JSON HTTP call; returns status and parsed body (or raw text when not JSON). */
export async function call (base: string, method: string, path: string, body?: unknown, bearer?: string, headers: Record<string, string> = {}): Promise<{
  status: number
  json: any
}> {
  const res = await fetch(new URL(path, base), {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(bearer !== undefined ? { authorization: `Bearer ${bearer}` } : {}),
      ...headers
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {})
  })
  const text = await res.text()
  let json: any = text
  try { json = JSON.parse(text) } catch {}
  return { status: res.status, json }
}

/** Creates a join token through the admin API. */
export async function token (c: { url: string, adminKey: string }, opts: { reusable?: boolean, ttlMs?: number } = {}): Promise<string> {
  const r = await call(c.url, 'POST', '/v1/tokens', opts, c.adminKey)
  if (r.status !== 200) throw new Error(`token create failed: ${r.status} ${JSON.stringify(r.json)}`)
  return r.json.token as string
}

/** A signed RegisterRequest for `keys`. */
export function registerBody (controllerPublicKey: string, keys: KeyPair, o: {
  hostname?: string
  endpoints?: string[]
  token?: string
  timestamp?: number
  nonce?: string
  listenPort?: number
  signingKey?: string
  meshIp?: string
} = {}): RegisterRequest {
  const f = {
    publicKey: keys.publicKey,
    signingKey: o.signingKey ?? SigningKey.derive(keys.privateKey).publicKey,
    hostname: o.hostname ?? 'node-1',
    endpoints: o.endpoints ?? ['198.18.0.2:51820'],
    timestamp: o.timestamp ?? Date.now(),
    nonce: o.nonce ?? newNonce(),
    ...(o.meshIp !== undefined ? { meshIp: o.meshIp } : {})
  }
  const body: RegisterRequest = { ...f, listenPort: o.listenPort ?? 51820, swimPort: 7946, proof: signRegistration(keys.privateKey, controllerPublicKey, f) }
  if (o.token !== undefined) body.token = o.token
  return body
}

/** Registers a fresh node with a fresh token; returns keys and the response. */
export async function joinNode (c: { url: string, adminKey: string, publicKey: string }, hostname = 'node', tok?: string, clock?: Clock): Promise<{
  keys: KeyPair
  nodeId: string
  meshIp: string
  credential: string
}> {
  const keys = generateKeyPair()
  const body = registerBody(c.publicKey, keys, { hostname, token: tok ?? await token(c), ...(clock !== undefined ? { timestamp: clock.now() } : {}) })
  const r = await call(c.url, 'POST', '/v1/register', body)
  if (r.status !== 200) throw new Error(`register failed: ${r.status} ${JSON.stringify(r.json)}`)
  return { keys, ...r.json }
}

/** An open update channel read line by line. */
export interface Stream {
  status: number
  contentType: string | null
  /** The next message; rejects when none arrives within `timeoutMs` or the stream ended. */
  next (timeoutMs?: number): Promise<NetmapMessage>
  /** Resolves true when the server ends the stream within `timeoutMs`. */
  ended (timeoutMs?: number): Promise<boolean>
  close (): void
}

/** Opens `GET /v1/netmap/stream` with a node credential. */
export async function openStream (base: string, credential: string, query = ''): Promise<Stream> {
  const ac = new AbortController()
  const res = await fetch(new URL(`/v1/netmap/stream${query}`, base), { headers: { authorization: `Bearer ${credential}` }, signal: ac.signal })
  const lines: string[] = []
  let buf = ''
  let done = false
  const waker: { wake: (() => void) | null } = { wake: null }
  const reader = res.body!.getReader()
  void (async () => {
    try {
      for (;;) {
        const { value, done: d } = await reader.read()
        if (d) break
        buf += Buffer.from(value).toString('utf8')
        let i
        while ((i = buf.indexOf('\n')) >= 0) { lines.push(buf.slice(0, i)); buf = buf.slice(i + 1) }
        waker.wake?.()
      }
    } catch {}
    done = true
    waker.wake?.()
  })()
  const waitFor = async (cond: () => boolean, timeoutMs: number): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs
    while (!cond()) {
      const left = deadline - Date.now()
      if (left <= 0) return false
      await new Promise<void>(resolve => { waker.wake = resolve; setTimeout(resolve, left).unref() })
    }
    return true
  }
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    async next (timeoutMs = 2000) {
      if (!await waitFor(() => lines.length > 0 || done, timeoutMs)) throw new Error(`no stream message within ${timeoutMs} ms`)
      if (lines.length === 0) throw new Error('stream ended')
      return JSON.parse(lines.shift()!) as NetmapMessage
    },
    async ended (timeoutMs = 2000) { return await waitFor(() => done, timeoutMs) },
    close () { ac.abort() }
  }
}

/** The next message on `stream` that is not a keepalive ping. */
export async function nextUpdate (stream: Stream, timeoutMs = 2000): Promise<NetmapMessage> {
  for (;;) {
    const m = await stream.next(timeoutMs)
    if (m.type !== 'ping') return m
  }
}

/** Polls `cond` every 10 ms until true or `timeoutMs`; returns whether it became true. */
export async function until (cond: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await cond()) return true
    if (Date.now() >= deadline) return false
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/** A real pino logger at info level whose lines are kept, parsed, in `events`. */
export function captureLog (): { log: Logger, events: Array<Record<string, any>> } {
  const events: Array<Record<string, any>> = []
  const sink = new Writable({ write (chunk, _enc, cb) { for (const l of String(chunk).split('\n')) if (l !== '') events.push(JSON.parse(l)); cb() } })
  return { log: createLogger({ level: 'info', destination: sink }), events }
}
