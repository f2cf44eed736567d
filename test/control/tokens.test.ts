import t from 'tap'
import { ManualClock } from '../../lib/clock.js'
import { hashSecret } from '../../lib/control/auth.js'
import type { StoredNode, StoredToken } from '../../lib/control/store.js'
import { TokenBook, tokenEndedAt, tokenId, tokenInfo, tokenState } from '../../lib/control/tokens.js'
import { hasCode } from '../../lib/errors.js'

const H = 3_600_000
const D = 24 * H

const stored = (o: Partial<StoredToken> = {}): StoredToken => ({ hash: 'ab'.repeat(32), reusable: false, createdAt: 0, expiresAt: 10 * H, uses: 0, ...o })

t.test('a token id is t and the first 12 hex digits of its hash, stable for records stored without one', async (t) => {
  const clock = new ManualClock()
  const book = new TokenBook(clock)
  const { token, record } = book.create({ reusable: false, ttlMs: H })
  t.equal(tokenId(record.hash), 't' + hashSecret(token).slice(0, 12))
  t.match(tokenId(record.hash), /^t[0-9a-f]{12}$/)
  t.notOk(JSON.stringify(tokenInfo(record, clock.now())).includes(record.hash.slice(12)), 'the listing carries no more of the hash than the id')
  t.notOk(JSON.stringify(tokenInfo(record, clock.now())).includes(token), 'nor the token')
  const old = stored({ hash: 'c0ffee'.repeat(10) + 'abcd' })
  book.restore([old])
  t.equal(book.get('tc0ffeec0ffee').hash, old.hash, 'an older record is found by its derived id')
  const ids = new Set(Array.from({ length: 500 }, () => tokenId(book.create({ reusable: true, ttlMs: H }).record.hash)))
  t.equal(ids.size, 500, 'ids of one controller are distinct')
})

t.test('states: revoked over spent over expired over active', async (t) => {
  const cases: Array<[string, Partial<StoredToken>, number, string]> = [
    ['fresh', {}, 0, 'active'],
    ['at its expiry', {}, 10 * H, 'expired'],
    ['single-use, used', { usedAt: 1, uses: 1 }, 0, 'spent'],
    ['single-use, used, then expired', { usedAt: 1, uses: 1 }, 11 * H, 'spent'],
    ['reusable, used many times', { reusable: true, uses: 9, lastUsedAt: 5 }, 0, 'active'],
    ['revoked', { revokedAt: 2 }, 0, 'revoked'],
    ['revoked after being spent', { usedAt: 1, uses: 1, revokedAt: 2 }, 0, 'revoked'],
    ['revoked and expired', { revokedAt: 2 }, 11 * H, 'revoked']
  ]
  for (const [what, o, now, want] of cases) t.equal(tokenState(stored(o), now), want, what)
  t.equal(tokenEndedAt(stored({ usedAt: 3 })), 3, 'a spent single-use token ended when it was used')
  t.equal(tokenEndedAt(stored({ reusable: true, usedAt: 3 })), 10 * H, 'a reusable one ends at its expiry')
  t.equal(tokenEndedAt(stored({ revokedAt: 4 })), 4, 'or at its revocation')
})

t.test('a revoked token is refused with WEFT_ERR_TOKEN_REVOKED; a revocation that could not be written is taken back', async (t) => {
  const clock = new ManualClock()
  const book = new TokenBook(clock)
  const { token, record } = book.create({ reusable: true, ttlMs: D, description: 'fleet rollout' })
  book.claim(token)
  const id = tokenId(record.hash)
  const r = book.revoke(id)
  t.equal(r.changed, true)
  t.equal(r.record.revokedAt, clock.now())
  t.equal(r.record.uses, 1, 'the record to persist keeps the uses')
  t.throws(() => book.claim(token), { code: 'WEFT_ERR_TOKEN_REVOKED', message: new RegExp(`join token ${id} was revoked by an admin at 20`) })
  t.equal(book.revoke(id).changed, false, 'revoking again changes nothing')
  r.undo()
  t.equal(book.claim(token).uses, 2, 'after undo the token admits again')
  t.throws(() => book.revoke('t000000000000'), { code: 'WEFT_ERR_NOT_FOUND' })
  t.throws(() => book.get('nonsense'), { code: 'WEFT_ERR_NOT_FOUND' })
})

