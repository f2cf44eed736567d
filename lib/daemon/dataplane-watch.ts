import { createSocket, type Socket } from 'node:dgram'

/** The port probes go to: discard, which nobody listens on, so a live host answers ICMP port-unreachable. */
export const PROBE_PORT = 9

const PROBE = Buffer.from('weft-dataplane-probe')

/** One watched member: a UDP socket connected to its discard port, and whether it answered yet. */
interface Probe {
  socket: Socket
  connected: boolean
  answered: boolean
}

/**
 * Whether a suspected member's WireGuard data plane still answers, as evidence for SWIM.
 *
 * A daemon that crashed or is restarting leaves its wireguard-go running: the tunnel works, only the SWIM
 * agent is silent. SWIM alone cannot tell that from a dead host and would remove a working tunnel. So, while
 * a member is suspect, the daemon sends a datagram through the tunnel to its discard port (9) from a UDP
 * socket connected to that address. A live host answers with ICMP port-unreachable through the same tunnel;
 * the kernel hands it to the connected socket as ECONNREFUSED, which is the answer. WireGuard checks the
 * inner source address against the peer's /32, so only the member itself can answer. A dead or cut-off host
 * never answers, so its detection is not slowed.
 *
 * Nothing here reads the WireGuard device: a probe and its answer cost two datagrams, however many peers the
 * device holds (reading a 200-peer device costs about 2 ms of CPU in each of daemon and wireguard-go, and a
 * mesh under suspicion storms would read every second on every node).
 */
export class DataPlaneWatch {
  private readonly probes = new Map<string, Probe>()
  private host: string | null = null

  /**
   * @param onAnswer called when a member answers, so the caller can act on the evidence at once.
   */
  constructor (private readonly onAnswer: (meshIp: string) => void = () => {}) {}

  /** Probes leave from `host` (the mesh IP), so they travel through the WireGuard interface. */
  start (host: string): void {
    this.host = host
  }

  /** Closes every probe socket; later provokes do nothing. */
  stop (): void {
    this.host = null
    for (const meshIp of [...this.probes.keys()]) this.close(meshIp)
  }

  /** Sends one probe to `meshIp`'s discard port, opening its socket first if needed; none once it answered. */
  provoke (meshIp: string): void {
    if (this.host === null) return
    const p = this.probes.get(meshIp)
    if (p === undefined) { this.open(this.host, meshIp); return }
    if (p.connected && !p.answered) p.socket.send(PROBE, () => {})
  }

  /**
   * True when `meshIp` answered a probe since it is watched (since the suspicion began: the caller stops
   * watching members no longer suspect). Not "recently": Linux sends about one port-unreachable a second per
   * destination, and the same allowance is spent on the errors that SWIM's own packets to the silent daemon
   * draw, so answers to these probes come irregularly, at times seconds apart.
   */
  fresh (meshIp: string): boolean {
    return this.probes.get(meshIp)?.answered === true
  }

  /** Stops watching members not in `meshIps` (no longer suspect): their sockets are closed. */
  retain (meshIps: ReadonlySet<string>): void {
    for (const meshIp of [...this.probes.keys()]) if (!meshIps.has(meshIp)) this.close(meshIp)
  }

  /** Members being watched. */
  get watching (): number { return this.probes.size }

  private open (host: string, meshIp: string): void {
    const socket = createSocket('udp4')
    const p: Probe = { socket, connected: false, answered: false }
    this.probes.set(meshIp, p)
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') {
        p.answered = true
        this.onAnswer(meshIp)
        return
      }
      // No route yet, no tunnel (EHOSTUNREACH from a removed peer), or the mesh IP is not on the interface:
      // not an answer. A socket that failed to bind or connect is dropped; the next provoke opens a new one.
      if (!p.connected && this.probes.get(meshIp) === p) this.close(meshIp)
    })
    socket.bind(0, host, () => {
      if (this.probes.get(meshIp) !== p) return
      socket.connect(PROBE_PORT, meshIp, () => {
        if (this.probes.get(meshIp) !== p) return
        p.connected = true
        socket.send(PROBE, () => {})
      })
    })
  }

  private close (meshIp: string): void {
    const p = this.probes.get(meshIp)
    if (p === undefined) return
    this.probes.delete(meshIp)
    try { p.socket.close() } catch { /* already closed */ }
  }
}
