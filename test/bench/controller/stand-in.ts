import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { SetTarget } from '../../../bench/controller/channel-set.js'
import type { RegisteredNode } from '../../../bench/controller/client.js'

/**
 * A stand-in controller for the tests of the bench's channels: it answers `GET /v1/info` with the version the
 * test sets, and holds every update channel opened to it, so a test writes the NDJSON lines a controller would.
 */

export const EPOCH = 'e1'

/** A running stand-in. */
export interface StandIn {
  /** Where channels to it connect, as controller `controller` of the run. */
  target: SetTarget
  /** The version `GET /v1/info` answers with. */
  version: number
  /** `GET /v1/info` requests answered so far. */
  infoRequests: number
  /** Every update channel opened to it, in order. */
  streams: ServerResponse[]
  /** Writes one line to every channel open here; returns its size, newline included. */
  send: (msg: unknown) => number
}

/** Starts a stand-in as controller `controller`; the test's teardown closes it. */
export async function standIn (t: { teardown: (fn: () => unknown) => void }, controller = 0): Promise<StandIn> {
  const server = createServer((req, res) => {
    if (req.url === '/v1/info') {
      s.infoRequests++
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ publicKey: '', cidr: '100.64.0.0/10', epoch: EPOCH, version: s.version, heartbeatIntervalMs: 5000 }))
      return
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    res.flushHeaders()
    s.streams.push(res)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const s: StandIn = {
    target: { controller, origin: `http://127.0.0.1:${port}`, host: '127.0.0.1', port, epoch: EPOCH },
    version: 1,
    infoRequests: 0,
    streams: [],
    send: (msg: unknown): number => {
      const line = JSON.stringify(msg) + '\n'
      for (const r of s.streams) r.write(line)
      return Buffer.byteLength(line)
    }
  }
  t.teardown(async () => {
    for (const r of s.streams) r.destroy()
    await new Promise(resolve => server.close(resolve))
  })
  return s
}

/** `n` simulated nodes as the channel set needs them (index, credential, source address). */
export function nodes (n: number): RegisteredNode[] {
  return Array.from({ length: n }, (_, i) => ({ index: i, credential: `c${i}`, sourceIp: '127.0.0.1' }) as unknown as RegisteredNode)
}

/** Waits until `cond()` holds; throws, naming `what`, after `timeoutMs` instead of hanging the run. */
export async function until (what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

/** A delta from `from` to `from + 1` with no changes, plus `extra` fields. */
export const delta = (from: number, extra: object = {}): object => ({ type: 'delta', epoch: EPOCH, from, to: from + 1, upsert: [], remove: [], ...extra })
