import { connect, type Socket } from 'node:net'
import type { Clock } from '../clock.js'

/** The TCP port probes go to: discard, which almost nobody serves, so a live host's kernel answers with a RST. */
export const PROBE_PORT = 9

/**
 * A fresh connection attempt replaces one that is still unanswered after this long. The kernel's own SYN retry
 * comes after 1 s too, and an attempt is not cut short sooner because a starved host's wireguard-go may take
 * hundreds of ms to pass the answer.
 */
const RETRY_AFTER_MS = 1000

/** One watched member: the connection attempt in flight (and when it began), and whether it answered yet. */
interface Probe {
  attempt: Socket | null
  startedAt: number
  answered: boolean
}

/**
 * Whether a suspected member's WireGuard data plane still answers, as evidence for SWIM.
 *
 * A daemon that crashed or is restarting leaves its wireguard-go running: the tunnel works, only the SWIM
 * agent is silent. SWIM alone cannot tell that from a dead host and would remove a working tunnel. So, while
 * a member is suspect, the daemon opens a TCP connection through the tunnel to its discard port (9). A live
 * host's kernel answers the SYN with a RST (nothing listens there; the attempt fails with ECONNREFUSED), or
 * accepts it (something does): either is the answer. WireGuard checks the inner source address against the
 * peer's /32, so only the member itself can answer, and a RST counts only if it acknowledges our SYN's
 * sequence number. A dead or cut-off host never answers, so its detection is not slowed.
 *
 * TCP rather than a UDP datagram and its ICMP port-unreachable: Linux sends about one port-unreachable a
 * second per destination, and SWIM's own packets to the silent daemon's port spend the same allowance, so
 * the answer to a UDP probe could take seconds and a member was removed 2.3 s into its suspicion (two CI runs
 * of test/e2e/swim.test.ts). RSTs to closed ports are not rate-limited that way.
 *
 * Nothing here reads the WireGuard device: a probe and its answer cost two packets, however many peers the
 * device holds (reading a 200-peer device costs about 2 ms of CPU in each of daemon and wireguard-go, and a
 * mesh under suspicion storms would read every second on every node).
 */
export class DataPlaneWatch {
  private readonly probes = new Map<string, Probe>()
  private host: string | null = null

  /**
   * @param clock paces the retries on its monotonic time.
   * @param onAnswer called when a member answers, so the caller can act on the evidence at once.
   */
  constructor (private readonly clock: Clock, private readonly onAnswer: (meshIp: string) => void = () => {}) {}

  /** Probes leave from `host` (the mesh IP), so they travel through the WireGuard interface. */
  start (host: string): void {
    this.host = host
  }

  /** Ends every attempt; later provokes do nothing. */
  stop (): void {
    this.host = null
    for (const meshIp of [...this.probes.keys()]) this.close(meshIp)
  }

  /**
   * Probes `meshIp` unless it answered already or an attempt younger than RETRY_AFTER_MS is in flight; an
   * older unanswered attempt is replaced.
   */
  provoke (meshIp: string): void {
    if (this.host === null) return
    const p = this.probes.get(meshIp)
    if (p?.answered === true) return
    const now = this.clock.monotonic()
    if (p !== undefined && p.attempt !== null && now - p.startedAt < RETRY_AFTER_MS) return
    p?.attempt?.destroy()
    this.open(this.host, meshIp, p ?? { attempt: null, startedAt: now, answered: false }, now)
  }

  /** True when `meshIp` answered since it is watched (since the suspicion began: the caller stops watching members no longer suspect). */
  fresh (meshIp: string): boolean {
    return this.probes.get(meshIp)?.answered === true
  }

  /** Stops watching members not in `meshIps` (no longer suspect). */
  retain (meshIps: ReadonlySet<string>): void {
    for (const meshIp of [...this.probes.keys()]) if (!meshIps.has(meshIp)) this.close(meshIp)
  }

  /** Members being watched. */
  get watching (): number { return this.probes.size }

  private open (host: string, meshIp: string, p: Probe, now: number): void {
    this.probes.set(meshIp, p)
    const attempt = connect({ host: meshIp, port: PROBE_PORT, localAddress: host })
    p.attempt = attempt
    p.startedAt = now
    const settle = (answered: boolean): void => {
      attempt.destroy()
      if (p.attempt === attempt) p.attempt = null
      if (this.probes.get(meshIp) !== p || p.answered) return
      if (answered) {
        p.answered = true
        this.onAnswer(meshIp)
        return
      }
      // No route (a removed peer: EHOSTUNREACH), no tunnel, a source address not ours, or a timeout: not an
      // answer. The member is dropped; the next provoke starts afresh.
      this.probes.delete(meshIp)
    }
    attempt.once('connect', () => settle(true))
    attempt.on('error', (err: NodeJS.ErrnoException) => settle(err.code === 'ECONNREFUSED'))
  }

  private close (meshIp: string): void {
    const p = this.probes.get(meshIp)
    if (p === undefined) return
    this.probes.delete(meshIp)
    p.attempt?.destroy()
    p.attempt = null
  }
}
