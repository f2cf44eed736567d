import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { NetmapMessage, NodeRecord } from '../../lib/wire/netmap.js'

/**
 * One simulated daemon's update channel: `GET /v1/netmap/stream` on its own TCP connection, read as NDJSON.
 * It keeps only what the bench measures (version, bytes and lines per message type, gaps) and reports each
 * record and policy version it sees to a callback with the time the chunk carrying it arrived.
 */

/** What a channel reports upwards; `atMs` is performance.now() when the chunk completing the line arrived. */
export interface ChannelObserver {
  /** Every node record a delta carries. */
  record: (channel: UpdateChannel, record: NodeRecord, atMs: number, lineBytes: number) => void
  /** The version of the access policy a delta carries (it carries one only when the policy changed). */
  policy: (channel: UpdateChannel, version: number, atMs: number, lineBytes: number) => void
  /**
   * A full map, or a delta too big to parse cheaply (a catch-up after many changes), left unparsed: at
   * 10,000 nodes such lines are megabytes, and parsing thousands of them would make the bench the bottleneck.
   */
  bulk: (channel: UpdateChannel, line: Buffer, atMs: number, kind: 'full' | 'delta') => void
}

/** An observer that ignores everything (for channels that are not measured). */
export const IGNORE: ChannelObserver = { record: () => {}, policy: () => {}, bulk: () => {} }

