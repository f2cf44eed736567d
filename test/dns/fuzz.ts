/**
 * Hostile DNS datagrams for fuzzing a resolver: random bytes, truncated and bit-flipped queries, headers with
 * absurd counts, oversized labels and names, compression loops, odd EDNS and header bits. Seeded, so a failure
 * replays.
 */
import dnsPacket from 'dns-packet'
import { SeededRandom } from '../../lib/swim/random.js'
import { optRecord, queryBytes } from './helpers.js'

/** A source of hostile datagrams: each call gives the next one of the sequence `seed` picks. */
export function hostileDatagrams (seed: number): () => Buffer {
  const r = new SeededRandom(seed)
  const bytesOf = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => r.int(256)))

  const SEEDS: Buffer[] = [
    queryBytes('web.weft.internal', 'A'),
    queryBytes('WEB.weft.internal', 'AAAA', { additionals: [optRecord(1232)] }),
    queryBytes('nope.weft.internal', 'A'),
    queryBytes('weft.internal', 'SOA'),
    queryBytes('1.0.64.100.in-addr.arpa', 'PTR'),
    queryBytes('example.com', 'MX', { additionals: [optRecord(4096)] }),
    queryBytes('_sip._tcp.weft.internal', 'SRV')
  ]

  /** A header: id, flags and the four counts. */
  function header (flags: number, counts: [number, number, number, number]): Buffer {
    const h = Buffer.alloc(12)
    h.writeUInt16BE(r.int(65536), 0)
    h.writeUInt16BE(flags, 2)
    counts.forEach((c, i) => h.writeUInt16BE(c, 4 + 2 * i))
    return h
  }

  const mutations: Array<() => Buffer> = [
    // Random bytes of any length up to a little over the EDNS size.
    () => bytesOf(r.int(1400)),
    // A valid query cut short.
    () => { const s = SEEDS[r.int(SEEDS.length)]!; return s.subarray(0, r.int(s.length)) },
    // A valid query with a few bits flipped.
    () => {
      const b = Buffer.from(SEEDS[r.int(SEEDS.length)]!)
      for (let k = 1 + r.int(8); k > 0; k--) { const i = r.int(b.length); b[i] = b[i]! ^ (1 << r.int(8)) }
      return b
    },
    // A valid query whose header claims absurd counts.
    () => {
      const b = Buffer.from(SEEDS[r.int(SEEDS.length)]!)
      for (let i = 4; i < 12; i += 2) if (r.next() < 0.6) b.writeUInt16BE(r.next() < 0.5 ? 0xffff : r.int(65536), i)
      return b
    },
    // Labels whose length byte is past 63 (including the reserved 0x40 and 0x80 forms), or huge ones that overrun.
    () => {
      const parts = [header(0x0100, [1, 0, 0, 0])]
      for (let k = 1 + r.int(4); k > 0; k--) { const len = 63 + r.int(193); parts.push(Buffer.from([len]), bytesOf(r.int(len + 1))) }
      parts.push(Buffer.from([0, 0, 1, 0, 1]))
      return Buffer.concat(parts)
    },
    // A name of many 63-byte labels, longer than 255 bytes.
    () => {
      const parts = [header(0x0100, [1, 0, 0, 0])]
      for (let k = 5 + r.int(10); k > 0; k--) parts.push(Buffer.from([63]), Buffer.alloc(63, 0x61 + r.int(26)))
      parts.push(Buffer.from([0, 0, 1, 0, 1]))
      return Buffer.concat(parts)
    },
    // Compression pointers: to itself, forward, into the header, and a two-pointer loop.
    () => {
      const h = header(0x0100, [1 + r.int(2), r.int(3), 0, 0])
      switch (r.int(4)) {
        case 0: return Buffer.concat([h, Buffer.from([0xc0, 12, 0, 1, 0, 1])])
        case 1: return Buffer.concat([h, Buffer.from([0xc0, 14 + r.int(40), 0, 1, 0, 1]), bytesOf(r.int(40))])
        case 2: return Buffer.concat([h, Buffer.from([0xc0, r.int(12), 0, 1, 0, 1])])
        default: return Buffer.concat([h, Buffer.from([1, 0x61, 0xc0, 14, 0xc0, 12, 0, 1, 0, 1])])
      }
    },
    // A valid query with an OPT record of random options, or several OPT records, or one not owned by the root.
    () => {
      const base = SEEDS[r.int(SEEDS.length)]!
      const q = dnsPacket.decode(base)
      const opt = Buffer.concat([Buffer.from([r.next() < 0.8 ? 0 : 1, 0, 41]), bytesOf(6), Buffer.from([0, 8 + r.int(8)]), bytesOf(8 + r.int(8))])
      const count = 1 + r.int(3)
      const h = Buffer.from(dnsPacket.encode({ ...q, additionals: [] }))
      h.writeUInt16BE(count, 10)
      return Buffer.concat([h, ...Array.from({ length: count }, () => opt)])
    },
    // A valid query with random header bits: the response bit, other opcodes, Z, a nonzero rcode.
    () => {
      const b = Buffer.from(SEEDS[r.int(SEEDS.length)]!)
      b.writeUInt16BE(r.int(65536), 2)
      return b
    }
  ]

  return () => mutations[r.int(mutations.length)]!()
}
