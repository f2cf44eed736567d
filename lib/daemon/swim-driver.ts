import { createSocket, type Socket } from 'node:dgram'
import { lookup as dnsLookup } from 'node:dns'
import { isIPv4 } from 'node:net'
import type { Clock, Timer } from '../clock.js'
import type { Logger } from '../log.js'
import type { SwimEvent, Transmit } from '../swim/types.js'

/** The parts of the sans-IO SWIM core the driver pumps. */
export interface SwimCore {
  handlePacket (now: number, from: string, bytes: Uint8Array): void
  handleTimeout (now: number): void
  pollTransmit (): Transmit | undefined
  pollTimeout (): number | undefined
  pollEvent (): SwimEvent | undefined
}

/** Counters of the UDP shell (the core counts protocol-level drops itself). */
export interface SwimDriverCounters { sendErrors: number }

/**
 * SWIM only ever sends to mesh IP literals. Node resolves every unconnected send's address through
 * dns.lookup, which for a literal still costs a deferred callback per packet (3% of an idle daemon's CPU at
 * 5 probes a second); a literal is answered on the spot.
 */
function literalLookup (host: string, opts: unknown, cb: (err: Error | null, address: string, family: number) => void): void {
  if (isIPv4(host)) { cb(null, host, 4); return }
  dnsLookup(host, opts as never, cb as never)
}

/**
 * The I/O shell around the sans-IO SWIM core: one UDP socket bound to the node's mesh IP (so every SWIM
 * packet travels inside WireGuard, which authenticates its source address), one timer set to the core's
 * earliest deadline, and a pump that drains transmits and events after every input.
 */
export class SwimDriver {
  readonly counters: SwimDriverCounters = { sendErrors: 0 }
  private socket: Socket | null = null
  private timer: Timer | null = null
  private timerAt = Infinity
  private stopped = false

  constructor (private readonly o: {
    core: SwimCore
    /** Address to bind: the mesh IP. */
    host: string
    port: number
    clock: Clock
    log: Logger
    onEvent: (ev: SwimEvent) => void
  }) {}

  /** Binds the socket and starts the timer. */
  async start (): Promise<void> {
    const s = createSocket({ type: 'udp4', lookup: literalLookup as never })
    s.on('message', (msg, rinfo) => {
      this.o.core.handlePacket(this.o.clock.now(), `${rinfo.address}:${rinfo.port}`, msg)
      this.pump()
    })
    s.on('error', err => this.o.log.warn({ event: 'swim.socket.error', reason: err.message }, 'SWIM socket error'))
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.bind(this.o.port, this.o.host, () => { s.off('error', reject); resolve() })
    })
    this.socket = s
    this.pump()
  }

  /** Stops the timer and closes the socket. Pending transmits are flushed first; nothing runs after. */
  stop (): void {
    this.pump()
    this.stopped = true
    this.disarm()
    this.socket?.close()
    this.socket = null
  }

  /**
   * Drains every output of the core; call after any direct call into the core (setMembers, leave...). Does
   * nothing once stopped: a late caller must not set the core's timer going again.
   */
  pump (): void {
    if (this.stopped) return
    const core = this.o.core
    for (let tx = core.pollTransmit(); tx !== undefined; tx = core.pollTransmit()) this.send(tx)
    for (let ev = core.pollEvent(); ev !== undefined; ev = core.pollEvent()) this.o.onEvent(ev)
    this.arm()
  }

  private send (tx: Transmit): void {
    if (this.socket === null) return
    const i = tx.to.lastIndexOf(':')
    this.socket.send(tx.bytes, Number(tx.to.slice(i + 1)), tx.to.slice(0, i), err => {
      // A peer whose tunnel was removed gives ENOKEY/EHOSTUNREACH-like errors: expected, counted, not logged each time.
      if (err !== null && err !== undefined) this.counters.sendErrors++
    })
  }

  private arm (): void {
    const at = this.o.core.pollTimeout()
    if (at === undefined) { this.disarm(); return }
    if (at === this.timerAt) return
    this.timer?.cancel()
    this.timerAt = at
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null
      this.timerAt = Infinity
      // Node runs due timers before it reads sockets. After a stall (a busy host) an ack can be waiting in the
      // socket while its deadline is already due; handled here, the probe would fail against an ack we hold.
      // setImmediate runs after this loop turn's socket reads, so whatever arrived is counted first.
      setImmediate(() => {
        if (this.stopped) return // stopped between the timer and now (a SIGTERM handled in between)
        this.o.core.handleTimeout(this.o.clock.now())
        this.pump()
      })
    }, Math.max(0, at - this.o.clock.now()))
  }

  private disarm (): void {
    this.timer?.cancel()
    this.timer = null
    this.timerAt = Infinity
  }
}
