import type { Clock } from '../clock.js'
import { InvalidInputError } from '../errors.js'
import type { Logger } from '../log.js'
import type { CreateTokenRequest, CreateTokenResponse, TokenInfo, TokenListResponse } from '../wire/api.js'
import { retryOnConflict, type GroupCommit } from './group-commit.js'
import { tokenId, tokenInfo, type TokenBook } from './tokens.js'

/** Lifetime of a token created without `ttlMs`. */
export const DEFAULT_TOKEN_TTL_MS = 86_400_000

/** What TokenAdmin needs. */
export interface TokenAdminDeps {
  clock: Clock
  log: Logger
  tokens: TokenBook
  commit: GroupCommit
  /** The tags a new token may carry: `tags` checked and sorted, or a coded error saying which one is refused and why. */
  admitTags: (tags: readonly unknown[]) => string[]
  /**
   * On a shared store, where a reusable token's record is not written by each use (every controller's
   * registrations would conflict on it): per token id, the nodes on record it admitted and the latest of them.
   */
  admitted?: () => Map<string, { uses: number, lastUsedAt: number }>
}

/**
 * The admin's side of join tokens: create, list, revoke. Every change is in a synced batch before it is
 * answered (a store that refuses writes makes it fail with StoreUnavailableError, changing nothing); the
 * logs carry a token's id and description, never the token.
 */
export class TokenAdmin {
  /** Revocations being written, by token id; a second revocation of the same token waits for the first. */
  private readonly revoking = new Map<string, Promise<unknown>>()

  constructor (private readonly d: TokenAdminDeps) {}

  /** Creates a join token and persists its hash before returning the secret; its tags are checked first (admitTags). */
  async create (req: CreateTokenRequest): Promise<CreateTokenResponse> {
    const viewer = req.viewer === true
    if (viewer && (req.reusable === true || req.nodeTtlMs !== undefined || (req.tags ?? []).length > 0)) {
      throw new InvalidInputError('a viewer key admits no node: it takes no reusable, nodeTtlMs or tags')
    }
    const tags = this.d.admitTags(req.tags ?? [])
    const { token, record } = this.d.tokens.create({
      reusable: req.reusable ?? false,
      ttlMs: req.ttlMs ?? DEFAULT_TOKEN_TTL_MS,
      ...(req.description !== undefined ? { description: req.description } : {}),
      ...(req.nodeTtlMs !== undefined ? { nodeTtlMs: req.nodeTtlMs } : {}),
      tags,
      viewer
    })
    const id = tokenId(record.hash)
    try {
      await this.d.commit.commit([{ kind: 'token', token: record }])
    } catch (err) {
      this.d.tokens.forget(record.hash)
      throw err
    }
    const info = tokenInfo(record, this.d.clock.now())
    const { description, nodeTtlMs } = info
    this.d.log.info({
      event: 'token.create', tokenId: id, description, reusable: record.reusable, expiresAt: record.expiresAt, nodeTtlMs, tags: info.tags, viewer
    }, `${viewer ? 'viewer key' : 'join token'} ${id} created${info.tags.length > 0 ? ` with tags ${info.tags.join(' ')}` : ''}`)
    return {
      token,
      id,
      reusable: record.reusable,
      expiresAt: record.expiresAt,
      description: info.description,
      nodeTtlMs: info.nodeTtlMs,
      tags: info.tags,
      viewer
    }
  }

  /** Every token on record (active, and ended ones within the retention), oldest first. */
  list (): TokenListResponse {
    const admitted = this.d.admitted?.()
    if (admitted === undefined) return { tokens: this.d.tokens.list() }
    return {
      tokens: this.d.tokens.list().map(t => {
        if (!t.reusable) return t
        const a = admitted.get(t.id)
        return { ...t, uses: a?.uses ?? 0, lastUsedAt: a?.lastUsedAt ?? null }
      })
    }
  }

  /**
   * Revokes token `id`: no registration is admitted with it from the call on, and the revocation is durable
   * when this resolves. Revoking a revoked token changes nothing and answers the same. Nodes the token
   * admitted stay. Throws NotFoundError for an unknown id.
   */
  async revoke (id: string): Promise<TokenInfo> {
    return await retryOnConflict(async () => await this.revokeOnce(id))
  }

  private async revokeOnce (id: string): Promise<TokenInfo> {
    for (let p = this.revoking.get(id); p !== undefined; p = this.revoking.get(id)) await p.catch(() => {})
    const { record, changed, undo } = this.d.tokens.revoke(id)
    if (changed) {
      const write = this.d.commit.commit([{ kind: 'token', token: record }])
      this.revoking.set(id, write)
      try {
        await write
      } catch (err) {
        undo()
        throw err
      } finally {
        this.revoking.delete(id)
      }
      this.d.log.info({ event: 'token.revoke', tokenId: id, description: record.description ?? null, uses: record.uses }, `join token ${id} revoked`)
    }
    return tokenInfo(record, this.d.clock.now())
  }
}
