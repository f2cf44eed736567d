import t from 'tap'
import { ManualClock } from '../../lib/clock.js'
import { cookieValue, MAX_SESSIONS, SESSION_TTL_MS, SessionBook, sessionCookie } from '../../lib/control/sessions.js'

t.test('a session lives SESSION_TTL_MS, is found by its cookie value only, and ends on sign-out', async (t) => {
  const clock = new ManualClock()
  const book = new SessionBook(clock)
  const { id, session } = book.create('viewer', 'ab12')
  t.match(id, /^ws_[\w-]{43}$/)
  t.match(session, { role: 'viewer', viewerHash: 'ab12', expiresAt: clock.now() + SESSION_TTL_MS })
  t.equal(book.get(id), session)
  t.equal(book.get(id + 'x'), undefined)
  t.equal(book.get(null), undefined)
  t.not(book.create('admin', null).session.csrf, session.csrf, 'each session its own CSRF token')
  clock.set(clock.now() + SESSION_TTL_MS)
  t.equal(book.get(id), undefined, 'expired')
  const again = book.create('admin', null)
  book.delete(again.id)
  t.equal(book.get(again.id), undefined, 'signed out')
})

t.test('at most MAX_SESSIONS: a flood of sign-ins drops the oldest', async (t) => {
  const book = new SessionBook(new ManualClock())
  const first = book.create('admin', null)
  for (let i = 0; i < MAX_SESSIONS; i++) book.create('admin', null)
  t.equal(book.size, MAX_SESSIONS)
  t.equal(book.get(first.id), undefined)
})

t.test('the cookie: read from a Cookie header among others, set HttpOnly and SameSite=Strict, Secure under TLS', async (t) => {
  t.equal(cookieValue('a=1; weft_session=ws_x; b=2', 'weft_session'), 'ws_x')
  t.equal(cookieValue('weft_sessionx=1', 'weft_session'), null)
  t.equal(cookieValue(undefined, 'weft_session'), null)
  t.equal(sessionCookie('ws_x', false), 'weft_session=ws_x; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200')
  t.equal(sessionCookie('ws_x', true), 'weft_session=ws_x; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200; Secure')
  t.equal(sessionCookie(null, true), 'weft_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure', 'sign-out clears it')
})
