import { ConflictError, NotFoundError, TokenRejectedError, TokenRevokedError } from '../errors.js'
import type { Clock } from '../clock.js'
import type { TokenInfo, TokenState } from '../wire/api.js'
import { hashSecret, newSecret } from './auth.js'
import type { StoredNode, StoredToken } from './store.js'

/** Hex digits of the token's sha256 that make its id (48 bits: no two tokens of one controller share one). */
const ID_HEX = 12

/**
 * The stable, non-secret id of a token: `t` and the first 12 hex digits of its sha256. Derived, so tokens
 * stored before ids existed have one too; the hash of 32 random bytes says nothing about the token.
 */
export function tokenId (hash: string): string {
  return 't' + hash.slice(0, ID_HEX)
}

/** What `t` can do at `now` (TokenState lists the precedence). */
export function tokenState (t: StoredToken, now: number): TokenState {
  if (t.revokedAt !== undefined) return 'revoked'
  if (!t.reusable && t.usedAt !== undefined) return 'spent'
  if (now >= t.expiresAt) return 'expired'
  return 'active'
}

/** When `t` stopped admitting nodes (revoked, spent or expired), whichever came first. */
export function tokenEndedAt (t: StoredToken): number {
  return Math.min(t.expiresAt, t.revokedAt ?? Infinity, t.reusable ? Infinity : t.usedAt ?? Infinity)
}

/** The listing of `t` at `now`: no secret, no hash. */
export function tokenInfo (t: StoredToken, now: number): TokenInfo {
  return {
    id: tokenId(t.hash),
    description: t.description ?? null,
    reusable: t.reusable,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    uses: t.uses,
    lastUsedAt: t.lastUsedAt ?? null,
    revokedAt: t.revokedAt ?? null,
    nodeTtlMs: t.nodeTtlMs ?? null,
    tags: [...(t.tags ?? [])],
    viewer: t.viewer === true,
    state: tokenState(t, now)
  }
}

/** What a new token is. */
export interface TokenSpec {
  reusable: boolean
  ttlMs: number
  description?: string
  nodeTtlMs?: number
  /** Checked and sorted (lib/wire/tags.ts). */
  tags?: string[]
  /** A viewer key: `wv_`, it admits no node. */
  viewer?: boolean
}

/**
 * Join tokens, kept by hash. `claim` is synchronous and marks a single-use token spent before the caller's
 * first await, so two concurrent registrations cannot both spend it; `unclaim` undoes that when the
 * registration's batch fails. `revoke` is synchronous too: no registration claims a token once its
 * revocation has begun.
 */
export class TokenBook {
  private readonly byHash = new Map<string, StoredToken>()
  /** What each claim returned, to the record it spent a use of (unclaim gives it back only to that record). */
  private readonly claims = new WeakMap<StoredToken, StoredToken>()

  constructor (private readonly clock: Clock) {}

  /** Loads persisted tokens at start-up. */
  restore (tokens: StoredToken[]): void {
    for (const t of tokens) this.byHash.set(t.hash, t)
  }

  /** Makes a token; returns the secret (shown once) and the record to persist. Its id is unique here. */
  create (spec: TokenSpec): { token: string, record: StoredToken } {
    let token: string
    do token = newSecret(spec.viewer === true ? 'wv_' : 'wt_'); while (this.find(tokenId(hashSecret(token))).length > 0)
    const now = this.clock.now()
    const record: StoredToken = { hash: hashSecret(token), reusable: spec.reusable, createdAt: now, expiresAt: now + spec.ttlMs, uses: 0 }
    if (spec.description !== undefined) record.description = spec.description
    if (spec.nodeTtlMs !== undefined) record.nodeTtlMs = spec.nodeTtlMs
    if (spec.tags !== undefined && spec.tags.length > 0) record.tags = [...spec.tags]
    if (spec.viewer === true) record.viewer = true
    this.byHash.set(record.hash, record)
    return { token, record }
  }

  /** Takes in a token record as another controller wrote it to the shared store (made, used, revoked). */
  applyStored (t: StoredToken): void {
    this.byHash.set(t.hash, { ...t })
  }

  /** Drops a token whose creation was not persisted (its secret was never shown), or that the store no longer holds. */
  forget (hash: string): void {
    this.byHash.delete(hash)
  }

  /**
   * Checks `token` and spends one use. Returns the updated record to persist with the registration.
   * Throws TokenRevokedError for a revoked token, TokenRejectedError for unknown, expired or used ones.
   */
  claim (token: string): StoredToken {
    const t = this.byHash.get(hashSecret(token))
    const claimed = this.spend(t)
    this.claims.set(claimed, t!)
    return claimed
  }

  /** The viewer key whose hash is `hash` while it is active (not revoked, not expired); undefined for anything else. */
  activeViewer (hash: string): StoredToken | undefined {
    const t = this.byHash.get(hash)
    return t?.viewer === true && tokenState(t, this.clock.now()) === 'active' ? t : undefined
  }

