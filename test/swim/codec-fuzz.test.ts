import t from 'tap'
import v8 from 'node:v8'
import vm from 'node:vm'
import { encodeHead, encodePacket, encodeUpdate, type Message } from '../../lib/swim/codec.js'
import { meshConfig } from '../../lib/swim/config.js'
import { SeededRandom } from '../../lib/swim/random.js'
import { Swim } from '../../lib/swim/swim.js'
import { claimsFor } from './cluster.js'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

const ITERATIONS = 1_000_000

t.test('a million random and mutated packets: nothing escapes, memory stays flat', async t => {
  // ~15 s of CPU; allow for a machine shared with other test runs.
  t.setTimeout(600_000)
  const r = new SeededRandom(2024)
  const ids = Array.from({ length: 8 }, (_, i) => `node-${i}`)
  const addr = (i: number): string => `100.64.0.${i + 1}:7946`
  const core = new Swim({ config: meshConfig(), self: { id: ids[0]!, addr: addr(0) }, claims: claimsFor(ids[0]!), incarnation: 5, random: new SeededRandom(1) })
  core.setMembers(0, ids.map((id, i) => ({ id, addr: addr(i) })))

  const msgs: Message[] = [{ type: 'ping', seq: 1, target: ids[0]! }, { type: 'ack', seq: 1 }, { type: 'ping-req', seq: 9, target: ids[2]! },
    { type: 'nack', seq: 1 }, { type: 'sync', reply: false }, { type: 'gossip' }]
  const seeds: Array<{ from: number, bytes: Uint8Array }> = []
  for (let i = 0; i < 60; i++) {
    const from = 1 + r.int(7)
    const ups = Array.from({ length: r.int(6) }, () => {
      const id = ids[r.int(8)]!
      const state = (['alive', 'suspect', 'dead', 'left'] as const)[r.int(4)]!
      return encodeUpdate({ state, id, incarnation: r.int(10), from: state === 'alive' || state === 'left' ? id : ids[r.int(8)]! })
    })
    seeds.push({ from, bytes: encodePacket(encodeHead(ids[from]!, msgs[r.int(msgs.length)]!), ups) })
  }

  const mutate = (src: Uint8Array): Uint8Array => {
    const b = new Uint8Array(src)
    switch (r.int(4)) {
      case 0: for (let k = 1 + r.int(4); k > 0; k--) b[r.int(b.length)] = r.int(256); return b
      case 1: return b.subarray(0, r.int(b.length))
      case 2: { const out = new Uint8Array(b.length + 1 + r.int(8)); out.set(b); for (let i = b.length; i < out.length; i++) out[i] = r.int(256); return out }
      default: { const i = r.int(b.length); b[i] = [0x00, 0x7f, 0xc0, 0xc1, 0xd4, 0xdc, 0xdd, 0xff][r.int(8)]!; return b }
    }
  }

  const pool = new Uint8Array(1 << 20)
  for (let k = 0; k < pool.length; k += 4) {
    const x = r.u32()
    pool[k] = x & 0xff; pool[k + 1] = (x >>> 8) & 0xff; pool[k + 2] = (x >>> 16) & 0xff; pool[k + 3] = x >>> 24
  }
  let now = 0
  let heapAfterWarmup = 0
  let escaped = 0
  for (let i = 0; i < ITERATIONS; i++) {
    let bytes: Uint8Array
    let from = 1 + r.int(7)
    if (r.next() < 0.3) {
      // A random window of a random pool: as random as fresh bytes at a fraction of the cost.
      const len = r.int(1300)
      const at = r.int(pool.length - len)
      bytes = pool.subarray(at, at + len)
    } else {
      const s = seeds[r.int(seeds.length)]!
      from = r.next() < 0.9 ? s.from : from
      bytes = r.next() < 0.2 ? s.bytes : mutate(s.bytes)
    }
    try {
      core.handlePacket(now, addr(from), bytes)
      if (i % 50 === 0) { now += 7; core.handleTimeout(now) }
      while (core.pollTransmit() !== undefined);
      while (core.pollEvent() !== undefined);
    } catch {
      escaped++
    }
    if (i === 100_000) { gc(); heapAfterWarmup = process.memoryUsage().heapUsed }
  }
  gc()
  const growth = process.memoryUsage().heapUsed - heapAfterWarmup
  t.equal(escaped, 0, 'no exception escaped handlePacket / handleTimeout')
  t.ok(growth < 16 * 1024 * 1024, `heap growth over 900k packets ${Math.round(growth / 1024)} KiB < 16 MiB`)
  const s = core.stats()
  t.equal(s.packetsIn, ITERATIONS)
  const dropped = Object.values(s.dropped).reduce((a, b) => a + b, 0)
  t.ok(dropped > ITERATIONS * 0.3, `most garbage dropped and counted (${dropped})`)
  t.ok(s.dropped.malformed > 0 && s.dropped.truncated > 0 && s.dropped.oversized > 0, 'several reasons seen')
  t.ok(s.dropped.spoofed > 0, 'sender id / address mismatches counted')
  t.ok(core.members().length === 7, 'membership never grows from gossip')
})
