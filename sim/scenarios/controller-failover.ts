/**
 * `controller-failover` (needs `--controllers 2` or more: an etcd cluster of three members and that many
 * controllers, all serving, daemons spread over them). kill -9 of the controller that holds the most daemons'
 * update channels: timed, for each of those daemons, from the kill to its channel open on another controller
 * (its `control.connected` there); the other daemons are counted if they lost their channel (none should). The
 * killed controller comes back. Then kill -9 of the etcd member that leads the cluster: timed from the kill to
 * the first write a controller accepts again, and the daemons that lost their channel meanwhile are counted
 * (none should). The member comes back.
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
  summary: 'kill -9 the controller most daemons are on (they move to another), then the etcd leader; needs --controllers 2+',
  async prepare (ctx) {
    if (ctx.mesh.controllerUrls.length < 2) throw new Error('controller-failover needs --controllers 2 or more')
  },
  async run (ctx) {
    const nodes = Array.from({ length: ctx.nodes }, (_, i) => i)
    const on = await controllersOf(ctx, nodes)
    const counts = ctx.mesh.controllerUrls.map((_, k) => on.filter(c => c === k).length)
    const busiest = counts.indexOf(Math.max(...counts))
    const movers = nodes.filter(i => on[i] === busiest)
    const stayers = nodes.filter(i => on[i] !== busiest)
    ctx.phase(`killing controller ${busiest}, which ${movers.length} of ${nodes.length} daemons hold their channel on`)
    const lostAtKill = nodes.map(i => ctx.mesh.events(`n${i}`, 'control.lost').length)
    const killedAt = Date.now()
    await ctx.mesh.stopController('SIGKILL', busiest)
    const moved = new Map<number, number>()
    await ctx.waitFor('every daemon of the killed controller on another one', () => {
      for (const i of movers) {
        if (moved.has(i)) continue
        const e = ctx.mesh.events(`n${i}`, 'control.connected').find(x => Number(x.time) >= killedAt && x.controller !== ctx.mesh.controllerUrlOf(busiest))
        if (e !== undefined) moved.set(i, Number(e.time) - killedAt)
      }
      return moved.size === movers.length
    }, 120_000, 250)
    const s = stats([...moved.values()])
    const disturbed = stayers.filter(i => ctx.mesh.events(`n${i}`, 'control.lost').length > lostAtKill[i]!).length
    ctx.controllerFailover.push({
      fault: `kill -9 controller ${busiest}`,
      daemons: movers.length,
      reconnectMs: { p50: s.p50, p99: s.p99, max: s.max },
      missing: movers.length - moved.size + disturbed,
      writesBackMs: null
    })
    ctx.say(`controller ${busiest} killed: its ${movers.length} daemons on another controller after p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms; ` +
      `${movers.length - moved.size} never; ${disturbed} of the ${stayers.length} others lost their channel`)
    ctx.phase(`controller ${busiest} back`)
    await ctx.mesh.startController(busiest)

    const leader = await ctx.mesh.etcdLeader()
    if (leader === null) { ctx.say('no etcd member says it leads; the etcd kill is skipped'); return }
    const now = busiest
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

/** For each of `nodes`, the index of the controller its daemon's status says it is on. */
async function controllersOf (ctx: ScenarioContext, nodes: number[]): Promise<number[]> {
  const out: number[] = []
  for (const i of nodes) {
    const url = (await ctx.mesh.status(i)).controller.url
    const k = ctx.mesh.controllerUrls.indexOf(url)
    if (k < 0) throw new Error(`node ${i} is on ${url}, which is none of the mesh's controllers`)
    out.push(k)
  }
  return out
}
