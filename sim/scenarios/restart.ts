import type { Scenario } from './scenario.js'

/** `restart`: crash K nodes, wait until they are removed everywhere, start them again from their saved state. */
export const restart: Scenario = {
  name: 'restart',
  summary: 'crash K nodes, then start them again; times removal and re-addition',
  async run (ctx) {
    const victims = ctx.pick(ctx.params.count)
    ctx.phase(`crashing ${victims.length} node(s): ${victims.join(', ')}`)
    await ctx.crash(victims)
    await ctx.settle('crashed nodes removed everywhere')
    ctx.phase('restarting them')
    await ctx.restart(victims)
    await ctx.settle('restarted nodes re-added everywhere')
  }
}
