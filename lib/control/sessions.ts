import { randomBytes } from 'node:crypto'
import type { Clock } from '../clock.js'
import { hashSecret, newSecret } from './auth.js'

/**
 * Dashboard sessions (docs/dashboard.md): signing in with the admin key or a viewer key gives a session, carried
 * by an HttpOnly, SameSite=Strict cookie, and a CSRF token the page sends back in a header with every change.
 * Sessions live in this controller's memory only: a restart signs everyone out, and on several controllers a
 * session works on the one that made it. The key itself is never kept; a viewer session remembers which viewer
 * key made it, so that revoking the key ends the session.
 */

/** Who a session is. */
export type SessionRole = 'admin' | 'viewer'

/** The cookie that carries the session. */
export const SESSION_COOKIE = 'weft_session'

/** The header a session's change must carry, with the session's CSRF token. */
export const CSRF_HEADER = 'x-weft-csrf'

/** How long a session lasts, ms: a working day; signing in again is cheap, a stolen cookie's use is bounded. */
export const SESSION_TTL_MS = 12 * 3_600_000

/** Sessions kept at most; beyond that the oldest goes, so a flood of sign-ins cannot grow memory. */
export const MAX_SESSIONS = 10_000

/** One session. */
export interface Session {
  role: SessionRole
  /** Sent back by the page in CSRF_HEADER with every change. */
  csrf: string
  expiresAt: number
  /** The hash of the viewer key that made a viewer session (the key must still be valid); null for admin. */
  viewerHash: string | null
}

/** The sessions of this controller, by the hash of their cookie value. */
export class SessionBook {
  private readonly byHash = new Map<string, Session>()

  constructor (private readonly clock: Clock) {}

  /** A new session for `role`; returns the cookie value (shown once, kept only as its hash) and the session. */
  create (role: SessionRole, viewerHash: string | null): { id: string, session: Session } {
    const now = this.clock.now()
    this.sweep(now)
    while (this.byHash.size >= MAX_SESSIONS) this.byHash.delete(this.byHash.keys().next().value!)
    const id = newSecret('ws_')
    const session: Session = { role, csrf: randomBytes(24).toString('base64url'), expiresAt: now + SESSION_TTL_MS, viewerHash }
    this.byHash.set(hashSecret(id), session)
    return { id, session }
  }

  /** The live session of cookie value `id`, or undefined (unknown, expired). */
  get (id: string | null): Session | undefined {
    if (id === null) return undefined
    const key = hashSecret(id)
    const s = this.byHash.get(key)
    if (s === undefined) return undefined
    if (this.clock.now() >= s.expiresAt) { this.byHash.delete(key); return undefined }
    return s
  }

  /** Ends the session of cookie value `id` (sign-out). */
  delete (id: string): void {
    this.byHash.delete(hashSecret(id))
  }

  /** Sessions live now. */
  get size (): number { return this.byHash.size }

  private sweep (now: number): void {
    for (const [k, s] of this.byHash) if (now >= s.expiresAt) this.byHash.delete(k)
  }
}

/** The value of cookie `name` in a Cookie header, or null. */
export function cookieValue (header: string | undefined, name: string): string | null {
  if (header === undefined) return null
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return null
}

/** The Set-Cookie value that carries session `id` (or, with id null, clears it). */
export function sessionCookie (id: string | null, secure: boolean): string {
  const attrs = ['Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${id === null ? 0 : SESSION_TTL_MS / 1000}`, ...(secure ? ['Secure'] : [])]
  return `${SESSION_COOKIE}=${id ?? ''}; ${attrs.join('; ')}`
}
