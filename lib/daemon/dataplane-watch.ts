import { createSocket, type Socket } from 'node:dgram'
import type { DevicePeer } from './wg/device.js'

/**
 * Whether a suspected member's WireGuard data plane still answers, as evidence for SWIM.
 *
 * A daemon that crashed or is restarting leaves its wireguard-go running: the tunnel works, only the SWIM
 * agent is silent. SWIM alone cannot tell that from a dead host and would remove a working tunnel. So, while
 * a member is suspect, the daemon sends a datagram through the tunnel to a port nobody listens on (discard,
 * 9); a live host answers with ICMP port-unreachable through the same tunnel, which shows up as growth of the
 * peer's rx counter. Growth inside the window makes the member's hint `fresh` (hold the suspicion at its
 * maximum, giving a restarting daemon time to refute); no growth leaves detection at full speed. A dead or
 * cut-off host never answers, so it is not slowed down.
 */
export class DataPlaneWatch {
  private readonly lastRx = new Map<string, { rx: number, changedAt: number | null }>()
  private socket: Socket | null = null

  /**
   * @param windowMs rx growth younger than this counts as fresh. Default: 1500 ms — several poll periods, and
   *   above Linux's ICMP rate limit (about one unreachable per second per destination after a short burst).
   */
  constructor (private readonly windowMs = 1500) {}

  /** Binds the probe socket to `host` (the mesh IP), so probes leave through the WireGuard interface. */
  async start (host: string): Promise<void> {
    const s = createSocket('udp4')
    s.on('error', () => {})
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.bind(0, host, () => { s.off('error', reject); resolve() })
    })
    this.socket = s
  }

  stop (): void {
    this.socket?.close()
    this.socket = null
  }

  /** Records the device's rx counters at `now`. */
  observe (now: number, peers: readonly DevicePeer[]): void {
    for (const p of peers) {
      const prev = this.lastRx.get(p.publicKey)
      if (prev === undefined) this.lastRx.set(p.publicKey, { rx: p.rxBytes, changedAt: null })
      else if (p.rxBytes !== prev.rx) this.lastRx.set(p.publicKey, { rx: p.rxBytes, changedAt: now })
    }
  }

  /** True when the peer's rx grew within the window before `now`. */
  fresh (publicKey: string, now: number): boolean {
    const s = this.lastRx.get(publicKey)
    return s !== undefined && s.changedAt !== null && now - s.changedAt <= this.windowMs
  }

  /** Sends one probe datagram to `meshIp`'s discard port; the answer (ICMP) is seen as rx growth. */
  provoke (meshIp: string): void {
    this.socket?.send(Buffer.from('weft-dataplane-probe'), 9, meshIp, () => {})
  }

  /** Forgets peers that are no longer on the device. */
  retain (publicKeys: ReadonlySet<string>): void {
    for (const k of this.lastRx.keys()) if (!publicKeys.has(k)) this.lastRx.delete(k)
  }
}
