/**
 * Reachability with real traffic over mesh IPs: ICMP echo from inside one node's namespace to other nodes'
 * mesh IPs. One `fping` per source pings all its targets, so a pass over all pairs costs N processes. (A
 * shell loop of `ping`s cost two processes per pair: at N=200, 80,000 forks whose load made SWIM acks late
 * enough to raise suspicions in the mesh being measured.)
 */
import type { NetnsWorld } from '../netns/world.js'
import { isIP } from 'node:net'

/** One reachability sample: `ok` of `total` pairs answered, measured starting at `tMs`. */
export interface ReachSample { tMs: number, ok: number, total: number }

// One echo with a 1 s wait; a miss gets two more tries (fping backs off 1.5x: 1.5 s, 2.25 s), so a single
// lost packet (the loss scenario, or the first packet of a fresh handshake) does not count as unreachable.
// -a prints the targets that answered; 1 ms between sends. fping exits 1 when some did not answer.
const SCRIPT = 'fping -a -r 2 -t 1000 -i 1 "$@" 2>/dev/null; exit 0'

/** Pings every address in `ips` from namespace `ns`; resolves with the set that answered. */
export async function pingFrom (world: NetnsWorld, ns: string, ips: readonly string[]): Promise<Set<string>> {
  if (ips.length === 0) return new Set()
  for (const ip of ips) if (isIP(ip) !== 4) throw new Error(`not an IPv4 address: ${ip}`)
  try {
    const r = await world.exec(ns, ['sh', '-c', SCRIPT, 'sh', ...ips], { timeoutMs: 20_000 })
    return new Set(r.stdout.split('\n').map(l => l.trim()).filter(l => l !== ''))
  } catch {
    return new Set()
  }
}

/** Pairs [source, target] checked together; resolves with those that failed. `concurrency` sources at a time. */
export async function checkPairs (world: NetnsWorld, nsOf: (i: number) => string, ipOf: (i: number) => string | undefined,
  pairs: ReadonlyArray<[number, number]>, concurrency: number): Promise<Array<[number, number]>> {
  const bySource = new Map<number, number[]>()
  for (const [a, b] of pairs) {
    let l = bySource.get(a)
    if (l === undefined) bySource.set(a, l = [])
    l.push(b)
  }
  const failed: Array<[number, number]> = []
  const sources = [...bySource.keys()]
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < sources.length) {
      const a = sources[next++]!
      const targets = bySource.get(a)!
      const ips = targets.map(b => ipOf(b))
      const ok = await pingFrom(world, nsOf(a), ips.filter((ip): ip is string => ip !== undefined))
      targets.forEach((b, k) => { if (ips[k] === undefined || !ok.has(ips[k]!)) failed.push([a, b]) })
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker))
  return failed
}
