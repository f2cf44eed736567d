import type { Scenario } from './scenario.js'

/**
 * `controller-outage`: the controller is killed; while it is down K nodes crash and restart. SWIM must remove
 * them and the underlay announcements re-add them without the controller; then the controller returns.
 */
export const controllerOutage: Scenario = {
  name: 'controller-outage',
  summary: 'controller stopped while K nodes crash and restart; the mesh heals without it',
  async run (ctx) {
    ctx.phase('controller down')
    await ctx.stopController()
    const victims = ctx.pick(ctx.params.count)
    ctx.phase(`crashing ${victims.length} node(s) with the controller down: ${victims.join(', ')}`)
    await ctx.crash(victims)
    await ctx.settle('crashed nodes removed everywhere (controller down)')
    ctx.phase('restarting them with the controller down')
    await ctx.restart(victims)
    await ctx.settle('restarted nodes re-added everywhere (controller down)')
    ctx.phase('controller back')
    await ctx.startController()
    await ctx.settle('mesh steady with the controller back')
  }
}
