import type { FastifyReply, FastifyRequest } from 'fastify'
import { ForbiddenError, UnauthorizedError } from '../errors.js'
import { bearer, hashSecret, sameHash } from './auth.js'
import type { Controller } from './controller.js'
import { cookieValue, CSRF_HEADER, SESSION_COOKIE, sessionCookie, type SessionRole } from './sessions.js'

/**
 * Who an admin-API request is (docs/dashboard.md, "Sign-in"): the admin key or a viewer key as a bearer token
 * (scripts), or a dashboard session cookie. A session's change needs its CSRF token in a header: the cookie
 * goes with every request the browser makes to this origin, the header only with those the page's own script
 * makes.
 */
export interface Principal {
  role: SessionRole
  /** `key`: a bearer key; `session`: the dashboard's cookie, whose changes carry `csrf`. */
  via: 'key' | 'session'
  csrf: string | null
}

const SAFE_METHODS = new Set(['GET', 'HEAD'])

/** Who the key whose hash is `hash` is: the admin, an active viewer, or nobody (null). */
function roleOfKey (ctl: Controller, hash: string): SessionRole | null {
  if (sameHash(hash, ctl.adminKeyHash)) return 'admin'
  return ctl.tokens.activeViewer(hash) !== undefined ? 'viewer' : null
}

/** The principal of `req`, or null when it carries no valid key or session (a bearer that is neither key is not a session). */
export function principalOf (ctl: Controller, req: FastifyRequest): Principal | null {
  const key = bearer(req.headers.authorization)
  if (key !== null) {
    const role = roleOfKey(ctl, hashSecret(key))
    return role === null ? null : { role, via: 'key', csrf: null }
  }
  const s = ctl.sessions.get(cookieValue(req.headers.cookie, SESSION_COOKIE))
  if (s === undefined) return null
  // A revoked or expired viewer key ends the sessions it made.
  if (s.viewerHash !== null && ctl.tokens.activeViewer(s.viewerHash) === undefined) return null
  return { role: s.role, via: 'session', csrf: s.csrf }
}

/**
 * The pre-handler that lets `role` through: `admin` only the admin, `viewer` the admin and viewers. Throws
 * UnauthorizedError without a valid key or session, ForbiddenError for a viewer on an admin route and for a
 * session's change without its CSRF header.
 */
export function requireRole (ctl: Controller, role: SessionRole, guard: (req: FastifyRequest) => void): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    guard(req)
    const p = principalOf(ctl, req)
    if (p === null) {
      throw new UnauthorizedError('missing or invalid admin key (Authorization: Bearer <contents of DATA/admin.key>), viewer key or ' +
        'dashboard session')
    }
    if (role === 'admin' && p.role !== 'admin') throw new ForbiddenError('a viewer key reads; this takes the admin key')
    if (p.via === 'session' && !SAFE_METHODS.has(req.method) && req.headers[CSRF_HEADER] !== p.csrf) {
      throw new ForbiddenError(`a change from a dashboard session needs its ${CSRF_HEADER} header`)
    }
  }
}

/** `POST /v1/session`: a session for the admin key or an active viewer key, its cookie set on `reply`; null for any other key. */
export function signIn (ctl: Controller, key: string, reply: FastifyReply, secure: boolean): { role: SessionRole, csrf: string, expiresAt: number } | null {
  const hash = hashSecret(key)
  const role = roleOfKey(ctl, hash)
  if (role === null) return null
  const { id, session } = ctl.sessions.create(role, role === 'viewer' ? hash : null)
  void reply.header('set-cookie', sessionCookie(id, secure))
  return { role, csrf: session.csrf, expiresAt: session.expiresAt }
}
