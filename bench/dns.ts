/**
 * What the daemon's DNS resolver costs (lib/dns): for a netmap of N named nodes, the time buildZone takes (from
 * scratch, and again with the previous zone, as on every netmap change), the heap and RSS the zone holds, the
 * cost of one answer() call, and UDP query latency and throughput against a DnsServer on 127.0.0.1 at
 * concurrency 1 and 64, for names that exist, names that do not (NXDOMAIN) and reverse lookups (PTR).
 * Prints medians (and p99/max for latency); never passes or fails.
 *
 *   node dist/bench/dns.js [--names 10000] [--queries 20000] [--runs 9]
 *
 * Client and server share one process and one core's event loop, so the end-to-end figures are a floor on
 * what a client on another host sees, not a ceiling.
 */
import { createSocket } from 'node:dgram'
import v8 from 'node:v8'
import vm from 'node:vm'
import dnsPacket, { type DecodedPacket } from 'dns-packet'
import { parseFlags } from '../cmd/cli.js'
import { systemClock } from '../lib/clock.js'
import { answer } from '../lib/dns/answer.js'
import { DnsServer } from '../lib/dns/server.js'
import { buildZone, reverseNameOf, type Zone } from '../lib/dns/zone.js'
import { silentLogger } from '../lib/log.js'
import { SeededRandom } from '../lib/swim/random.js'
import { formatIPv4 } from '../lib/wire/addr.js'
import type { Netmap, NodeRecord } from '../lib/wire/netmap.js'
import { namedNode } from '../test/dns/helpers.js'

const usage = 'usage: node dist/bench/dns.js [--names 10000] [--queries 20000] [--runs 9]'
const flags = parseFlags(process.argv.slice(2), {
  names: { type: 'string', default: '10000' },
  queries: { type: 'string', default: '20000' },
  runs: { type: 'string', default: '9' }
}, usage)
if (flags === null) process.exit(0)
const names = Number(flags.values.names)
const queries = Number(flags.values.queries)
const runs = Number(flags.values.runs)

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void
const MESH_BASE = 0x64400001 // 100.64.0.1
const rnd = new SeededRandom(53)

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]! }
const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]! }
const f2 = (x: number): string => x.toFixed(2)
const mib = (b: number): string => (b / 1048576).toFixed(1)

/** N nodes named node-<i> at consecutive mesh addresses, and a policy with 20 single-address hosts. */
function netmap (n: number): Netmap {
  const nodes: NodeRecord[] = Array.from({ length: n }, (_, i) => namedNode(i, `node-${i}`, formatIPv4(MESH_BASE + i)))
  const hosts = Array.from({ length: 20 }, (_, i) => `"svc-${i}": "100.127.0.${i + 1}"`).join(', ')
  return { epoch: 'e', version: 1, cidr: '100.64.0.0/10', nodes, policy: { version: 1, text: `{ "hosts": { ${hosts} } }` }, dns: { domain: 'weft.internal' } }
}

type Kind = 'hit' | 'nxdomain' | 'ptr'
const KINDS: Kind[] = ['hit', 'nxdomain', 'ptr']

/** A query of `kind` for a random node (or a name no node has). */
function question (kind: Kind): { name: string, type: 'A' | 'PTR' } {
  const i = rnd.int(names)
  if (kind === 'hit') return { name: `node-${i}.weft.internal`, type: 'A' }
  if (kind === 'nxdomain') return { name: `missing-${i}.weft.internal`, type: 'A' }
  return { name: reverseNameOf(MESH_BASE + i), type: 'PTR' }
}

const queryBytes = (kind: Kind): Buffer => dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [question(kind)] })

// buildZone: from scratch (the first netmap) and with the previous zone (every later one: the policy is reused).
const map = netmap(names)
const scratchMs: number[] = []
const rebuildMs: number[] = []
let zone: Zone | null = null
for (let r = 0; r < runs; r++) {
  const t0 = performance.now()
  const first = buildZone(map)
  scratchMs.push(performance.now() - t0)
  const t1 = performance.now()
  zone = buildZone({ ...map, version: r + 2 }, first)
  rebuildMs.push(performance.now() - t1)
}

