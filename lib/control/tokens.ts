import { TokenRejectedError } from '../errors.js'
import type { Clock } from '../clock.js'
import { hashSecret, newSecret } from './auth.js'
import type { StoredToken } from './store.js'

/**
 * Join tokens, kept by hash. `claim` is synchronous and marks a single-use token spent before the caller's
 * first await, so two concurrent registrations cannot both spend it; `unclaim` undoes that when the
 * registration's batch fails.
 */
export class TokenBook {
  private readonly byHash = new Map<string, StoredToken>()

  constructor (private readonly clock: Clock) {}

  /** Loads persisted tokens at start-up. */
  restore (tokens: StoredToken[]): void {
    for (const t of tokens) this.byHash.set(t.hash, t)
  }

  /** Makes a token; returns the secret (shown once) and the record to persist. */
  create (reusable: boolean, ttlMs: number): { token: string, record: StoredToken } {
    const token = newSecret('wt_')
    const now = this.clock.now()
    const record: StoredToken = { hash: hashSecret(token), reusable, createdAt: now, expiresAt: now + ttlMs, uses: 0 }
    this.byHash.set(record.hash, record)
    return { token, record }
  }

  /**
   * Checks `token` and spends one use. Returns the updated record to persist with the registration.
   * Throws TokenRejectedError for unknown, expired or already used tokens.
   */
  claim (token: string): StoredToken {
    const t = this.byHash.get(hashSecret(token))
    if (t === undefined) throw new TokenRejectedError('join token is not known to this controller')
    if (this.clock.now() >= t.expiresAt) throw new TokenRejectedError(`join token expired at ${new Date(t.expiresAt).toISOString()}; create a new one with \`weft token create\``)
    if (!t.reusable && t.usedAt !== undefined) throw new TokenRejectedError('join token was already used; single-use tokens admit one node (create one with --reusable for several)')
    t.uses++
    if (!t.reusable) t.usedAt = this.clock.now()
    return { ...t }
  }

  /** Gives back a use taken by `claim` whose registration did not commit. */
  unclaim (hash: string): void {
    const t = this.byHash.get(hash)
    if (t === undefined) return
    t.uses = Math.max(0, t.uses - 1)
    if (!t.reusable) delete t.usedAt
  }

  /** Expired tokens, to delete from the store. Removes them from memory. */
  takeExpired (): string[] {
    const now = this.clock.now()
    const out: string[] = []
    for (const [h, t] of this.byHash) if (now >= t.expiresAt) { out.push(h); this.byHash.delete(h) }
    return out
  }
}
