import { existsSync } from 'node:fs'
import type { ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fastifyStatic from '@fastify/static'
import { NotFoundError, UnauthorizedError } from '../errors.js'
import type { HistoryResponse, MeshEvent, MeshMatrix, NodeHistory, SignInRequest } from '../wire/api.js'
import * as S from '../wire/schemas.js'
import { principalOf, requireRole, signIn } from './app-auth.js'
import { queryIntegers } from './query-integers.js'
import type { Controller } from './controller.js'
import { HISTORY_KEEP_MS } from './history.js'
import { cookieValue, SESSION_COOKIE, sessionCookie } from './sessions.js'

/** Where the built dashboard is: `dist/ui/`, beside `dist/lib/`. */
export const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url))

/** A comment line on every event stream this often, so proxies and the browser keep it open. */
export const EVENT_PING_MS = 15_000

/** The history a request without `since` gets: the last day. */
const DEFAULT_HISTORY_MS = 86_400_000

/**
 * What the dashboard's pages may do (docs/dashboard.md, "Sign-in"): only this origin's scripts and styles, no
 * frames around it, no referrer leaving it.
 */
const UI_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY'
}

/** What the dashboard routes share with the rest of the app. */
export interface DashboardRouteDeps {
  guard: (req: FastifyRequest) => void
  sec: Array<Record<string, never[]>>
  errors: Record<number, unknown>
  /** Whether the listener serves TLS: the session cookie is then `Secure`. */
  secure: boolean
}

/**
 * The routes behind the dashboard (docs/dashboard.md) and its static files: sign-in, the mesh matrix, the event
 * timeline and its stream, the health history, and `/ui/`. Reads take the admin key, a viewer key or a session.
 */
