import fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import swagger from '@fastify/swagger'
import type { Logger } from '../log.js'
import { Code, NotFoundError, RateLimitedError, StoreUnavailableError, TokenRevokedError } from '../errors.js'
import type {
  AdvertiseRequest, CreateTokenRequest, HeartbeatRequest, NodeExpiryRequest, NodeRenameRequest, NodeTagsRequest, PolicyTestRequest, RegisterRequest,
  RouteDecisionRequest, SetPolicyRequest
} from '../wire/api.js'
import { MAX_POLICY_BYTES } from '../policy/document.js'
import * as S from '../wire/schemas.js'
import { bearer, WindowLimiter } from './auth.js'
import { requireRole } from './app-auth.js'
import { dashboardRoutes } from './app-dashboard.js'
import { queryIntegers } from './query-integers.js'
import { clientErrorResponse, errorReply } from './errors-http.js'
import type { Controller } from './controller.js'
import type { StoredNode } from './store.js'

declare module 'fastify' {
  interface FastifyRequest { weftNode?: StoredNode, weftStart?: bigint }
}

/** HTTP options of the app. */
export interface AppOptions {
  log: Logger
  bodyLimitBytes: number
  registerRatePerMin: number
  authFailuresPerMin: number
  https?: { cert: Buffer, key: Buffer }
}

/**
 * The fastify app: routes, schemas, auth hooks, error mapping, metrics and OpenAPI. Every route under
 * /v1 has a schema; every error leaves as an ErrorBody with a WEFT_ERR_* code; nothing a client sends
 * can produce a 5xx.
 */
