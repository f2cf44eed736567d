/**
 * DNS ends for tests that run in namespaces, started with `ip netns exec NS node dns-tool.js ...`:
 *
 * - `upstream HOST`: a nameserver on HOST:53 (UDP and TCP) standing in for a host's own resolver: any A question
 *   gets 203.0.113.7, except names starting `nx.`, which do not exist; prints `listening`.
 * - `blast HOST COUNT SEED`: sends COUNT hostile datagrams (test/dns/fuzz.ts) to HOST:53, 64 at a time, each
 *   batch followed by one well-formed query whose answer it waits for (so the resolver is never flooded past its
 *   socket buffer, and every batch is known to have been read); prints `{ sent, answered, ms }` as JSON and
 *   exits 1 when a well-formed query went unanswered.
 */
import { createSocket } from 'node:dgram'
import dnsPacket from 'dns-packet'
import { FakeUpstream, queryBytes, upstreamA } from '../dns/helpers.js'
import { hostileDatagrams } from '../dns/fuzz.js'

const [mode, ...args] = process.argv.slice(2)
const BATCH = 64

if (mode === 'upstream') {
  await new FakeUpstream(q => {
    const name = q.questions?.[0]?.name ?? ''
    // dns-packet takes the rcode from the low bits of the flags: 3 is NXDOMAIN.
    if (name.startsWith('nx.')) return { id: q.id, type: 'response', flags: dnsPacket.RECURSION_AVAILABLE | 3, questions: q.questions }
    return upstreamA(q, '203.0.113.7')
  }).start(args[0]!, 53)
  console.log('listening')
} else if (mode === 'blast') {
  const [host, count, seed] = [args[0]!, Number(args[1]), Number(args[2])]
  const next = hostileDatagrams(seed)
  const sock = createSocket('udp4')
  await new Promise<void>(resolve => sock.bind(0, () => resolve()))
  const probeName = args[3] ?? 'blast-probe.weft.internal'
  // Each batch's probe has an id of its own and is known by its question too: the hostile datagrams are mutated
  // queries, and an answer to one of them must not pass for the probe's.
  let expect: { id: number, done: () => void } | null = null
  sock.on('message', msg => {
    if (expect === null) return
    let p: dnsPacket.DecodedPacket
    try { p = dnsPacket.decode(msg) } catch { return }
    if (p.type === 'response' && p.id === expect.id && p.questions?.[0]?.name === probeName) expect.done()
  })
  const t0 = Date.now()
  let sent = 0
  let answered = 0
  for (let batch = 0; sent < count; batch++) {
    for (let k = 0; k < BATCH && sent < count; k++, sent++) sock.send(next(), 53, host)
    const id = 1 + (batch % 65535)
    const ok = await new Promise<boolean>(resolve => {
      const timer = setTimeout(() => { expect = null; resolve(false) }, 2000)
      expect = { id, done: () => { clearTimeout(timer); expect = null; resolve(true) } }
      sock.send(queryBytes(probeName, 'A', { id }), 53, host)
    })
    if (ok) answered++
    else break
  }
  sock.close()
  console.log(JSON.stringify({ sent, answered, batches: Math.ceil(count / BATCH), ms: Date.now() - t0 }))
  process.exit(answered === Math.ceil(count / BATCH) ? 0 : 1)
} else {
  console.error('usage: dns-tool.js upstream HOST | blast HOST COUNT SEED [PROBE-NAME]')
  process.exit(2)
}
