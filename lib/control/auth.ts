import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Clock } from '../clock.js'

/**
 * Secrets and their checks. Every secret is 32 random bytes (base64url), so sha256 is enough to store it:
 * there is nothing to brute-force. Lookups go by hash; comparisons of hashes are constant time.
 */

/**
 * A new 32-byte random secret with a readable kind prefix: `wa_` admin key, `wn_` node credential, `wt_` join
 * token, `wv_` viewer key, `ws_` dashboard session.
 */
export function newSecret (prefix: 'wa_' | 'wn_' | 'wt_' | 'wv_' | 'ws_'): string {
  return prefix + randomBytes(32).toString('base64url')
}

/** Hex sha256 of a secret: the only form in which the controller keeps it. */
export function hashSecret (secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex')
}

/** Constant-time comparison of two hex hashes of equal length. */
export function sameHash (a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex')
  const y = Buffer.from(b, 'hex')
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y)
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearer (header: string | undefined): string | null {
  if (header === undefined) return null
  const m = /^Bearer\s+(\S{1,512})\s*$/i.exec(header)
  return m === null ? null : m[1]!
}

/**
 * Fixed-window counter per key (client IP). Cheap and good enough to slow down guessing and floods;
 * windows are `windowMs` long and counted on the injected clock.
 */
export class WindowLimiter {
  private readonly counts = new Map<string, { start: number, n: number }>()

  /** `limit` events per key per `windowMs`; a limit of 0 disables the limiter. */
  constructor (private readonly clock: Clock, private readonly limit: number, private readonly windowMs = 60_000) {}

  /** True when `key` is already at its limit in the current window. */
  blocked (key: string): boolean {
    if (this.limit === 0) return false
    const e = this.counts.get(key)
    return e !== undefined && this.clock.now() - e.start < this.windowMs && e.n >= this.limit
  }

  /** Counts one event; returns true when this event went over the limit. */
  hit (key: string): boolean {
    if (this.limit === 0) return false
    const now = this.clock.now()
    let e = this.counts.get(key)
    if (e === undefined || now - e.start >= this.windowMs) {
      if (this.counts.size > 100_000) this.prune(now)
      e = { start: now, n: 0 }
      this.counts.set(key, e)
    }
    e.n++
    return e.n > this.limit
  }

  private prune (now: number): void {
    for (const [k, e] of this.counts) if (now - e.start >= this.windowMs) this.counts.delete(k)
  }
}
