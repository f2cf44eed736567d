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

/** p50 / p99 / max of a list (nearest rank); null for an empty list. */
export interface Trio { p50: number | null, p99: number | null, max: number | null }

export function trio (xs: readonly number[]): Trio {
  if (xs.length === 0) return { p50: null, p99: null, max: null }
  const s = [...xs].sort((a, b) => a - b)
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1]! }
}

/** What one kill did to the probes. */
export interface Outage {
  /** Per client, ms from the kill to the sending of its first probe after it that was answered. */
  restoreMs: number[]
  /** Per client, probes sent between its last answered one before the kill and its first after. */
  lost: number[]
  /** Clients never answered after the kill. */
  missing: number
  /** Per client, in probe order: its restore time and probes lost (null: never answered). */
  perClient: Array<{ restoreMs: number, lost: number } | null>
}

/** The outage the probes saw from `t` (ms since epoch). */
export function outage (probes: Iterable<Probe>, t: number): Outage {
  const out: Outage = { restoreMs: [], lost: [], missing: 0, perClient: [] }
  for (const p of probes) {
    const before = p.replies.filter(r => r.sentAt < t).pop()
    const after = p.replies.find(r => r.sentAt > t)
    if (after === undefined) { out.missing++; out.perClient.push(null); continue }
    const c = { restoreMs: after.sentAt - t, lost: before === undefined ? 0 : after.seq - before.seq - 1 }
    out.restoreMs.push(c.restoreMs)
    out.lost.push(c.lost)
    out.perClient.push(c)
  }
  return out
}
