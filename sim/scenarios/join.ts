import type { Scenario } from './scenario.js'

/** `join`: the runner joins every node and times it; this holds the joined mesh steady to count false removals. */
export const join: Scenario = {
  name: 'join',
  summary: 'all nodes join; time to full mesh, then a steady mesh with no faults',
  async run (ctx) {
    ctx.phase('steady mesh')
    await ctx.hold(Math.min(ctx.params.durationMs, 10_000))
  }
}
