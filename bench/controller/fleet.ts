import type { SetTarget } from './channel-set.js'
import { ApiClient, type RegisteredNode } from './client.js'
import { waitFor, type ControllerProcess } from './controller-process.js'
import { HeartbeatLoad, mergeHeartbeatFigures, type HeartbeatFigures } from './heartbeats.js'
import { ProcGroup } from './procstat.js'
import { census, type Census } from './setup.js'

/**
 * The controllers of one run as the bench holds them. Simulated node i lives at controller i mod K: it
 * registers there, heartbeats there and holds its update channel there. Joins, policy changes and the join
 * token go through controller 0. With one controller every loop here runs once.
 */

/** What the bench holds for one controller. */
export interface ControllerLink {
  /** Its place in the run (0 .. K-1). */
  index: number
  process: ControllerProcess
  /** Registrations, the timed joins and admin calls: pools of their own, so they never queue behind heartbeats. */
  api: ApiClient
  /** Heartbeats only. */
  heartbeatApi: ApiClient
  /** The heartbeats of the nodes that live here, through `heartbeatApi`. */
  heartbeats: HeartbeatLoad
  /** Where channels open here connect, under this controller's epoch. */
  target: SetTarget
}

/** The controllers of a run. */
export class Fleet {
  readonly links: ControllerLink[]
  /** The controller processes, in link order, for /proc samples. */
  readonly procs: ProcGroup

  /** `versionOf(node)`: the netmap version node reports in its heartbeats (its channel's), or undefined. */
  constructor (controllers: readonly ControllerProcess[], connectionsPerSource: number, versionOf: (node: RegisteredNode) => number | undefined) {
    this.links = controllers.map((ctl, index) => {
      const url = new URL(ctl.origin)
      const heartbeatApi = new ApiClient(ctl.origin, connectionsPerSource)
      return {
        index,
        process: ctl,
        api: new ApiClient(ctl.origin, connectionsPerSource),
        heartbeatApi,
        heartbeats: new HeartbeatLoad(heartbeatApi, { intervalMs: ctl.info.heartbeatIntervalMs, versionOf }),
        target: { controller: index, origin: ctl.origin, host: url.hostname, port: Number(url.port), epoch: ctl.info.epoch }
      }
    })
    this.procs = new ProcGroup(controllers.map(c => c.pid))
  }

  /** Controller 0: joins, policy changes and the join token go through it. */
  get first (): ControllerLink { return this.links[0]! }

  /** The controller simulated node `index` lives at. */
  linkOf (index: number): ControllerLink { return this.links[index % this.links.length]! }

  /** Where each controller's channels connect, in link order. */
  get targets (): SetTarget[] { return this.links.map(l => l.target) }

  /** Waits (bounded) until every controller lists join token `id`: one made through controller 0 reaches the others through the store. */
  async waitForToken (id: string, timeoutMs = 10_000): Promise<void> {
    const adminKey = this.first.process.adminKey
    await Promise.all(this.links.map(async l => await waitFor(`controller ${l.index} to know the join token`, timeoutMs, async () =>
      (await l.api.listTokens(adminKey)).tokens.some(t => t.id === id) ? true : undefined, 100)))
  }

  /** Each controller's own view of the mesh (GET /v1/nodes), in link order. */
  async census (): Promise<Census[]> {
    return await Promise.all(this.links.map(async l => await census(l.api, l.process.adminKey)))
  }

  /** The heartbeat figures of every controller since the last call, as one; starts counting afresh. */
  takeHeartbeatFigures (): HeartbeatFigures {
    return mergeHeartbeatFigures(this.links.map(l => l.heartbeats.takeFigures()))
  }

  /** Starts every controller's heartbeat load (nodes join it as they register). */
  startHeartbeats (): void {
    for (const l of this.links) l.heartbeats.start()
  }

  /** Stops every heartbeat load and waits (at most `timeoutMs`) for the requests still out. */
  async stopHeartbeats (timeoutMs: number): Promise<void> {
    for (const l of this.links) l.heartbeats.stop()
    await Promise.all(this.links.map(async l => await l.heartbeats.drain(timeoutMs)))
  }

  /** Closes every pool. */
  async close (): Promise<void> {
    await Promise.all(this.links.flatMap(l => [l.api.close(), l.heartbeatApi.close()]))
  }
}
