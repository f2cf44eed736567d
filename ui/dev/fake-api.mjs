// A stand-in controller for developing the dashboard without a mesh: it serves dist/ui/ at /ui/ and answers the
// dashboard contract's /v1 routes (session, nodes, mesh, events and their stream, history, info) from a simulated
// mesh whose nodes fail, recover, flap and half-break at random, one step a second. Development only; nothing ships it.
//
// Usage: node scripts/build-ui.mjs && node ui/dev/fake-api.mjs [--port 8787] [--nodes 200] [--seed 1]
// Then open http://127.0.0.1:8787/ui/ and sign in with "admin-key" or "viewer-key".
import { randomBytes } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '8787' },
    host: { type: 'string', default: '127.0.0.1' },
    nodes: { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
  },
})
const PORT = Number(args.port)
const NODE_COUNT = Number(args.nodes)
const ADMIN_KEY = 'admin-key'
const VIEWER_KEY = 'viewer-key'
const TICK_MS = 1000
const DAY = 86400_000
const HISTORY_KEEP_MS = 7 * DAY
const HISTORY_MAX = 500
const EVENTS_KEEP = 1000
const UI_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'ui')

// mulberry32: a seeded generator, so a run with the same seed shows the same mesh.
let seed = Number(args.seed) >>> 0
function random () {
  seed = (seed + 0x6D2B79F5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = (list) => list[Math.floor(random() * list.length)]

// ---- the simulated mesh -----------------------------------------------------------------------------------------

const ROLES = ['web', 'db', 'cache', 'worker', 'edge', 'build', 'vpn', 'mon']
const REASONS = {
  online: 'heartbeat fresh; peers hold it alive',
  offline: 'heartbeat stale and peers hold it dead',
  'control-lost': 'peers hold it alive; no heartbeat for 45 s',
  'mesh-lost': 'heartbeat fresh; peers hold it dead',
  left: 'left gracefully (weft leave)',
  removed: 'removed by an admin',
}

/**
 * Each node has a condition the simulation walks between: `up`, `down` (host gone), `control` (cut off from the
 * controller only), `partial` (a subset of peers cannot reach it) or `left`. Health and the matrix follow from it.
 */
const nodes = []
const start = Date.now()
for (let i = 0; i < NODE_COUNT; i++) {
  const role = ROLES[i % ROLES.length]
  const hostname = `${role}-${Math.floor(i / ROLES.length) + 1}`
  const advertised = i % 23 === 5 ? [`10.${i % 250}.0.0/16`] : []
  nodes.push({
    id: `n${(0x1000 + i).toString(16)}${randomBytes(2).toString('hex')}`,
    hostname,
    dnsName: i % 50 === 49 ? null : `${hostname}.weft.internal`,
    meshIp: `100.64.${Math.floor((i + 1) / 250)}.${((i + 1) % 250) + 1}`,
    tags: i % 4 === 0 ? [`tag:${role}`] : i % 7 === 0 ? [`tag:${role}`, 'tag:prod'] : [],
    endpoints: [`192.0.2.${(i % 250) + 1}:51820`],
    observedEndpoint: i % 3 === 0 ? `198.51.100.${(i % 250) + 1}:${40000 + i}` : `192.0.2.${(i % 250) + 1}:51820`,
    agentVersion: i % 17 === 0 ? '0.0.9' : '0.1.0',
    routing: {
      advertised,
      approved: i % 46 === 5 ? advertised : [],
      enabled: i % 46 === 5 ? advertised : [],
      exitNode: { advertised: i === 7, approved: false },
      priority: advertised.length > 0 ? 10 : 0,
    },
    condition: 'up',
    since: start - Math.floor(random() * DAY),
    cut: new Set(), // reporters that cannot reach it while `partial`
    health: 'online',
    healthReason: REASONS.online,
    history: [],
  })
}

// One node whose name, tag and reason carry markup: the page must show it as text (browser checks look for
// window.__xss staying undefined).
Object.assign(nodes.at(-1), {
  hostname: 'evil<img src=x onerror="window.__xss=1">',
  dnsName: null,
  tags: ['tag:<b>bold</b>'],
  agentVersion: '<script>window.__xss=2</script>',
})

function fusedHealth (n) {
  switch (n.condition) {
    case 'up': return 'online'
    case 'down': return 'offline'
    case 'control': return 'control-lost'
    case 'partial': return n.cut.size > nodes.length / 2 ? 'mesh-lost' : 'online'
    case 'left': return 'left'
  }
}

/** What reporter r holds about target t, one matrix character. */
function cell (r, t) {
  if (r === t) return '-'
  if (r.condition === 'down' || r.condition === 'left') return '?'
  if (t.condition === 'down' || t.condition === 'left') return Date.now() - t.since < 5000 ? 's' : 'd'
  if (t.condition === 'partial' && t.cut.has(r.id)) return Date.now() - t.since < 5000 ? 's' : 'd'
  return random() < 0.0001 ? 's' : 'a'
}

let matrix = { at: Date.now(), nodes: [], rows: [] }
function computeMatrix () {
  const sorted = [...nodes].sort((a, b) => name(a).localeCompare(name(b)))
  matrix = {
    at: Date.now(),
    nodes: sorted.map((n) => ({ id: n.id, hostname: n.hostname, dnsName: n.dnsName, meshIp: n.meshIp, health: n.health })),
    rows: sorted.map((r) => sorted.map((t) => cell(r, t)).join('')),
  }
  const index = new Map(sorted.map((n, i) => [n.id, i]))
  for (const n of nodes) {
    const col = index.get(n.id)
    const m = { reporters: 0, alive: 0, suspect: 0, dead: 0 }
    for (const row of matrix.rows) {
      const c = row[col]
      if (c === 'a') m.alive++
      else if (c === 's') m.suspect++
      else if (c === 'd') m.dead++
    }
    m.reporters = m.alive + m.suspect + m.dead
    n.mesh = m
  }
}

const name = (n) => n.dnsName ?? n.hostname

function setHealth (n, now, reason) {
  const health = fusedHealth(n)
  if (health === n.health) return
  const from = n.health
  n.health = health
  n.healthReason = reason ?? REASONS[health]
  record(n, now, health, n.healthReason)
  emit({ at: now, type: 'health', nodeId: n.id, name: name(n), from, to: health, reason: n.healthReason })
}

function record (n, at, health, reason) {
  n.history.push({ at, health, reason })
  while (n.history.length > HISTORY_MAX || (n.history.length > 1 && n.history[1].at < at - HISTORY_KEEP_MS)) n.history.shift()
}

/** One step of the random walk: a few nodes change condition; partial cuts grow and heal. */
function tick () {
  const now = Date.now()
  for (const n of nodes) {
    const p = random()
    if (n.condition === 'up') {
      if (p < 0.0005) { n.condition = 'down'; n.since = now } else if (p < 0.0008) { n.condition = 'control'; n.since = now } else if (p < 0.0012) {
        n.condition = 'partial'
        n.since = now
        n.cut = new Set(nodes.filter(() => random() < 0.05 + random() * 0.6).map((r) => r.id))
      } else if (p < 0.00125) {
        n.condition = 'left'
        n.since = now
        emit({ at: now, type: 'leave', nodeId: n.id, name: name(n), reason: 'weft leave' })
      }
    } else if (n.condition === 'left') {
      if (p < 0.01) {
        n.condition = 'up'
        n.since = now
        emit({ at: now, type: 'join', nodeId: n.id, name: name(n), reason: 'registered again' })
      }
    } else if (p < 0.02) {
      n.condition = 'up'
      n.since = now
      n.cut = new Set()
    }
    setHealth(n, now)
  }
  computeMatrix()
}

/** Seven days of made-up flapping per node, so the history view has something to show at every range. */
function seedHistory () {
  for (const n of nodes) {
    let at = start - HISTORY_KEEP_MS - DAY
    n.history.push({ at, health: 'online', reason: REASONS.online })
    const flaky = random() < 0.15
    for (;;) {
      at += Math.floor(random() * (flaky ? 3 : 30) * 3600_000)
      if (at >= start - 60_000) break
      const health = pick(['offline', 'control-lost', 'mesh-lost', 'offline'])
      n.history.push({ at, health, reason: REASONS[health] })
      at += Math.floor(60_000 + random() * (flaky ? 20 : 90) * 60_000)
      if (at >= start - 60_000) break
      n.history.push({ at, health: 'online', reason: 'recovered: ' + REASONS.online })
    }
    if (n.history.at(-1).health !== 'online') n.history.push({ at: start - 60_000, health: 'online', reason: REASONS.online })
  }
}

// ---- events -------------------------------------------------------------------------------------------------------

const events = []
let seq = 0
const streams = new Set()

function emit (e) {
  const event = { seq: ++seq, ...e }
  events.push(event)
  if (events.length > EVENTS_KEEP) events.shift()
  for (const res of streams) writeEvent(res, event)
}

function writeEvent (res, e) {
  res.write(`id: ${e.seq}\nevent: weft\ndata: ${JSON.stringify(e)}\n\n`)
}

// ---- sessions -----------------------------------------------------------------------------------------------------

const sessions = new Map()
const failures = new Map()

function cookieOf (req) {
  const m = /(?:^|;\s*)weft_session=([^;]+)/.exec(req.headers.cookie ?? '')
  return m === null ? null : m[1]
}

function sessionOf (req) {
  const token = cookieOf(req)
  const s = token === null ? undefined : sessions.get(token)
  if (s === undefined || s.expiresAt < Date.now()) return null
  return { token, ...s }
}

// ---- HTTP ---------------------------------------------------------------------------------------------------------

const STATUS_TEXT = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests' }

function send (res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers })
  res.end(body === undefined ? '' : JSON.stringify(body))
}

