/**
 * Traffic probes for route failover: one `ping -D -i 0.1` per client to a host behind a router or exit node,
 * parsed as it runs, and what a kill did to them (time until each client's probes are answered again, probes
 * lost). Used by the router-failover and exit-failover scenarios.
 */
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { Mesh } from '../cluster.js'

/** How often each client probes, in ms (`ping -i 0.1`). */
export const PROBE_INTERVAL_MS = 100

/** One client's probe: its ping, and when each answered probe was sent (reply time less round trip, ms since epoch). */
export interface Probe { child: ChildProcess, replies: Array<{ sentAt: number, seq: number }> }

/** Starts node `i` probing `target` from its namespace; the world records the pid, so teardown ends it. */
export function startProbe (mesh: Mesh, i: number, target: string): Probe {
  const child = mesh.world.spawn(mesh.ns(i), ['ping', '-D', '-n', '-i', String(PROBE_INTERVAL_MS / 1000), '-W', '1', target],
    { stdio: ['ignore', 'pipe', 'ignore'], name: `probe${i}` })
  const p: Probe = { child, replies: [] }
  createInterface({ input: child.stdout! }).on('line', line => {
    const m = /^\[(\d+\.\d+)\] \d+ bytes from [\d.]+: icmp_seq=(\d+) ttl=\d+ time=([\d.]+) ms/.exec(line)
    if (m !== null) p.replies.push({ sentAt: Math.round(Number(m[1]) * 1000 - Number(m[3])), seq: Number(m[2]) })
  })
  return p
}

/**
 * What one kill at `t` (ms since epoch) did to each probe, in order: ms from the kill to the sending of its first
 * answered probe after it, and the probes sent between its last answered one before and that one; null for a
 * client never answered after the kill.
 */
export function outage (probes: Iterable<Probe>, t: number): Array<{ restoreMs: number, lost: number } | null> {
  return [...probes].map(p => {
    const before = p.replies.filter(r => r.sentAt < t).pop()
    const after = p.replies.find(r => r.sentAt > t)
    return after === undefined ? null : { restoreMs: after.sentAt - t, lost: before === undefined ? 0 : after.seq - before.seq - 1 }
  })
}
