/**
 * Seeded randomness for the SWIM core. lib/swim never calls Math.random: every random choice (probe order,
 * relay and gossip targets) comes from a Random passed in, so a seed replays a run exactly.
 */

/** A source of uniform randomness; the only randomness lib/swim uses. */
export interface Random {
  /** A uniform float in [0, 1). */
  next (): number
  /** A uniform integer in [0, n); n must be a positive integer. */
  int (n: number): number
}

/** Mixes a 32-bit state one splitmix32 step; used to spread a small seed over the generator's state. */
function splitmix32 (x: number): number {
  x = (x + 0x9e3779b9) | 0
  let z = x
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

/**
 * sfc32 (Chris Doty-Humphrey's small fast counting generator) seeded through splitmix32. 128 bits of state,
 * period >= 2^32, passes PractRand for far more output than a simulation draws; plain 32-bit integer maths,
 * so it is fast in V8 (no BigInt).
 */
export class SeededRandom implements Random {
  private a: number
  private b: number
  private c: number
  private d: number

  /** Same seed, same sequence. Any finite number is accepted; it is folded to 32 bits. */
  constructor (seed: number) {
    let s = (Math.trunc(seed) ^ Math.trunc(seed / 0x100000000)) >>> 0
    this.a = s = splitmix32(s)
    this.b = s = splitmix32(s)
    this.c = s = splitmix32(s)
    this.d = splitmix32(s) | 1
    for (let i = 0; i < 12; i++) this.u32()
  }

  /** A uniform unsigned 32-bit integer. */
  u32 (): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  next (): number { return this.u32() / 0x100000000 }

  int (n: number): number { return Math.floor(this.next() * n) }

  /** A new generator whose sequence is independent of this one's future draws (for per-node streams). */
  fork (): SeededRandom { return new SeededRandom(this.u32() ^ (this.u32() * 0x10000)) }
}

/** Shuffles `items` in place (Fisher-Yates) with `random`; returns the same array. */
export function shuffle<T> (items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.int(i + 1)
    const x = items[i]!
    items[i] = items[j]!
    items[j] = x
  }
  return items
}

/** Up to `k` distinct elements of `items` that pass `accept`, chosen uniformly; `items` is not modified. */
export function sample<T> (items: readonly T[], k: number, random: Random, accept: (x: T) => boolean): T[] {
  const out: T[] = []
  if (k <= 0 || items.length === 0) return out
  // Random probes first (cheap when most items qualify), then a scan from a random start so a mostly
  // rejected list still yields every acceptable item without looping forever.
  const seen = new Set<number>()
  for (let tries = 0; tries < 3 * k && out.length < k; tries++) {
    const i = random.int(items.length)
    if (seen.has(i)) continue
    seen.add(i)
    if (accept(items[i]!)) out.push(items[i]!)
  }
  if (out.length < k) {
    const start = random.int(items.length)
    for (let n = 0; n < items.length && out.length < k; n++) {
      const i = (start + n) % items.length
      if (seen.has(i)) continue
      seen.add(i)
      if (accept(items[i]!)) out.push(items[i]!)
    }
  }
  return out
}
