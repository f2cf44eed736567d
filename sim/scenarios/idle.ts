import type { Scenario } from './scenario.js'

/**
 * `idle`: the joined mesh held for `--duration` with no fault. What a mesh costs at rest (the report's
 * resource samples: CPU and RSS per daemon and wireguard-go) and whether it stays quiet (false removals).
 */
export const idle: Scenario = {
  name: 'idle',
  summary: 'the joined mesh held for --duration with no fault: cost per node at rest, false removals',
  async run (ctx) {
    ctx.phase('idle mesh')
    await ctx.hold(ctx.params.durationMs)
  }
}