  private spend (t: StoredToken | undefined): StoredToken {
    if (t === undefined) throw new TokenRejectedError('join token is not known to this controller')
    if (t.viewer === true) {
      throw new TokenRejectedError(`${tokenId(t.hash)} is a viewer key: it signs in to the dashboard and admits no node; ` +
        'join with a token from `weft token create`')
    }
    const now = this.clock.now()
    if (t.revokedAt !== undefined) {
      throw new TokenRevokedError(`join token ${tokenId(t.hash)} was revoked by an admin at ${new Date(t.revokedAt).toISOString()}; ask for a new one ` +
        '(`weft token create`)')
    }
    if (now >= t.expiresAt) {
      throw new TokenRejectedError(`join token expired at ${new Date(t.expiresAt).toISOString()}; create a new one with \`weft ` +
        'token create`')
    }
    if (!t.reusable && t.usedAt !== undefined) {
      throw new TokenRejectedError('join token was already used; single-use tokens admit one node (create one ' +
        'with --reusable for several)')
    }
    t.uses++
    t.lastUsedAt = now
    if (!t.reusable) t.usedAt = now
    return { ...t }
  }

  /**
   * Gives back the use `claimed` (what `claim` returned) took, whose registration did not commit; nothing when
   * the token's record was replaced meanwhile (another controller wrote it): the new record is the truth.
   */
  unclaim (claimed: StoredToken): void {
    const t = this.claims.get(claimed)
    this.claims.delete(claimed)
    if (t === undefined || this.byHash.get(claimed.hash) !== t) return
    t.uses = Math.max(0, t.uses - 1)
    if (!t.reusable) delete t.usedAt
    if (t.uses === 0) delete t.lastUsedAt
  }

  /**
   * `node` as admitted by the token `claimed`: it records the token's id, a token with a node TTL sets
   * the node's expiry to `now` plus that TTL, and a token with tags gives the node exactly those. A token
   * without a TTL or tags leaves the node's expiry or tags as they were.
   * Throws ConflictError for a known node whose expiry has passed: it is being removed, and comes back
   * as a new node once that is done.
   */
  stampNode (node: StoredNode, claimed: StoredToken, now: number): StoredNode {
    if (node.expiresAt !== undefined && now >= node.expiresAt) {
      throw new ConflictError(`node ${node.id} expired at ${new Date(node.expiresAt).toISOString()} and is being removed; register again with a join ` +
        'token once that is done')
    }
    const out: StoredNode = { ...node, tokenId: tokenId(claimed.hash) }
    if (claimed.nodeTtlMs !== undefined) out.expiresAt = now + claimed.nodeTtlMs
    if (claimed.tags !== undefined && claimed.tags.length > 0) out.tags = [...claimed.tags]
    return out
  }

  /** Every token still on record, oldest first. */
  list (): TokenInfo[] {
    const now = this.clock.now()
    return [...this.byHash.values()]
      .sort((a, b) => a.createdAt - b.createdAt || (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0))
      .map(t => tokenInfo(t, now))
  }

  /** The token with id `id`. Throws NotFoundError, or ConflictError if two tokens share it. */
  get (id: string): StoredToken {
    const found = this.find(id)
    if (found.length === 0) throw new NotFoundError(`no join token with id ${id} (\`weft token list\` shows them)`)
    if (found.length > 1) throw new ConflictError(`${found.length} join tokens share the id ${id}, which cannot tell them apart; they end when they expire`)
    return found[0]!
  }

  /**
   * Marks token `id` revoked now, before the caller persists `record`, so no registration claims it
   * meanwhile; `undo` takes the mark back if the write fails. A token already revoked is returned as it
   * is, with `changed` false and nothing to persist.
   */
  revoke (id: string): { record: StoredToken, changed: boolean, undo: () => void } {
    const t = this.get(id)
    if (t.revokedAt !== undefined) return { record: { ...t }, changed: false, undo: () => {} }
    t.revokedAt = this.clock.now()
    return { record: { ...t }, changed: true, undo: () => { delete t.revokedAt } }
  }

  /**
   * Tokens that stopped admitting nodes (expired, spent or revoked) at least `retentionMs` ago, to delete
   * from the store. Removes them from memory; until then they stay listed with their state.
   */
  takeEnded (retentionMs: number): string[] {
    const now = this.clock.now()
    const out: string[] = []
    for (const [h, t] of this.byHash) if (now >= tokenEndedAt(t) + retentionMs) { out.push(h); this.byHash.delete(h) }
    return out
  }

  private find (id: string): StoredToken[] {
    if (id.length !== ID_HEX + 1 || !id.startsWith('t')) return []
    const prefix = id.slice(1)
    return [...this.byHash.values()].filter(t => t.hash.startsWith(prefix))
  }
}