const FULL_PREFIX = Buffer.from('{"type":"full"')
/** Lines above this are not JSON-parsed; a one-change delta is about 400 bytes. */
const BULK_LINE_BYTES = 65_536
// The controller serializes the header fields (type, epoch, version or from/to) before the node list.
const HEAD_RE = /^\{"type":"(full|delta)"/
const VERSION_RE = /"version":(\d+)/
const FROM_TO_RE = /"from":(\d+),"to":(\d+)/

/** Per-channel counters, summed by ChannelSet. */
export interface ChannelCounters {
  /** Body bytes per message type, newline included. */
  bytes: { full: number, delta: number, ping: number, other: number }
  lines: { full: number, delta: number, ping: number, other: number }
  /** Deltas whose `from` was not this channel's version (the controller skipped or repeated a version). */
  gaps: number
  /** Lines that were not JSON or had no known `type`. */
  malformed: number
}

const NL = 0x0a

/** Where a channel connects and as whom. */
export interface ChannelTarget {
  host: string
  port: number
  credential: string
  sourceIp: string
  epoch: string
  /** Open with `since=` this version (the daemon already has it); null to ask for a full map. */
  since: number | null
}

/** An open (or opening) update channel. */
export class UpdateChannel {
  version = -1
  readonly counters: ChannelCounters = {
    bytes: { full: 0, delta: 0, ping: 0, other: 0 },
    lines: { full: 0, delta: 0, ping: 0, other: 0 },
    gaps: 0,
    malformed: 0
  }

  /** Set when the channel ended or failed after opening; the reason in words. */
  closedReason: string | null = null
  /** Upserts in the delta being handed to the callback (so a watch can tell whether changes were batched). */
  lastDeltaUpserts = 0
  private req: ClientRequest | null = null
  private socket: Socket | null = null
  private pending: Buffer[] = []

  constructor (readonly index: number, private readonly observer: ChannelObserver) {}

  /** Bytes read from the socket so far, HTTP headers and chunk framing included. */
  wireBytes (): number {
    return this.socket?.bytesRead ?? 0
  }

  /** Connects and resolves once the 200 response head arrives; rejects on any other status or error. */
  async open (t: ChannelTarget): Promise<void> {
    if (t.since !== null) this.version = t.since
    const q = t.since === null ? `epoch=${encodeURIComponent(t.epoch)}` : `epoch=${encodeURIComponent(t.epoch)}&since=${t.since}`
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({
        host: t.host,
        port: t.port,
        localAddress: t.sourceIp,
        path: `/v1/netmap/stream?${q}`,
        headers: { authorization: `Bearer ${t.credential}`, accept: 'application/x-ndjson' },
        agent: false
      })
      this.req = req
      req.once('socket', s => { this.socket = s; s.setNoDelay(true) })
      req.once('error', err => {
        if (this.closedReason === null) this.closedReason = `error: ${err.message}`
        reject(err)
      })
      req.once('response', (res: IncomingMessage) => {
        if (res.statusCode !== 200) {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (c: string) => { body += c })
          res.once('end', () => reject(new Error(`GET /v1/netmap/stream answered ${res.statusCode}: ${body.slice(0, 300)}`)))
          return
        }
        res.on('data', (chunk: Buffer) => this.onChunk(chunk, performance.now()))
        res.once('end', () => { this.closedReason ??= 'the controller ended the stream' })
        res.once('error', err => { this.closedReason ??= `error: ${err.message}` })
        resolve()
      })
      req.end()
    })
  }

  /** Closes the connection; the channel counts as closed by the bench. */
  close (): void {
    this.closedReason ??= 'closed by the bench'
    this.req?.destroy()
  }

  private onChunk (chunk: Buffer, atMs: number): void {
    let start = 0
    for (;;) {
      const nl = chunk.indexOf(NL, start)
      if (nl === -1) break
      let line: Buffer
      if (this.pending.length === 0) {
        line = chunk.subarray(start, nl)
      } else {
        this.pending.push(chunk.subarray(start, nl))
        line = Buffer.concat(this.pending)
        this.pending = []
      }
      this.onLine(line, atMs)
      start = nl + 1
    }
    if (start < chunk.length) this.pending.push(chunk.subarray(start))
  }

  private onLine (line: Buffer, atMs: number): void {
    const bytes = line.length + 1
    if (line.length === 0) return
    if (line.length > BULK_LINE_BYTES || line.subarray(0, FULL_PREFIX.length).equals(FULL_PREFIX)) {
      this.onBulk(line, atMs)
      return
    }
    let msg: NetmapMessage
    try {
      msg = JSON.parse(line.toString('utf8')) as NetmapMessage
    } catch {
      this.counters.malformed++
      this.counters.bytes.other += bytes
      this.counters.lines.other++
      return
    }
    switch (msg?.type) {
      case 'delta':
        this.counters.bytes.delta += bytes
        this.counters.lines.delta++
        if (msg.from !== this.version) this.counters.gaps++
        this.version = msg.to
        this.lastDeltaUpserts = msg.upsert?.length ?? 0
        for (const r of msg.upsert ?? []) this.observer.record(this, r, atMs, bytes)
        if (msg.policy !== undefined) this.observer.policy(this, msg.policy.version, atMs, bytes)
        return
      case 'ping':
        this.counters.bytes.ping += bytes
        this.counters.lines.ping++
        return
      default:
        this.counters.malformed++
        this.counters.bytes.other += bytes
        this.counters.lines.other++
    }
  }

  /** A full map or a big delta, read from its header only. */
  private onBulk (line: Buffer, atMs: number): void {
    const head = line.subarray(0, 512).toString('utf8')
    const kind = HEAD_RE.exec(head)?.[1] as 'full' | 'delta' | undefined
    const version = kind === 'full' ? VERSION_RE.exec(head) : null
    const fromTo = kind === 'delta' ? FROM_TO_RE.exec(head) : null
    const bytes = line.length + 1
    if (kind === undefined || (version === null && fromTo === null)) {
      this.counters.malformed++
      this.counters.bytes.other += bytes
      this.counters.lines.other++
      return
    }
    this.counters.bytes[kind] += bytes
    this.counters.lines[kind]++
    if (fromTo !== null) {
      if (Number(fromTo[1]) !== this.version) this.counters.gaps++
      this.version = Number(fromTo[2])
      this.lastDeltaUpserts = 0
    } else {
      this.version = Number(version![1])
    }
    this.observer.bulk(this, line, atMs, kind)
  }
}
