import type { Scenario } from './scenario.js'

/** `loss`: P% random loss on every node's underlay for --duration; every removal in that time is false. */
export const loss: Scenario = {
  name: 'loss',
  summary: 'P% random loss on every node for --duration; counts false removals',
  async run (ctx) {
    const all = Array.from({ length: ctx.nodes }, (_, i) => i)
    ctx.phase(`${ctx.params.lossPercent}% loss on every node for ${Math.round(ctx.params.durationMs / 1000)} s`)
    await ctx.setLoss(all, ctx.params.lossPercent)
    await ctx.hold(ctx.params.durationMs)
    ctx.phase('loss removed')
    await ctx.setLoss(all, 0)
    await ctx.settle('mesh steady after the loss')
  }
}