export async function dashboardRoutes (app: FastifyInstance, ctl: Controller, d: DashboardRouteDeps): Promise<void> {
  const { guard, sec, errors } = d
  const viewAuth = requireRole(ctl, 'viewer', guard)

  app.post<{ Body: SignInRequest }>('/v1/session', {
    schema: {
      summary: 'Sign in to the dashboard with the admin key or a viewer key: a session cookie',
      body: S.signInRequest,
      response: { 200: S.sessionInfo, ...errors }
    },
    preHandler: async (req) => { guard(req) }
  }, async (req, reply) => {
    const s = signIn(ctl, req.body.key, reply, d.secure)
    if (s === null) throw new UnauthorizedError('that is neither the admin key nor an active viewer key')
    req.log.info({ event: 'session.open', role: s.role, source: req.ip }, `dashboard session opened (${s.role}) from ${req.ip}`)
    return s
  })

  app.get('/v1/session', {
    schema: { summary: 'The dashboard session of this cookie', response: { 200: S.sessionInfo, ...errors } },
    preHandler: async (req) => { guard(req) }
  }, async (req) => {
    const s = ctl.sessions.get(cookieValue(req.headers.cookie, SESSION_COOKIE))
    if (s === undefined || principalOf(ctl, req)?.via !== 'session') throw new UnauthorizedError('no dashboard session: sign in')
    return { role: s.role, csrf: s.csrf, expiresAt: s.expiresAt }
  })

  app.delete('/v1/session', {
    schema: { summary: 'Sign out: the session ends and its cookie is cleared', response: { 204: { type: 'null' }, ...errors } },
    preHandler: viewAuth
  }, async (req, reply) => {
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE)
    if (id !== null) ctl.sessions.delete(id)
    return await reply.code(204).header('set-cookie', sessionCookie(null, d.secure)).send()
  })

  app.get('/v1/mesh', {
    schema: {
      summary: 'Who holds whom alive, suspect or dead, from the daemons\' SWIM reports (admin or viewer)',
      security: sec,
      response: { 200: S.meshMatrix, ...errors }
    },
    preHandler: viewAuth
  }, async (): Promise<MeshMatrix> => {
    const nodes = ctl.registry.named()
    return { at: ctl.clock.now(), nodes, rows: ctl.liveness.matrix(nodes.map(n => n.id)) }
  })

  app.get<{ Querystring: { since?: number, limit?: number } }>('/v1/events', {
    preValidation: queryIntegers(S.eventsQuery),
    schema: {
      summary: 'Recent events of the mesh, oldest first (admin or viewer)',
      security: sec,
      querystring: S.eventsQuery,
      response: { 200: S.eventsResponse, ...errors }
    },
    preHandler: viewAuth
  }, async (req) => ({ events: ctl.events.after(req.query.since ?? 0, req.query.limit), last: ctl.events.last }))

  const streams = new Set<ServerResponse>()
  const ping = ctl.clock.setInterval(() => { for (const res of streams) res.write(': ping\n\n') }, EVENT_PING_MS, { unref: true })
  app.addHook('preClose', async () => {
    ping.cancel()
    for (const res of streams) res.end()
    streams.clear()
  })
  app.get<{ Querystring: { since?: number } }>('/v1/events/stream', {
    preValidation: queryIntegers(S.eventsQuery),
    schema: {
      summary: 'Events as they happen: text/event-stream, after Last-Event-ID or ?since (admin or viewer)',
      security: sec,
      querystring: S.eventsQuery,
      response: { 200: { description: 'text/event-stream', type: 'string' }, ...errors }
    },
    preHandler: viewAuth
  }, async (req, reply) => {
    const last = Number(req.headers['last-event-id'])
    openEventStream(ctl, reply, Number.isSafeInteger(last) && last >= 0 ? last : req.query.since ?? ctl.events.last, streams)
  })

  app.get<{ Querystring: { since?: number } }>('/v1/history', {
    preValidation: queryIntegers(S.historyQuery),
    schema: {
      summary: 'Every node\'s health changes since a time, at most 7 days back (admin or viewer)',
      security: sec,
      querystring: S.historyQuery,
      response: { 200: S.historyResponse, ...errors }
    },
    preHandler: viewAuth
  }, async (req): Promise<HistoryResponse> => {
    const { from, to } = historyWindow(ctl, req.query.since)
    return { from, to, nodes: ctl.registry.named().map(n => nodeHistory(ctl, n, from)) }
  })

  app.get<{ Params: { id: string }, Querystring: { since?: number } }>('/v1/nodes/:id/history', {
    preValidation: queryIntegers(S.historyQuery),
    schema: {
      summary: 'One node\'s health changes since a time, at most 7 days back (admin or viewer)',
      security: sec,
      params: S.nodeIdParams,
      querystring: S.historyQuery,
      response: { 200: S.nodeHistory, ...errors, 404: S.errorBody }
    },
    preHandler: viewAuth
  }, async (req): Promise<NodeHistory> => {
    const n = ctl.registry.namedOne(req.params.id)
    if (n === undefined) throw new NotFoundError(`no node with id ${req.params.id}`)
    return nodeHistory(ctl, n, historyWindow(ctl, req.query.since).from)
  })

  app.get('/ui', { schema: { hide: true } }, async (_req, reply) => await reply.redirect('/ui/'))
  if (existsSync(UI_DIR)) {
    await app.register(fastifyStatic, {
      root: UI_DIR,
      prefix: '/ui/',
      index: 'index.html',
      cacheControl: true,
      maxAge: 0,
      setHeaders: res => { for (const [k, v] of Object.entries(UI_HEADERS)) void res.header(k, v) }
    })
  } else {
    app.get('/ui/*', { schema: { hide: true } }, async () => {
      throw new NotFoundError(`the dashboard is not built (${UI_DIR} is missing): run \`npm run build\``)
    })
  }
}

function historyWindow (ctl: Controller, since: number | undefined): { from: number, to: number } {
  const to = ctl.clock.now()
  return { from: Math.max(since ?? to - DEFAULT_HISTORY_MS, to - HISTORY_KEEP_MS), to }
}

function nodeHistory (ctl: Controller, n: { id: string, hostname: string, dnsName: string | null }, from: number): NodeHistory {
  return { id: n.id, hostname: n.hostname, dnsName: n.dnsName, changes: ctl.history.since(n.id, from) }
}

/** Starts an event stream: headers, the events after `since`, then every new one as it happens. */
function openEventStream (ctl: Controller, reply: FastifyReply, since: number, streams: Set<ServerResponse>): void {
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' })
  res.socket?.setNoDelay(true)
  const send = (e: MeshEvent): void => { res.write(`id: ${e.seq}\nevent: weft\ndata: ${JSON.stringify(e)}\n\n`) }
  // No await between the replay and the subscription: no event can fall between them.
  for (const e of ctl.events.after(since)) send(e)
  res.write(': open\n\n')
  const unsubscribe = ctl.events.subscribe(send)
  streams.add(res)
  res.on('close', () => { unsubscribe(); streams.delete(res) })
}
