/**
 * `controller-failover` (needs `--controllers 2` or more: an etcd cluster of three members, one controller
 * serving, the others standbys). kill -9 of the serving controller, the one every daemon holds its update
 * channel on: timed from the kill to each daemon's channel open on another controller (its `control.connected`
 * there). The killed controller comes back as a standby. Then kill -9 of the etcd member that leads the cluster:
 * timed from the kill to the first write the serving controller accepts again, and the daemons that lost their
 * channel meanwhile are counted (none should). The member comes back.
 */
import { stats } from '../report/analyze.js'
import type { ScenarioContext } from '../run/context.js'
import type { Scenario } from './scenario.js'

/** One fault's figures, as the report shows them. */
export interface ControllerFailoverRow {
  fault: string
  daemons: number
  /** From the kill to each daemon's channel open on another controller, ms (controller kills only). */
  reconnectMs: { p50: number | null, p99: number | null, max: number | null } | null
  /** Daemons that did not reconnect within the bound (controller kills), or that lost their channel (etcd kills). */
  missing: number
  /** From the kill to the first write accepted again, ms; null when writes never stopped being tried. */
  writesBackMs: number | null
}

export const controllerFailover: Scenario = {
  name: 'controller-failover',
  summary: 'kill -9 the serving controller (daemons move to a standby), then the etcd leader; needs --controllers 2+',
  async prepare (ctx) {
    if (ctx.mesh.controllerUrls.length < 2) throw new Error('controller-failover needs --controllers 2 or more')
  },
  async run (ctx) {
    const nodes = Array.from({ length: ctx.nodes }, (_, i) => i)
    const serving = await servingController(ctx)
    ctx.phase(`killing controller ${serving}, which every daemon holds its channel on`)
    const killedAt = Date.now()
    await ctx.mesh.stopController('SIGKILL', serving)
    const moved = new Map<number, number>()
    await ctx.waitFor('every daemon on another controller', () => {
      for (const i of nodes) {
        if (moved.has(i)) continue
        const e = ctx.mesh.events(`n${i}`, 'control.connected').find(x => Number(x.time) >= killedAt && x.controller !== ctx.mesh.controllerUrlOf(serving))
        if (e !== undefined) moved.set(i, Number(e.time) - killedAt)
      }
      return moved.size === nodes.length
    }, 120_000, 250)
    const s = stats([...moved.values()])
    ctx.controllerFailover.push({
      fault: `kill -9 controller ${serving}`,
      daemons: nodes.length,
      reconnectMs: { p50: s.p50, p99: s.p99, max: s.max },
      missing: nodes.length - moved.size,
      writesBackMs: null
    })
    ctx.say(`controller ${serving} killed: daemons on another controller after p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms; ` +
      `${nodes.length - moved.size} never`)
    ctx.phase(`controller ${serving} back, as a standby`)
    await ctx.mesh.startController(serving, { wait: false })

    const leader = await ctx.mesh.etcdLeader()
    if (leader === null) { ctx.say('no etcd member says it leads; the etcd kill is skipped'); return }
    const now = await servingController(ctx)
    ctx.phase(`killing etcd member ${leader}, the cluster's leader`)
    const lostBefore = nodes.map(i => ctx.mesh.events(`n${i}`, 'control.lost').length)
    const etcdKilledAt = Date.now()
    await ctx.mesh.killEtcdMember(leader)
    await ctx.waitFor('a write accepted after the etcd leader died', async () => {
      try { await ctx.mesh.adminOf(now, 'token', 'create', '--ttl', '1m'); return true } catch { return false }
    }, 60_000, 100)
    const writesBackMs = Date.now() - etcdKilledAt
    const lost = nodes.filter((i, k) => ctx.mesh.events(`n${i}`, 'control.lost').length > lostBefore[k]!).length
    ctx.controllerFailover.push({ fault: `kill -9 etcd leader (member ${leader})`, daemons: nodes.length, reconnectMs: null, missing: lost, writesBackMs })
    ctx.say(`etcd leader killed: writes accepted again after ${writesBackMs} ms; ${lost} daemons lost their channel`)
    ctx.phase(`etcd member ${leader} back`)
    ctx.mesh.startEtcdMember(leader)
    await ctx.mesh.etcdHealthy(leader)
  }
}

/** The controller that serves now: the one every connected daemon's status names. */
async function servingController (ctx: ScenarioContext): Promise<number> {
  const url = (await ctx.mesh.status(0)).controller.url
  const k = ctx.mesh.controllerUrls.indexOf(url)
  if (k < 0) throw new Error(`node 0 is on ${url}, which is none of the mesh's controllers`)
  return k
}