function fail (res, status, code, message) {
  send(res, status, { statusCode: status, code, error: STATUS_TEXT[status] ?? 'Error', message })
}

async function readJson (req) {
  let text = ''
  for await (const chunk of req) text += chunk
  try { return JSON.parse(text) } catch { return null }
}

function nodeStatus (n) {
  const fresh = n.condition === 'up' || n.condition === 'partial'
  return {
    id: n.id,
    hostname: n.hostname,
    dnsName: n.dnsName,
    meshIp: n.meshIp,
    tags: n.tags,
    endpoints: n.endpoints,
    observedEndpoint: n.observedEndpoint,
    health: n.health,
    healthReason: n.healthReason,
    lastSeenAt: fresh ? Date.now() - Math.floor(random() * 5000) : n.since,
    agentVersion: n.agentVersion,
    routing: n.routing,
    control: { fresh, channelOpen: fresh, connectedSince: fresh ? n.since : null },
    mesh: n.mesh,
  }
}

function historyOf (n, since) {
  const changes = n.history.filter((c, i) => c.at >= since || n.history[i + 1] === undefined || n.history[i + 1].at > since)
  return { id: n.id, hostname: n.hostname, dnsName: n.dnsName, changes }
}

const READ_ROUTES = new Set(['/v1/nodes', '/v1/mesh', '/v1/events', '/v1/events/stream', '/v1/history', '/v1/policy', '/v1/info', '/v1/session'])
const CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
}

