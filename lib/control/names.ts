import { freeLabel, labelOf } from '../wire/names.js'

/**
 * Which DNS label each active or left node has, and which labels registrations in flight hold (docs/dns.md,
 * "Names"): the registry asks it for a free label and tells it every record it indexes or drops. A label held for
 * a write under way (a registration, a rename) is taken for everyone else until the write is indexed or given
 * back, so two writes at once never pick one label.
 */
export class NameBook {
  /** Labels of indexed nodes, to their ids. */
  private readonly byLabel = new Map<string, string>()
  /** Labels held for writes under way, to the public key of the node being written. */
  private readonly pending = new Map<string, string>()

  /** True when a node or a write under way has `label`. */
  taken (label: string): boolean {
    return this.byLabel.has(label) || this.pending.has(label)
  }

  /** The id of the node that has `label`, if any. */
  holder (label: string): string | undefined {
    return this.byLabel.get(label)
  }

  /** The first free label `hostname` gives (labelOf, freeLabel), not held. */
  free (hostname: string): string {
    return freeLabel(labelOf(hostname), l => this.taken(l))
  }

  /** Holds `label` for a write of the node with `publicKey`. */
  hold (label: string, publicKey: string): void {
    this.pending.set(label, publicKey)
  }

  /** Gives back a label held for `publicKey` whose write did not commit. */
  release (label: string, publicKey: string): void {
    if (this.pending.get(label) === publicKey) this.pending.delete(label)
  }

  /** Node `id` (key `publicKey`) is indexed with `label` (it had `prev`): the label is its, and no longer held. */
  index (id: string, publicKey: string, label: string | undefined, prev: string | undefined): void {
    if (prev !== undefined && prev !== label && this.byLabel.get(prev) === id) this.byLabel.delete(prev)
    if (label === undefined) return
    this.byLabel.set(label, id)
    this.release(label, publicKey)
  }

  /** Node `id` is dropped: the labels it had are free. */
  drop (id: string, labels: ReadonlyArray<string | undefined>): void {
    for (const l of labels) if (l !== undefined && this.byLabel.get(l) === id) this.byLabel.delete(l)
  }
}
