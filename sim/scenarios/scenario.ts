/**
 * The shape of a `weft sim run` scenario. A scenario starts from a joined full mesh (the runner does the
 * join and times it), acts on the world through the ScenarioContext (which records every action as ground
 * truth and as measured events), and returns; the runner then waits for convergence, checks all pairs and
 * writes the report. Adding a scenario = one module here plus one line in index.ts.
 */
import type { ScenarioContext } from '../run/context.js'

/** Knobs common to scenarios, from the command line. */
export interface ScenarioParams {
  /** Nodes affected (crashed, vanished, restarted). Default: max(1, round(N / 10)). */
  count: number
  /** Loss in percent for `loss`. Default: 5. */
  lossPercent: number
  /** How long a fault lasts (partition, loss, outage, churn), in ms. Default: 30 s: ten suspicion timeouts at the mesh preset. */
  durationMs: number
}

/** One scenario. */
export interface Scenario {
  name: string
  /** One line for `--help` and the report. */
  summary: string
  /** Before any daemon starts (a LAN behind routers, say). */
  prepare? (ctx: ScenarioContext): Promise<void>
  /** Flags node `i`'s daemon gets at every start, beyond the run's own. */
  daemonArgs? (i: number): string[]
  run (ctx: ScenarioContext): Promise<void>
}
