/**
 * The daemon's lifecycle as one value. Every change of phase goes through transition(); what the daemon does in
 * each phase is decided in core.ts.
 */

/**
 * Where the daemon is in its life:
 * - `starting`: opening its sockets. A netmap (the saved one) is kept but not applied yet.
 * - `syncing`: running, and reconciling WireGuard toward the netmap; SWIM has no members yet and the underlay
 *   announcer answers nobody (docs/daemon-swim.md, "Driving the core").
 * - `running`: a reconcile has configured the tunnels; SWIM has its members, the announcer is open.
 * - `revoked`: the controller refused our credential (403). The desired peer set is empty; SWIM, the local socket
 *   and the metrics keep running until the daemon is stopped.
 * - `stopping`: releasing sockets and timers; no reconcile starts.
 * - `stopped`: done; `Daemon.stopped()` has resolved.
 */
export type DaemonPhase = 'starting' | 'syncing' | 'running' | 'revoked' | 'stopping' | 'stopped'

/**
 * What moves the phase: `started` (every socket is open), `reconciled` (a reconcile finished, whatever it
 * managed), `revoked` (the controller refused our credential), `stop` (SIGTERM, leave, a restart on a new
 * identity, or a failed start), `released` (everything is closed).
 */
export type PhaseEvent = 'started' | 'reconciled' | 'revoked' | 'stop' | 'released'

/**
 * The phase after `event`. An event that means nothing in a phase leaves it unchanged: a reconcile that ends
 * while the daemon stops, a refusal that arrives after a stop.
 */
export function transition (phase: DaemonPhase, event: PhaseEvent): DaemonPhase {
  switch (phase) {
    case 'starting':
      return event === 'started' ? 'syncing' : event === 'stop' ? 'stopping' : phase
    case 'syncing':
      return event === 'reconciled' ? 'running' : event === 'revoked' ? 'revoked' : event === 'stop' ? 'stopping' : phase
    case 'running':
      return event === 'revoked' ? 'revoked' : event === 'stop' ? 'stopping' : phase
    case 'revoked':
      return event === 'stop' ? 'stopping' : phase
    case 'stopping':
      return event === 'released' ? 'stopped' : phase
    case 'stopped':
      return phase
    default:
      return unreachable(phase)
  }
}

/** Whether the device follows the desired peer set in `phase` (an empty one once revoked). */
export function reconciles (phase: DaemonPhase): boolean {
  return phase === 'syncing' || phase === 'running' || phase === 'revoked'
}

/** Whether the daemon is on its way out or gone: nothing new starts. */
export function ending (phase: DaemonPhase): boolean {
  return phase === 'stopping' || phase === 'stopped'
}

function unreachable (x: never): never {
  throw new Error(`unknown daemon phase ${String(x)}`)
}
