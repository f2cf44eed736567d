/**
 * What the campaign was told and what the controller later holds. An acknowledged registration (a 200 with
 * a node id and mesh IP) is lost when a later node list lacks that key, moved when the key is there with
 * another id or IP, and its IP re-issued when another key holds it now (the node it was given to still
 * uses it); an IP is duplicated when two listed nodes hold it.
 */

/** One node as `GET /v1/nodes` lists it. */
export interface ListedNode { publicKey: string, id: string, meshIp: string }

/** The outcome of one check. */
export interface LedgerCheck { acknowledged: number, lost: number, moved: number, reissued: number, duplicateIps: number }

/** Acknowledged registrations of one data directory, across every kill and restart. */
export class Ledger {
  private readonly acked = new Map<string, { nodeId: string, meshIp: string }>()

  /** Records a 200 answer. */
  ack (publicKey: string, nodeId: string, meshIp: string): void {
    this.acked.set(publicKey, { nodeId, meshIp })
  }

  get size (): number { return this.acked.size }

  /** Compares every acknowledgement so far with `nodes`. */
  check (nodes: ListedNode[]): LedgerCheck {
    const byKey = new Map(nodes.map(n => [n.publicKey, n]))
    const byIp = new Map(nodes.map(n => [n.meshIp, n.publicKey]))
    let lost = 0
    let moved = 0
    let reissued = 0
    for (const [key, a] of this.acked) {
      const n = byKey.get(key)
      if (n === undefined) lost++
      else if (n.id !== a.nodeId || n.meshIp !== a.meshIp) moved++
      const holder = byIp.get(a.meshIp)
      if (holder !== undefined && holder !== key) reissued++
    }
    const holders = new Map<string, number>()
    for (const n of nodes) holders.set(n.meshIp, (holders.get(n.meshIp) ?? 0) + 1)
    let duplicateIps = 0
    for (const count of holders.values()) if (count > 1) duplicateIps++
    return { acknowledged: this.acked.size, lost, moved, reissued, duplicateIps }
  }
}