export async function buildApp (ctl: Controller, o: AppOptions): Promise<FastifyInstance> {
  const app = fastify({
    loggerInstance: o.log.child({ component: 'http' }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: o.bodyLimitBytes,
    ...(o.https !== undefined ? { https: o.https } : {}),
    // No type coercion: a body value of the wrong type is a 400, as docs/api.md says. Query strings, which
    // carry only text, get their integers converted deliberately (queryIntegers).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    // Answers fastify and Node's parser make before any route runs carry an ErrorBody with a code too.
    frameworkErrors: (err, _req, reply) => {
      const { status, body } = errorReply(err)
      void (reply as unknown as FastifyReply).code(status).send(body)
    },
    clientErrorHandler: (err, socket) => {
      if ((err as { code?: string }).code === 'ECONNRESET' || socket.destroyed) return
      if (socket.writable) socket.write(clientErrorResponse(err as { code?: string }))
      socket.destroy(err)
    }
  }) as unknown as FastifyInstance
  // Bodies are JSON only: fastify's default text/plain parser hands a string to the schema, or to a route without one.
  app.removeContentTypeParser('text/plain')
  const registerLimiter = new WindowLimiter(ctl.clock, o.registerRatePerMin)
  const authFailures = new WindowLimiter(ctl.clock, o.authFailuresPerMin)

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Weft controller API', version: '1', description: 'See docs/api.md for the proof format and the stream protocol.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } }
    }
  })

  app.setErrorHandler((err, req, reply) => {
    const { status, body } = errorReply(err)
    if (status === 401 || body.code === Code.TOKEN_REJECTED || body.code === Code.NODE_REMOVED) authFailures.hit(req.ip)
    // A store refusing writes has logged store.error once; one line per refused request would bury it.
    if (status >= 500 && body.code !== Code.STORE_UNAVAILABLE) req.log.error({ event: 'http.error', err, url: req.url }, 'request failed')
    void reply.code(status).send(body)
  })
  app.setNotFoundHandler((req, reply) => {
    const { status, body } = errorReply(new NotFoundError(`no route ${req.method} ${req.url.split('?')[0]}`))
    void reply.code(status).send(body)
  })

  app.addHook('onRequest', async (req) => { req.weftStart = process.hrtime.bigint() })
  app.addHook('onResponse', async (req, reply) => {
    if (req.weftStart === undefined) return
    const route = req.routeOptions.url ?? 'unknown'
    ctl.metrics.requestSeconds.observe({ method: req.method, route, status: String(reply.statusCode) }, Number(process.hrtime.bigint() - req.weftStart) / 1e9)
  })

  const guard = (req: FastifyRequest): void => {
    if (authFailures.blocked(req.ip)) throw new RateLimitedError('too many failed authentications from this address; retry in a minute')
  }
  const nodeAuth = async (req: FastifyRequest): Promise<void> => {
    guard(req)
    // A controller cut off from the shared store sends its daemons elsewhere: its netmap may have stopped advancing.
    if (ctl.isolated !== null) throw new StoreUnavailableError(`this controller is cut off from its store (${ctl.isolated}); use another controller`)
    req.weftNode = ctl.registry.authenticate(bearer(req.headers.authorization))
  }
  const adminAuth = requireRole(ctl, 'admin', guard)
  const viewAuth = requireRole(ctl, 'viewer', guard)
  const node = (req: FastifyRequest): StoredNode => req.weftNode!
  const sec = [{ bearer: [] }]
  const errors = { 400: S.errorBody, 401: S.errorBody, 403: S.errorBody, 429: S.errorBody }
  // A revoked join token is a rejected one: it counts as a failed authentication like the others.
  app.addHook('onError', async (req, _reply, err) => { if (err instanceof TokenRevokedError) authFailures.hit(req.ip) })

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }))
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    void reply.type(ctl.metrics.registry.contentType)
    return await ctl.metrics.registry.metrics()
  })
  app.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  app.get('/v1/info', { schema: { summary: 'What a node needs before registering', response: { 200: S.controllerInfo } } }, async () => ctl.info())

  app.post<{ Body: RegisterRequest }>('/v1/register', {
    schema: { summary: 'Register or re-register a node', body: S.registerRequest, response: { 200: S.registerResponse, ...errors, 409: S.errorBody } },
    preHandler: async (req) => {
      guard(req)
      if (registerLimiter.hit(req.ip)) throw new RateLimitedError('too many registrations from this address; retry in a minute')
    }
  }, async (req) => await ctl.registration.register(req.body, { credential: bearer(req.headers.authorization), sourceIp: req.ip }))

  app.post<{ Body: HeartbeatRequest }>('/v1/heartbeat', {
    schema: { summary: 'Liveness, endpoints and SWIM report', security: sec, body: S.heartbeatRequest, response: { 200: S.heartbeatResponse, ...errors } },
    preHandler: nodeAuth
  }, async (req) => ctl.registry.heartbeat(node(req), req.body, req.ip))

  app.put<{ Body: AdvertiseRequest }>('/v1/node/routes', {
    schema: {
      summary: 'What this node advertises: subnet routes, exit node, priority (replaces the last advertisement)',
      security: sec,
      body: S.advertiseRequest,
      response: { 200: S.nodeRouting, ...errors, 409: S.errorBody, 503: S.errorBody }
    },
    preHandler: nodeAuth
  }, async (req) => await ctl.advertiseRoutes(node(req), req.body))

  app.post('/v1/leave', {
    schema: { summary: 'Leave the mesh gracefully', security: sec, response: { 204: { type: 'null' }, ...errors } },
    preHandler: nodeAuth
  }, async (req, reply) => {
    await ctl.registry.leave(node(req))
    return await reply.code(204).send()
  })

  app.get('/v1/netmap', {
    schema: { summary: 'The full netmap', security: sec, response: { 200: S.netmap, ...errors } },
    preHandler: nodeAuth
  }, async () => {
    // Read-your-writes for whoever asks outright: changes held by the netmap pacing are published first.
    // The update channel does not do this, or every daemon connecting during a join would defeat the pacing.
    ctl.netmap.flush()
    return ctl.netmap.snapshot()
  })

  app.get<{ Querystring: { epoch?: string, since?: number } }>('/v1/netmap/stream', {
    preValidation: queryIntegers(S.streamQuery),
    schema: {
      summary: 'Update channel: NDJSON of NetmapMessage (catch-up line, then deltas and pings)',
      security: sec,
      querystring: S.streamQuery,
      response: { 200: { description: 'application/x-ndjson stream', type: 'string' }, ...errors }
    },
    preHandler: nodeAuth
  }, async (req, reply) => { openStream(ctl, req, reply) })

  app.post<{ Body: CreateTokenRequest | undefined }>('/v1/tokens', {
    schema: { summary: 'Create a join token (admin)', security: sec, body: S.createTokenRequest, response: { 200: S.createTokenResponse, ...errors } },
    preHandler: adminAuth
  }, async (req) => await ctl.createToken(req.body ?? {}))

  app.get('/v1/nodes', {
    schema: { summary: 'Every node with control-side facts (admin or viewer)', security: sec, response: { 200: S.nodeListResponse, ...errors } },
    preHandler: viewAuth
  }, async () => ({ nodes: ctl.registry.list() }))

  app.delete<{ Params: { id: string } }>('/v1/nodes/:id', {
    schema: { summary: 'Remove a node (admin)', security: sec, params: S.nodeIdParams, response: { 204: { type: 'null' }, ...errors, 404: S.errorBody } },
    preHandler: adminAuth
  }, async (req, reply) => {
    await ctl.registry.remove(req.params.id)
    return await reply.code(204).send()
  })

  app.get('/v1/tokens', {
    schema: { summary: 'Every join token on record, without secrets (admin)', security: sec, response: { 200: S.tokenListResponse, ...errors } },
    preHandler: adminAuth
  }, async () => ctl.listTokens())

  app.delete<{ Params: { id: string } }>('/v1/tokens/:id', {
    schema: {
      summary: 'Revoke a join token (admin)',
      security: sec,
      params: S.tokenIdParams,
      response: {
        200: S.tokenInfo,
        ...errors,
        404: S.errorBody,
        503: S.errorBody
      }
    },
    preHandler: adminAuth
  }, async (req) => await ctl.revokeToken(req.params.id))

  app.put<{ Params: { id: string }, Body: NodeExpiryRequest }>('/v1/nodes/:id/expiry', {
    schema: {
      summary: 'Set or clear when a node expires (admin)',
      security: sec,
      params: S.nodeIdParams,
      body: S.nodeExpiryRequest,
      response: { 200: S.nodeStatus, ...errors, 404: S.errorBody, 409: S.errorBody, 503: S.errorBody }
    },
    preHandler: adminAuth
  }, async (req) => await ctl.setNodeExpiry(req.params.id, req.body))

  app.post<{ Params: { id: string }, Body: RouteDecisionRequest }>('/v1/nodes/:id/routes', {
    schema: {
      summary: 'Approve or reject a node\'s routes, each a CIDR or `exit` (admin)',
      security: sec,
      params: S.nodeIdParams,
      body: S.routeDecisionRequest,
      response: { 200: S.nodeStatus, ...errors, 404: S.errorBody, 409: S.errorBody, 503: S.errorBody }
    },
    preHandler: adminAuth
  }, async (req) => await ctl.decideRoutes(req.params.id, req.body))

  app.put<{ Params: { id: string }, Body: NodeTagsRequest }>('/v1/nodes/:id/tags', {
    schema: {
      summary: 'Replace a node\'s tags; an empty list clears them (admin)',
      security: sec,
      params: S.nodeIdParams,
      body: S.nodeTagsRequest,
      response: { 200: S.nodeStatus, ...errors, 404: S.errorBody, 409: S.errorBody, 503: S.errorBody }
    },
    preHandler: adminAuth
  }, async (req) => await ctl.setNodeTags(req.params.id, req.body))

  app.put<{ Params: { id: string }, Body: NodeRenameRequest }>('/v1/nodes/:id/name', {
    schema: {
      summary: 'Rename a node: its DNS label from now on, unique in the mesh (admin)',
      security: sec,
      params: S.nodeIdParams,
      body: S.nodeRenameRequest,
      response: { 200: S.nodeStatus, ...errors, 404: S.errorBody, 409: S.errorBody, 503: S.errorBody }
    },
    preHandler: adminAuth
  }, async (req) => await ctl.renameNode(req.params.id, req.body))

  await dashboardRoutes(app, ctl, { guard, sec, errors, secure: o.https !== undefined })

  app.get('/v1/backup', {
    schema: {
      summary: 'Every record of the store, read at one moment, for `weft controller backup` (admin); secrets only as hashes, no keys',
      security: sec,
      response: { 200: S.controllerBackup, ...errors, 503: S.errorBody }
    },
    preHandler: adminAuth
  }, async () => await ctl.backup())

  app.get('/v1/policy', {
    schema: { summary: 'The access policy as stored (admin or viewer)', security: sec, response: { 200: S.policyInfo, ...errors, 404: S.errorBody } },
    preHandler: viewAuth
  }, async () => ctl.policy.get())

  app.put<{ Body: SetPolicyRequest }>('/v1/policy', {
    // The document may be 1 MiB; JSON escapes (newlines, quotes) make the body larger than the text.
    bodyLimit: 2 * MAX_POLICY_BYTES,
    schema: {
      summary: 'Set the access policy: checked against the registry, then stored with the next version and published (admin)',
      security: sec,
      body: S.setPolicyRequest,
      response: { 200: S.setPolicyResponse, ...errors, 409: S.errorBody, 503: S.errorBody }
    },
    preHandler: adminAuth
  }, async (req) => await ctl.policy.set(req.body, req.ip))

  app.post<{ Body: PolicyTestRequest }>('/v1/policy/test', {
    schema: {
      summary: 'What the access policy in force says about a flow (admin)',
      security: sec,
      body: S.policyTestRequest,
      response: { 200: S.policyTestResponse, ...errors }
    },
    preHandler: adminAuth
  }, async (req) => ctl.policy.test(req.body))

  return app
}

/** Starts an update channel: headers, the catch-up line, then the channel joins the fan-out set. */
function openStream (ctl: Controller, req: FastifyRequest<{ Querystring: { epoch?: string, since?: number } }>, reply: FastifyReply): void {
  const n = req.weftNode!
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store', 'x-accel-buffering': 'no' })
  res.socket?.setNoDelay(true)
  res.socket?.setKeepAlive(true, 10_000)
  // No await between the catch-up line and joining the set: no delta can fall between them.
  const first = ctl.netmap.catchUp(req.query.epoch, req.query.since)
  if (first !== null) res.write(JSON.stringify(first) + '\n')
  else res.write(ctl.pingLine())
  ctl.channels.open(n.id, res)
  req.log.debug({ event: 'channel.open', nodeId: n.id, first: first?.type ?? 'none' }, 'update channel open')
}
