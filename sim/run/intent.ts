/**
 * What the scenario did to the world, over time: when each daemon started, when nodes were crashed, vanished
 * or left, which partitions and loss were in force, when the controller was down. It is the ground truth the
 * outside measurements are judged against: which peers each node *should* have at a given time.
 */

/** Why a node is down for an interval. `stopped` = daemon not started yet. */
export type DownKind = 'crash' | 'vanish' | 'left'

/** A node down from `fromMs` to `toMs` (null = still down). Run times in ms. */
export interface DownInterval { node: number, kind: DownKind, fromMs: number, toMs: number | null }

/** Two sides cut apart from `fromMs` to `toMs`. */
export interface PartitionInterval { sides: [number[], number[]], fromMs: number, toMs: number | null }

/** `percent`% random loss on `nodes` from `fromMs` to `toMs`. */
export interface LossInterval { nodes: number[], percent: number, fromMs: number, toMs: number | null }

/** The controller stopped from `fromMs` to `toMs`. */
export interface OutageInterval { fromMs: number, toMs: number | null }

/** The run's ground truth, appended to as the scenario acts. */
export class Intent {
  /** First daemon start per node. */
  readonly startedAt = new Map<number, number>()
  readonly down: DownInterval[] = []
  readonly partitions: PartitionInterval[] = []
  readonly losses: LossInterval[] = []
  readonly outages: OutageInterval[] = []
  /** Public keys a node no longer uses (it left and came back as a new identity): their removal is expected. */
  readonly retiredKeys = new Set<string>()

  constructor (readonly nodes: number) {}

  /** Marks node i's daemon started at tMs (only the first start counts). */
  started (i: number, tMs: number): void {
    if (!this.startedAt.has(i)) this.startedAt.set(i, tMs)
  }

  /** Opens a down interval for node i. */
  goDown (i: number, kind: DownKind, tMs: number): void {
    this.down.push({ node: i, kind, fromMs: tMs, toMs: null })
  }

  /** Closes node i's open down interval; returns its kind (null when it was not down). */
  comeBack (i: number, tMs: number): DownKind | null {
    const open = this.down.find(d => d.node === i && d.toMs === null)
    if (open === undefined) return null
    open.toMs = tMs
    return open.kind
  }

  /** Whether node i should be a working member at tMs: started and not in a down interval. */
  isUp (i: number, tMs: number): boolean {
    const s = this.startedAt.get(i)
    if (s === undefined || s > tMs) return false
    return !this.down.some(d => d.node === i && d.fromMs <= tMs && (d.toMs === null || d.toMs > tMs))
  }

  /** Node i is down now (open interval). */
  isDownNow (i: number): boolean {
    return this.down.some(d => d.node === i && d.toMs === null)
  }

  /** Whether node i was down (or not started) at any time in [aMs, bMs]. */
  downDuring (i: number, aMs: number, bMs: number): boolean {
    const s = this.startedAt.get(i)
    if (s === undefined || s > aMs) return true
    return this.down.some(d => d.node === i && d.fromMs <= bMs && (d.toMs === null || d.toMs >= aMs))
  }

  /** Whether a partition separated a and b at any time in [aMs, bMs]. */
  splitDuring (a: number, b: number, aMs: number, bMs: number): boolean {
    return this.partitions.some(p => p.fromMs <= bMs && (p.toMs === null || p.toMs >= aMs) && across(p, a, b))
  }

  /** Whether a and b are on opposite sides of a partition in force at tMs. */
  splitAt (a: number, b: number, tMs: number): boolean {
    return this.partitions.some(p => p.fromMs <= tMs && (p.toMs === null || p.toMs > tMs) && across(p, a, b))
  }

  /** The nodes node i should have as WireGuard peers at tMs (up, and not cut off from it). */
  intendedPeers (i: number, tMs: number): number[] {
    const out: number[] = []
    for (let j = 0; j < this.nodes; j++) if (j !== i && this.isUp(j, tMs) && !this.splitAt(i, j, tMs)) out.push(j)
    return out
  }

  /** Nodes up at tMs. */
  upAt (tMs: number): number[] {
    return Array.from({ length: this.nodes }, (_, i) => i).filter(i => this.isUp(i, tMs))
  }
}

function across (p: PartitionInterval, a: number, b: number): boolean {
  return (p.sides[0].includes(a) && p.sides[1].includes(b)) || (p.sides[1].includes(a) && p.sides[0].includes(b))
}