async function serveUi (res, path) {
  const file = path === '/ui/' ? 'index.html' : path.slice('/ui/'.length)
  const files = await readdir(UI_DIR).catch(() => [])
  if (!files.includes(file)) return fail(res, 404, 'WEFT_ERR_NOT_FOUND', `no ${path}; run node scripts/build-ui.mjs`)
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    'cache-control': 'no-cache',
    // The controller's policy, so that anything the page does that it would refuse shows up here too.
    'content-security-policy': CSP,
  })
  res.end(await readFile(join(UI_DIR, file)))
}

async function handle (req, res) {
  const url = new URL(req.url, 'http://fake')
  const path = url.pathname
  const method = req.method
  if (path === '/' || path === '/ui') { res.writeHead(302, { location: '/ui/' }); return res.end() }
  if (path.startsWith('/ui/')) return serveUi(res, path)
  if (path === '/v1/info') return send(res, 200, { cidr: '100.64.0.0/10', protocols: { api: 'v1', registrationProof: '1', weft: '0.1.0-fake' } })

  if (path === '/v1/session' && method === 'POST') {
    const ip = req.socket.remoteAddress
    if ((failures.get(ip) ?? 0) >= 10) return fail(res, 429, 'WEFT_ERR_RATE_LIMITED', 'too many failed sign-ins; wait a minute')
    const body = await readJson(req)
    const role = body?.key === ADMIN_KEY ? 'admin' : body?.key === VIEWER_KEY ? 'viewer' : null
    if (role === null) {
      failures.set(ip, (failures.get(ip) ?? 0) + 1)
      setTimeout(() => failures.set(ip, Math.max(0, (failures.get(ip) ?? 1) - 1)), 60_000).unref()
      return fail(res, 401, 'WEFT_ERR_UNAUTHORIZED', 'unknown key')
    }
    const token = randomBytes(24).toString('base64url')
    const s = { role, csrf: randomBytes(16).toString('base64url'), expiresAt: Date.now() + 43200_000 }
    sessions.set(token, s)
    return send(res, 200, s, { 'set-cookie': `weft_session=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200` })
  }

  const session = sessionOf(req)
  if (session === null) return fail(res, 401, 'WEFT_ERR_UNAUTHORIZED', 'no session; sign in')
  if (method !== 'GET' && method !== 'HEAD' && req.headers['x-weft-csrf'] !== session.csrf) {
    return fail(res, 403, 'WEFT_ERR_CSRF', 'missing or wrong X-Weft-CSRF header')
  }
  const read = method === 'GET' && (READ_ROUTES.has(path) || /^\/v1\/nodes\/[^/]+\/history$/.test(path))
  if (session.role === 'viewer' && !read && !(path === '/v1/session' && method === 'DELETE')) {
    return fail(res, 403, 'WEFT_ERR_FORBIDDEN', 'a viewer key may only read')
  }

  if (path === '/v1/session') {
    if (method === 'GET') return send(res, 200, { role: session.role, csrf: session.csrf, expiresAt: session.expiresAt })
    if (method === 'DELETE') {
      sessions.delete(session.token)
      return send(res, 204, undefined, { 'set-cookie': 'weft_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0' })
    }
  }
  if (path === '/v1/nodes' && method === 'GET') return send(res, 200, { nodes: nodes.map(nodeStatus) })
  if (path === '/v1/mesh' && method === 'GET') return send(res, 200, matrix)
  if (path === '/v1/events' && method === 'GET') {
    const since = Number(url.searchParams.get('since') ?? 0)
    const limit = Math.min(Number(url.searchParams.get('limit') ?? EVENTS_KEEP), EVENTS_KEEP)
    return send(res, 200, { events: events.filter((e) => e.seq > since).slice(-limit), last: seq })
  }
  if (path === '/v1/events/stream' && method === 'GET') {
    const since = Number(req.headers['last-event-id'] ?? url.searchParams.get('since') ?? seq)
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    for (const e of events) if (e.seq > since) writeEvent(res, e)
    streams.add(res)
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000)
    req.on('close', () => { clearInterval(ping); streams.delete(res) })
    return
  }
  if (path === '/v1/history' && method === 'GET') {
    const now = Date.now()
    const from = Math.max(Number(url.searchParams.get('since') ?? now - DAY), now - HISTORY_KEEP_MS)
    return send(res, 200, { from, to: now, nodes: nodes.map((n) => historyOf(n, from)) })
  }
  const m = /^\/v1\/nodes\/([^/]+)(\/routes|\/history)?$/.exec(path)
  const n = m === null ? undefined : nodes.find((x) => x.id === decodeURIComponent(m[1]))
  if (m !== null && n === undefined) return fail(res, 404, 'WEFT_ERR_NOT_FOUND', `no node ${m[1]}`)
  if (n !== undefined && m[2] === undefined && method === 'DELETE') {
    nodes.splice(nodes.indexOf(n), 1)
    emit({ at: Date.now(), type: 'remove', nodeId: n.id, name: name(n), from: n.health, to: 'removed', reason: 'removed by an admin' })
    computeMatrix()
    return send(res, 204)
  }
  if (n !== undefined && m[2] === '/routes' && method === 'POST') {
    const body = await readJson(req)
    const approve = Array.isArray(body?.approve) ? body.approve : []
    for (const r of approve) {
      if (r === 'exit') {
        n.routing.exitNode.approved = true
      } else if (!n.routing.advertised.includes(r)) {
        return fail(res, 400, 'WEFT_ERR_BAD_REQUEST', `${r} is not advertised by ${name(n)}`)
      } else if (!n.routing.approved.includes(r)) {
        n.routing.approved = [...n.routing.approved, r].sort()
        n.routing.enabled = n.routing.approved
      }
    }
    emit({ at: Date.now(), type: 'routes', nodeId: n.id, name: name(n), reason: `approved ${approve.join(', ')}` })
    return send(res, 200, nodeStatus(n))
  }
  if (n !== undefined && m[2] === '/history' && method === 'GET') {
    return send(res, 200, historyOf(n, Math.max(Number(url.searchParams.get('since') ?? 0), Date.now() - HISTORY_KEEP_MS)))
  }
  return fail(res, 404, 'WEFT_ERR_NOT_FOUND', `no route ${method} ${path}`)
}

seedHistory()
computeMatrix()
setInterval(tick, TICK_MS)
createServer((req, res) => {
  handle(req, res).catch((err) => { console.error(err); if (!res.headersSent) fail(res, 500, 'WEFT_ERR_INTERNAL', String(err)) })
}).listen(PORT, args.host, () => {
  console.log(`fake controller with ${NODE_COUNT} nodes: http://${args.host}:${PORT}/ui/ (keys: ${ADMIN_KEY}, ${VIEWER_KEY})`)
})
