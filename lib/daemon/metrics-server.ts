import { createServer, type Server } from 'node:http'
import { isIP } from 'node:net'
import { ConfigError } from '../errors.js'
import type { Clock } from '../clock.js'
import type { Logger } from '../log.js'
import { cidrContains, parseCidr, parseEndpoint, parseIPv4 } from '../wire/addr.js'
import type { StatusSource } from './metrics.js'

/** What the server serves: one scrape in the text format. */
export interface Scrapeable {
  scrape (): Promise<string>
  readonly contentType: string
}

/** The IPv4 address `host` stands for when it is IPv4 or IPv4-mapped IPv6 (`::ffff:a.b.c.d`); null otherwise. */
function ipv4Of (host: string): number | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host)
  return parseIPv4(mapped?.[1] ?? host)
}

/**
 * Checks a `--metrics-listen ADDR:PORT` against the mesh: returns host and port, or throws a ConfigError
 * saying what to fix. ADDR must be an IP literal. An address inside the mesh CIDR, or a wildcard (0.0.0.0,
 * ::) that includes this node's mesh IP, is refused unless `allowMesh` (--metrics-allow-mesh): every peer
 * reaches the mesh IP, so every peer could scrape the node's view of the mesh.
 */
export function checkMetricsListen (listen: string, cidr: string, allowMesh: boolean): { host: string, port: number } {
  const ep = parseEndpoint(listen)
  if (ep === null || isIP(ep.host) === 0) {
    throw new ConfigError(`--metrics-listen "${listen}" is not IP:PORT; use e.g. 127.0.0.1:9586, or an underlay address of this host ([::1]:9586 for IPv6)`)
  }
  if (allowMesh) return ep
  const mesh = parseCidr(cidr)
  const wildcard = ep.host === '0.0.0.0' || /^[0:]+$/.test(ep.host)
  const v4 = ipv4Of(ep.host)
  if (wildcard || (mesh !== null && v4 !== null && cidrContains(mesh, v4))) {
    const what = wildcard ? `${ep.host} listens on every address, this node's mesh IP included` : `${ep.host} is inside the mesh CIDR ${cidr}`
    throw new ConfigError(`--metrics-listen ${listen}: ${what}, so every peer could scrape this node's metrics. ` +
      'Bind a loopback or underlay address (e.g. 127.0.0.1:9586), or add --metrics-allow-mesh if peers may read them')
  }
  return ep
}

/**
 * The daemon's metrics endpoint: `GET /metrics` (and HEAD) on its own node:http server (not fastify, which
 * the daemon does not otherwise load). Anything else is 404, other methods 405. A failed scrape answers 500
 * and is logged; it never stops the daemon.
 */
export class MetricsServer {
  private constructor (private readonly server: Server, readonly url: string) {}

  /** Listens on host:port (port 0 picks one); throws ConfigError when the address cannot be bound. */
  static async start (o: { host: string, port: number, metrics: Scrapeable, log: Logger }): Promise<MetricsServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]
      if (path !== '/metrics') { res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; metrics are at /metrics\n'); return }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n')
        return
      }
      o.metrics.scrape().then(body => {
        res.writeHead(200, { 'content-type': o.metrics.contentType, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body)
      }, (err: unknown) => {
        o.log.warn({ event: 'metrics.error', reason: (err as Error).message }, 'metrics scrape failed')
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`scrape failed: ${(err as Error).message}\n`)
      })
    })
    server.keepAliveTimeout = 65_000
    // The daemon's own sockets and timers keep the process alive; a start that fails after this bind must still exit.
    server.unref()
    await new Promise<void>((resolve, reject) => {
      server.once('error', err => reject(new ConfigError(`--metrics-listen: cannot listen on ${o.host}:${o.port}: ${err.message}`, { cause: err })))
      server.listen(o.port, o.host, () => resolve())
    })
    const addr = server.address()
    const port = typeof addr === 'object' && addr !== null ? addr.port : o.port
    const url = `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}/metrics`
    o.log.info({ event: 'metrics.listening', url }, `metrics at ${url}`)
    return new MetricsServer(server, url)
  }

  /** Stops listening and closes idle connections. */
  async close (): Promise<void> {
    await new Promise<void>(resolve => { this.server.close(() => resolve()); this.server.closeIdleConnections() })
  }
}

/**
 * Checks `listen` against the mesh CIDR (checkMetricsListen), loads the metrics (prom-client only now, so a
 * daemon without --metrics-listen never loads it) and serves them. Throws ConfigError on a refused or
 * unbindable address.
 */
export async function serveDaemonMetrics (
  o: { listen: string, allowMesh: boolean, cidr: string, status: StatusSource, clock: Clock, log: Logger }
): Promise<MetricsServer> {
  const { host, port } = checkMetricsListen(o.listen, o.cidr, o.allowMesh)
  const { DaemonMetrics } = await import('./metrics.js')
  return await MetricsServer.start({ host, port, metrics: new DaemonMetrics({ status: o.status, clock: o.clock }), log: o.log })
}
