import type { Scenario } from './scenario.js'

/** How long a churned node stays away before it returns, in ms; a few suspicion timeouts so removal completes first. */
const AWAY_MS = 8000
/** Time between churn steps, in ms. */
const STEP_MS = 2000

/**
 * `churn`: for --duration, every two seconds one node crashes or leaves gracefully (at most K away at once);
 * after eight seconds a crashed node restarts from its state and a node that left joins again as a new
 * node (new key, new join). At the end everyone returns.
 */
export const churn: Scenario = {
  name: 'churn',
  summary: 'steady joins, graceful leaves and crashes for --duration (at most K nodes away at once)',
  async run (ctx) {
    const away = new Map<number, { how: 'crash' | 'leave', atMs: number }>()
    const bringBack = async (i: number): Promise<void> => {
      const a = away.get(i)!
      away.delete(i)
      if (a.how === 'crash') await ctx.restart([i])
      else await ctx.rejoin(i)
    }
    ctx.phase(`churn for ${Math.round(ctx.params.durationMs / 1000)} s, at most ${ctx.params.count} away at once`)
    const end = ctx.now() + ctx.params.durationMs
    while (ctx.now() < end) {
      for (const [i, a] of [...away]) if (ctx.now() - a.atMs >= AWAY_MS) await bringBack(i)
      if (away.size < ctx.params.count) {
        const [v] = ctx.pick(1)
        if (v !== undefined) {
          const how = ctx.rng.next() < 0.5 ? 'crash' : 'leave'
          away.set(v, { how, atMs: ctx.now() })
          if (how === 'crash') await ctx.crash([v])
          else await ctx.leave(v)
        }
      }
      await ctx.hold(STEP_MS)
    }
    ctx.phase('churn over: everyone back')
    for (const i of [...away.keys()]) await bringBack(i)
    await ctx.settle('mesh steady after churn')
  }
}