// Memory the zone holds: one zone alive, measured after full collections.
zone = null
gc(); gc()
const before = process.memoryUsage()
zone = buildZone(map)!
gc(); gc()
const after = process.memoryUsage()
const heapPerName = (after.heapUsed - before.heapUsed) / zone.nameCount

console.log(`zone: ${names} nodes + 20 hosts = ${zone.nameCount} names`)
console.log(`  buildZone ms, median of ${runs}: from scratch ${f2(median(scratchMs))}, with the previous zone ${f2(median(rebuildMs))}`)
console.log(`  held: heap +${mib(after.heapUsed - before.heapUsed)} MiB (${heapPerName.toFixed(0)} B/name), RSS +${mib(after.rss - before.rss)} MiB`)

// answer(): decoded queries prepared up front; the figure is the median over rounds of the mean per call.
console.log(`answer() ns/query, median of ${runs} rounds of ${queries}:`)
for (const kind of KINDS) {
  const decoded: DecodedPacket[] = Array.from({ length: 1000 }, () => dnsPacket.decode(queryBytes(kind)))
  const perCall: number[] = []
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now()
    for (let q = 0; q < queries; q++) answer(decoded[q % decoded.length]!, zone, { forward: false })
    perCall.push((performance.now() - t0) * 1e6 / queries)
  }
  console.log(`  ${kind.padEnd(8)} ${median(perCall).toFixed(0)}`)
}

// End to end over UDP on loopback.
const server = new DnsServer({ clock: systemClock, log: silentLogger() })
server.setZone(zone)
const { port } = await server.listen({ host: '127.0.0.1', port: 0 })
const client = createSocket('udp4')
await new Promise<void>(resolve => client.connect(port, '127.0.0.1', () => resolve()))
const waiting = new Map<number, () => void>()
client.on('message', msg => {
  const done = waiting.get(msg.readUInt16BE(0))
  waiting.delete(msg.readUInt16BE(0))
  done?.()
})
let nextId = 0

/** Latencies (ms) of `count` queries of `kind` with `concurrency` outstanding at once, and the wall time. */
async function load (kind: Kind, concurrency: number, count: number): Promise<{ ms: number[], wallMs: number }> {
  const pool = Array.from({ length: 500 }, () => queryBytes(kind))
  const ms: number[] = []
  let left = count
  const worker = async (): Promise<void> => {
    while (left-- > 0) {
      const id = nextId = (nextId + 1) & 0xffff
      const bytes = Buffer.from(pool[left % pool.length]!)
      bytes.writeUInt16BE(id, 0)
      const t0 = performance.now()
      await new Promise<void>(resolve => { waiting.set(id, resolve); client.send(bytes) })
      ms.push(performance.now() - t0)
    }
  }
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { ms, wallMs: performance.now() - t0 }
}

console.log(`UDP on 127.0.0.1, ${queries} queries each (after ${queries / 10} to warm up):`)
console.log('  kind      conc   p50 ms   p99 ms   max ms   queries/s')
for (const concurrency of [1, 64]) {
  for (const kind of KINDS) {
    await load(kind, concurrency, queries / 10)
    const { ms, wallMs } = await load(kind, concurrency, queries)
    const cols = [f2(pct(ms, 0.5)), f2(pct(ms, 0.99)), f2(Math.max(...ms))].map(x => x.padStart(8)).join(' ')
    console.log(`  ${kind.padEnd(8)} ${String(concurrency).padStart(5)} ${cols} ${(queries / wallMs * 1000).toFixed(0).padStart(11)}`)
  }
}
const c = server.counters
console.log(`server counters: udp ${c.udpQueries}, answered ${c.answered}, nxdomain ${c.nxdomain}, malformed ${c.malformed}, errors ${c.internalErrors}`)
client.close()
await server.close()
