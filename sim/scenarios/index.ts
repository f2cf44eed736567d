/** Every `weft sim run` scenario by name. Adding one: a module beside this file and one line here. */
import type { Scenario } from './scenario.js'
import { join } from './join.js'
import { crash } from './crash.js'
import { vanish } from './vanish.js'
import { restart } from './restart.js'
import { controllerOutage } from './controller-outage.js'
import { partition } from './partition.js'
import { loss } from './loss.js'
import { churn } from './churn.js'
import { demo } from './demo.js'
import { idle } from './idle.js'
import { exitFailover, routerFailover } from './failover.js'
import { policyChange } from './policy-change.js'
import { controllerFailover } from './controller-failover.js'

/** Scenarios by name, in the order `--help` lists them. */
export const SCENARIOS: ReadonlyMap<string, Scenario> = new Map([
  join, idle, crash, vanish, restart, controllerOutage, partition, loss, churn, routerFailover, exitFailover, policyChange, controllerFailover, demo
].map(s => [s.name, s]))
