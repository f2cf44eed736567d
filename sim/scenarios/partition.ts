import type { Scenario } from './scenario.js'

/** `partition`: the underlay cut between two halves for --duration, then healed; both sides must re-merge. */
export const partition: Scenario = {
  name: 'partition',
  summary: 'two halves cut apart for --duration, then healed; full reachability expected at the end',
  async run (ctx) {
    const order = ctx.pick(ctx.nodes)
    const half = Math.floor(order.length / 2)
    const a = order.filter((_, k) => k % 2 === 0).slice(0, half + (order.length % 2))
    const b = order.filter(i => !a.includes(i))
    ctx.phase(`partition: ${a.length} | ${b.length} nodes`)
    const t = ctx.now()
    await ctx.partition(a, b)
    await ctx.settle('each side removed the other')
    await ctx.hold(Math.max(0, ctx.params.durationMs - (ctx.now() - t)))
    ctx.phase('healed')
    const healedAt = ctx.now()
    await ctx.heal()
    await ctx.settle('both sides re-added each other')
    await ctx.reachWhole('every sampled pair answering after the heal', healedAt)
  }
}