t.test('a claim records its time, and an undone claim of an unused token leaves no last use', async (t) => {
  const clock = new ManualClock()
  const book = new TokenBook(clock)
  const { token } = book.create({ reusable: false, ttlMs: D })
  clock.advance(5000)
  const c = book.claim(token)
  t.equal(c.lastUsedAt, clock.now())
  t.equal(tokenInfo(c, clock.now()).state, 'spent')
  book.unclaim(c)
  t.match(book.list()[0], { uses: 0, lastUsedAt: null, state: 'active' })
})

t.test('an undone claim leaves alone a record another controller wrote meanwhile', async (t) => {
  const clock = new ManualClock()
  const book = new TokenBook(clock)
  const { token, record } = book.create({ reusable: false, ttlMs: D })
  const c = book.claim(token)
  // The other controller's registration spent the token first; its record arrives through the store.
  book.applyStored({ ...record, uses: 1, usedAt: clock.now(), lastUsedAt: clock.now() })
  book.unclaim(c)
  t.match(book.list()[0], { uses: 1, state: 'spent' }, 'the spent record stays spent')
  t.throws(() => book.claim(token), { code: 'WEFT_ERR_TOKEN_REJECTED' })
})

t.test('takeEnded keeps a token listed for the retention after it stopped admitting nodes', async (t) => {
  const clock = new ManualClock(0)
  const book = new TokenBook(clock)
  const spent = book.create({ reusable: false, ttlMs: 30 * D })
  const reusable = book.create({ reusable: true, ttlMs: 2 * D })
  const revoked = book.create({ reusable: true, ttlMs: 30 * D })
  const live = book.create({ reusable: true, ttlMs: 30 * D })
  clock.set(H)
  book.claim(spent.token)
  book.revoke(tokenId(revoked.record.hash))
  clock.set(H + 7 * D - 1)
  t.same(book.takeEnded(7 * D), [], 'nothing ended 7 days ago yet')
  clock.set(H + 7 * D)
  t.same(new Set(book.takeEnded(7 * D)), new Set([spent.record.hash, revoked.record.hash]), 'spent and revoked tokens go 7 days after')
  clock.set(9 * D)
  t.same(book.takeEnded(7 * D), [reusable.record.hash], 'an expired one 7 days after its expiry')
  t.same(book.list().map(x => x.id), [tokenId(live.record.hash)])
  t.throws(() => book.claim(spent.token), { code: 'WEFT_ERR_TOKEN_REJECTED', message: /not known/ }, 'a deleted token is unknown')
})

t.test('stampNode: the token id always, an expiry only from a token with a node TTL; an expired node is refused', async (t) => {
  const clock = new ManualClock(1000)
  const book = new TokenBook(clock)
  const node: StoredNode = {
    id: 'n1',
    publicKey: 'k',
    hostname: 'h',
    meshIp: '100.64.0.1',
    endpoints: [],
    listenPort: 1,
    swimPort: 1,
    credentialHash: 'x',
    state: 'active',
    createdAt: 1,
    updatedAt: 1
  }
  const withTtl = book.create({ reusable: true, ttlMs: D, nodeTtlMs: 30 * D })
  const plain = book.create({ reusable: true, ttlMs: D })
  const a = book.stampNode(node, book.claim(withTtl.token), 1000)
  t.match(a, { tokenId: tokenId(withTtl.record.hash), expiresAt: 1000 + 30 * D })
  const b = book.stampNode({ ...node, expiresAt: 5000 }, book.claim(plain.token), 2000)
  t.match(b, { tokenId: tokenId(plain.record.hash), expiresAt: 5000 }, 'a token without a node TTL keeps the expiry')
  t.notOk('expiresAt' in book.stampNode(node, book.claim(plain.token), 2000))
  let err: unknown
  try { book.stampNode({ ...node, expiresAt: 2000 }, book.claim(withTtl.token), 2000) } catch (e) { err = e }
  t.ok(hasCode(err, 'WEFT_ERR_CONFLICT'), 'a node at its expiry is not re-admitted, even by a token with a node TTL')
})
