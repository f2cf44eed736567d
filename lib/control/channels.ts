import type { ServerResponse } from 'node:http'
import type { Clock, Timer } from '../clock.js'
import type { Logger } from '../log.js'

/** One open update channel. */
export interface Channel { nodeId: string, res: ServerResponse }

/**
 * Open update channels and fan-out. `broadcast` writes one Buffer to every channel, so the work per change
 * is one write per daemon of the change's bytes. A channel that cannot keep up (unsent bytes above the
 * limit) is closed; its daemon reconnects and catches up from its version.
 */
export class Channels {
  private readonly all = new Set<Channel>()
  private readonly byNode = new Map<string, Set<Channel>>()
  private pingTimer: Timer | null = null

  constructor (
    private readonly opts: {
      /** Runs the keepalive. */
      clock: Clock
      log: Logger
      maxBufferBytes: number
      /** Called when a node's first channel opens or its last one closes. */
      onChange: (nodeId: string, open: number) => void
    }
  ) {}

  /** Open channels. */
  get size (): number { return this.all.size }

  /** Open channels of one node. */
  count (nodeId: string): number { return this.byNode.get(nodeId)?.size ?? 0 }

  /** Registers an already-started response; it leaves the set when the connection closes. */
  open (nodeId: string, res: ServerResponse): Channel {
    const ch: Channel = { nodeId, res }
    this.all.add(ch)
    let set = this.byNode.get(nodeId)
    if (set === undefined) { set = new Set(); this.byNode.set(nodeId, set) }
    set.add(ch)
    res.on('close', () => this.forget(ch))
    this.opts.onChange(nodeId, set.size)
    return ch
  }

  /** Writes `line` to every channel. */
  broadcast (line: Buffer): void {
    for (const ch of this.all) this.write(ch, line)
  }

  /** Writes `line` to one channel, closing it when its buffer is over the limit. */
  write (ch: Channel, line: Buffer): void {
    if (ch.res.destroyed) return
    if (ch.res.writableLength > this.opts.maxBufferBytes) {
      this.opts.log.warn({ event: 'channel.slow', nodeId: ch.nodeId, bufferedBytes: ch.res.writableLength }, 'closing a slow update channel')
      ch.res.destroy()
      return
    }
    ch.res.write(line)
  }

  /** Closes every channel of `nodeId` (node removed). */
  closeNode (nodeId: string): void {
    for (const ch of [...(this.byNode.get(nodeId) ?? [])]) ch.res.destroy()
  }

  /** Starts the keepalive: every `intervalMs`, `makeLine()` is written to every channel. */
  startPings (intervalMs: number, makeLine: () => Buffer): void {
    this.stopPings()
    this.pingTimer = this.opts.clock.setInterval(() => { if (this.all.size > 0) this.broadcast(makeLine()) }, intervalMs, { unref: true })
  }

  stopPings (): void {
    this.pingTimer?.cancel()
    this.pingTimer = null
  }

  /** Ends every channel (shutdown). */
  closeAll (): void {
    for (const ch of [...this.all]) ch.res.destroy()
  }

  private forget (ch: Channel): void {
    if (!this.all.delete(ch)) return
    const set = this.byNode.get(ch.nodeId)
    set?.delete(ch)
    const left = set?.size ?? 0
    if (left === 0) this.byNode.delete(ch.nodeId)
    this.opts.onChange(ch.nodeId, left)
  }
}
