/**
 * One DNS-over-TCP client connection (RFC 7766): length-framed messages in, each answered as soon as its answer
 * is ready (pipelined queries may be answered out of order), closed when idle, on a message that does not
 * decode, or once the client has finished sending and every answer is out.
 */
import type { Socket } from 'node:net'
import type { Clock, Timer } from '../clock.js'
import { FrameReader, frame } from './message.js'

/** What a session needs from the server. */
export interface TcpSessionOptions {
  socket: Socket
  clock: Clock
  /** Close after this long, in ms, with no whole message received, no answer sent and none pending. */
  idleMs: number
  /** Queries of this connection answered at once; past it the socket stops being read until one is done. */
  maxPipeline: number
  /** The answer to one message; null closes the connection (the message did not decode). Never rejects. */
  respond: (message: Buffer) => Promise<Buffer | null>
  /** Called once, when the connection is gone. */
  onClose: () => void
}

/** A client connection being served (module comment). */
export class TcpSession {
  private readonly reader = new FrameReader()
  /** Whole messages received and not yet started; non-empty only while the pipeline is full. */
  private queue: Buffer[] = []
  private pending = 0
  private ended = false
  private closed = false
  private lastActive: number
  private timer: Timer | null = null

  constructor (private readonly o: TcpSessionOptions) {
    this.lastActive = o.clock.monotonic()
    o.socket.on('data', chunk => this.onData(chunk))
    o.socket.on('end', () => { this.ended = true; this.finishIfDone() })
    o.socket.on('error', () => this.close())
    o.socket.on('close', () => this.close())
    this.arm(o.idleMs)
  }

  /** Drops the connection now; answers still pending are discarded. */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.timer?.cancel()
    this.o.socket.destroy()
    this.o.onClose()
  }

  private onData (chunk: Buffer): void {
    const messages = this.reader.push(chunk)
    if (messages.length === 0) return
    this.lastActive = this.o.clock.monotonic()
    this.queue.push(...messages)
    this.pump()
  }

  /** Starts queued messages while the pipeline has room; reads stop while anything waits. */
  private pump (): void {
    while (this.queue.length > 0 && this.pending < this.o.maxPipeline && !this.closed) {
      this.pending++
      void this.o.respond(this.queue.shift()!).then(reply => this.onReply(reply))
    }
    if (this.closed) return
    if (this.queue.length > 0) this.o.socket.pause()
    else if (this.o.socket.isPaused()) this.o.socket.resume()
  }

  private onReply (reply: Buffer | null): void {
    this.pending--
    if (this.closed) return
    if (reply === null) { this.close(); return }
    this.o.socket.write(frame(reply))
    this.lastActive = this.o.clock.monotonic()
    this.pump()
    this.finishIfDone()
  }

  /** After the client's FIN, ends our side once the last answer is written. */
  private finishIfDone (): void {
    if (!this.ended || this.pending > 0 || this.queue.length > 0 || this.closed) return
    this.closed = true
    this.timer?.cancel()
    this.o.socket.end()
    this.o.onClose()
  }

  /**
   * One timer per connection, not one per message: when it fires it closes the connection if it has been idle
   * for idleMs, else waits out the rest of that time.
   */
  private arm (ms: number): void {
    this.timer = this.o.clock.setTimeout(() => {
      const idle = this.o.clock.monotonic() - this.lastActive
      if (this.pending === 0 && idle >= this.o.idleMs) this.close()
      else this.arm(this.pending > 0 ? this.o.idleMs : this.o.idleMs - idle)
    }, ms)
  }
}
