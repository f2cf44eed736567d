/**
 * What the processes said about themselves, counted from their pino JSON logs: the inside view, reported
 * beside the outside measurements (UAPI, pings) so the two can be compared.
 */
import { readFileSync } from 'node:fs'

/** Daemon events counted. */
export const DAEMON_EVENTS = [
  'swim.suspect', 'swim.dead', 'swim.alive', 'swim.refute', 'wg.peer.add', 'wg.peer.remove', 'wg.peer.update', 'wg.peer.error', 'control.connected',
  'control.lost', 'netmap.apply'
] as const
/** Controller events counted. */
export const CONTROLLER_EVENTS = ['node.register', 'health.change'] as const

/** Event counts summed over the daemons, and the controller's. */
export interface LogCounts { daemons: Record<string, number>, controller: Record<string, number>, unreadableLines: number }

function count (file: string, events: readonly string[], into: Record<string, number>): number {
  let text: string
  try { text = readFileSync(file, 'utf8') } catch { return 0 }
  let bad = 0
  for (const line of text.split('\n')) {
    if (line === '') continue
    const m = /"event":"([a-z.]+)"/.exec(line)
    if (m === null) { if (!line.startsWith('{')) bad++; continue }
    if (events.includes(m[1]!)) into[m[1]!] = (into[m[1]!] ?? 0) + 1
  }
  return bad
}

/** Counts the interesting events in every daemon log and the controller log. */
export function countLogEvents (daemonFiles: readonly string[], controllerFile: string): LogCounts {
  const daemons: Record<string, number> = Object.fromEntries(DAEMON_EVENTS.map(e => [e, 0]))
  const controller: Record<string, number> = Object.fromEntries(CONTROLLER_EVENTS.map(e => [e, 0]))
  let bad = 0
  for (const f of daemonFiles) bad += count(f, DAEMON_EVENTS, daemons)
  bad += count(controllerFile, CONTROLLER_EVENTS, controller)
  return { daemons, controller, unreadableLines: bad }
}
