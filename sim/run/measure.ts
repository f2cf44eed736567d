/** A measured event: something happened to `target` and every live observer should react to it. */

/** What happened. `join`: the daemon started; `crash`/`vanish`/`leave`/`partition`: it should be removed; `restart`/`return`/`heal`: re-added. */
export type MeasureKind = 'join' | 'crash' | 'vanish' | 'leave' | 'partition' | 'restart' | 'return' | 'heal' | 'rejoin'

/** One event to time: from `fromMs`, until each observer removed (or added) the target's key. */
export interface Measure {
  kind: MeasureKind
  target: number
  /** The target's public key when known at the time (a node re-joining with a new identity changes it). */
  key?: string
  fromMs: number
  expect: 'removed' | 'added'
  observers: number[]
  /** Per-observer start when it differs from fromMs (join: the later of the two daemons' starts). */
  fromByObserver?: Record<number, number>
}

/** Whether the event is a fault (removal expected) rather than a return. */
export function isRemoval (kind: MeasureKind): boolean {
  return kind === 'crash' || kind === 'vanish' || kind === 'leave' || kind === 'partition'
}
