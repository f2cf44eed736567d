import type { Scenario } from './scenario.js'

/** `crash`: kill -9 K daemons together with their wireguard-go; every live node must remove them. */
export const crash: Scenario = {
  name: 'crash',
  summary: 'kill -9 K daemons with their wireguard-go; time until every live node removed them',
  async run (ctx) {
    const victims = ctx.pick(ctx.params.count)
    ctx.phase(`crashing ${victims.length} node(s): ${victims.join(', ')}`)
    await ctx.crash(victims)
    await ctx.settle('crashed nodes removed everywhere')
  }
}
