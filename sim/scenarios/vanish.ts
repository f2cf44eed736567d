import type { Scenario } from './scenario.js'

/** `vanish`: all traffic of K namespaces dropped (a host that dies without closing sockets), then let through again. */
export const vanish: Scenario = {
  name: 'vanish',
  summary: 'drop all traffic of K namespaces (nftables) until every live node removed them, then restore it',
  async run (ctx) {
    const victims = ctx.pick(ctx.params.count)
    ctx.phase(`vanishing ${victims.length} node(s): ${victims.join(', ')}`)
    await ctx.vanish(victims)
    await ctx.settle('vanished nodes removed everywhere')
    ctx.phase('traffic restored')
    await ctx.unvanish(victims)
    await ctx.settle('returned nodes re-added everywhere')
  }
}
