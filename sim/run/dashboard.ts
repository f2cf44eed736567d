/**
 * `weft sim run --ui`: the controller's dashboard, reachable from the machine running the sim. The controller
 * lives in the world's controller namespace, which the host cannot route to, so a relay (sim/netns/relay.ts)
 * carries 127.0.0.1:PORT to it; a viewer key made through the controller signs in read-only.
 */
import { once } from 'node:events'
import { createServer } from 'node:net'
import { join } from 'node:path'
import type { Mesh } from '../cluster.js'
import { ConfigError } from '../../lib/errors.js'
import type { Logger } from '../../lib/log.js'
import { openRelay, type NetnsRelay } from '../netns/relay.js'

/** Extra lifetime of the run's viewer key beyond the scenario's --duration: the join, settling and final pings of a run fit in it. */
export const VIEWER_KEY_MARGIN_MS = 3_600_000

/** What --ui opened: the relay (close it when the run ends), the viewer key and where the admin key is. */
export interface Dashboard {
  relay: NetnsRelay
  url: string
  viewerKey: string
  adminKeyPath: string
}

/** The line the run prints for the person watching. */
export function dashboardLine (d: Pick<Dashboard, 'url' | 'viewerKey' | 'adminKeyPath'>): string {
  return `dashboard: ${d.url}  (viewer key: ${d.viewerKey}; admin key: ${d.adminKeyPath})`
}

/**
 * Makes a viewer key for `ttlMs` through controller 0 (`weft token create --viewer`) and opens a relay from
 * 127.0.0.1:`port` (0 = any free port) to that controller's listener. Rejects when the controller makes no
 * viewer key or the port cannot be bound; nothing is left open then.
 */
export async function openDashboard (mesh: Mesh, o: { port: number, ttlMs: number, log: Logger }): Promise<Dashboard> {
  const ttl = `${Math.ceil(o.ttlMs / 1000)}s`
  const viewerKey = (await mesh.admin('token', 'create', '--viewer', '--ttl', ttl, '--description', 'weft sim run --ui')).trim()
  if (!/^wv_\S+$/.test(viewerKey)) throw new Error(`weft token create --viewer printed "${viewerKey.slice(0, 80)}", not a viewer key (wv_...)`)
  const target = new URL(mesh.controllerUrl)
  const relay = await openRelay(mesh.world, {
    ns: mesh.world.names.controllerNs,
    host: target.hostname,
    port: Number(target.port),
    listenPort: o.port,
    log: o.log.child({ component: 'relay' })
  }).catch(err => { throw portError(o.port, err) })
  const d = { relay, url: relay.url('/ui/'), viewerKey, adminKeyPath: join(mesh.controllerDataDir, 'admin.key') }
  o.log.info({ event: 'sim.dashboard', url: d.url, adminKey: d.adminKeyPath }, 'dashboard relay open')
  return d
}

/**
 * Fails with a ConfigError when 127.0.0.1:`port` cannot be bound now, so that a taken --ui-port is reported
 * before the world is built; the relay binds it again later (and fails the same way if it was taken meanwhile).
 */
export async function checkUiPort (port: number): Promise<void> {
  if (port === 0) return
  const probe = createServer()
  try {
    probe.listen(port, '127.0.0.1')
    await once(probe, 'listening')
  } catch (err) {
    throw portError(port, err)
  } finally {
    probe.close()
  }
}

function portError (port: number, err: unknown): unknown {
  const code = (err as { code?: string }).code
  if (code === 'EADDRINUSE') return new ConfigError(`--ui-port ${port}: 127.0.0.1:${port} is in use; pick another port or 0 for any free one`)
  if (code === 'EACCES') return new ConfigError(`--ui-port ${port}: not allowed to listen on 127.0.0.1:${port}`)
  return err
}
