/**
 * `policy-change`: the admin sets an access policy, then changes it four times, each change waiting for the last
 * to be enforced everywhere. Even nodes are group:a, odd ones group:b; the policies let the groups reach each
 * other on a port that changes with every version, so each change alters every node's filter. Rows for the
 * report: per change, the time from the controller accepting it (its `policy.change` log event) to each node's
 * `policy.apply` of that version, which the daemon logs once nft has loaded the new filter.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ScenarioContext } from '../run/context.js'
import { stats } from '../report/analyze.js'
import type { Scenario } from './scenario.js'

/** Policy versions set by one run: the first and four changes. */
const CHANGES = 5

/** One change's figures, as the report shows them. */
export interface PolicyRow {
  version: number
  nodes: number
  /** From the controller's acceptance to each node's enforcement, ms. */
  enforceMs: { p50: number | null, p99: number | null, max: number | null }
  /** Nodes that did not enforce it within the bound. */
  missing: number
  /** Bytes of the policy document each daemon received (the same for every node, whatever the mesh size). */
  bytes: number
}

function policy (nodes: number, version: number): string {
  const group = (odd: number): string[] => Array.from({ length: nodes }, (_, i) => i).filter(i => i % 2 === odd).map(i => `node-${i}`)
  return JSON.stringify({
    groups: { 'group:a': group(0), 'group:b': group(1) },
    acls: [
      { action: 'accept', src: ['group:a'], dst: [`group:b:${8000 + version}`], proto: 'tcp' },
      { action: 'accept', src: ['group:b'], dst: [`group:a:${9000 + version}`, 'group:b:22'] },
      { action: 'accept', src: ['*'], dst: ['*:*'], proto: 'icmp' }
    ]
  }, null, 2)
}

export const policyChange: Scenario = {
  name: 'policy-change',
  summary: 'set an access policy and change it four times; time from the controller\'s acceptance to every node enforcing it',
  async run (ctx) {
    for (let k = 1; k <= CHANGES; k++) {
      const text = policy(ctx.nodes, k)
      const file = join(ctx.mesh.dir, `policy-${k}.json`)
      await writeFile(file, text)
      ctx.phase(k === 1 ? 'setting the first policy' : `policy change ${k - 1}`)
      const out = await ctx.mesh.admin('policy', 'set', file)
      const version = Number(/version (\d+)/.exec(out)?.[1])
      ctx.policy.push(await enforced(ctx, version, Buffer.byteLength(text)))
    }
  }
}

/** Waits (bounded) until every node logged `policy.apply` of `version`, and measures from the controller's acceptance. */
async function enforced (ctx: ScenarioContext, version: number, bytes: number): Promise<PolicyRow> {
  const nodes = Array.from({ length: ctx.nodes }, (_, i) => i)
  const applied = (i: number): Record<string, unknown> | undefined => ctx.mesh.events(`n${i}`, 'policy.apply').find(e => e.to === version)
  await ctx.waitFor(`policy v${version} enforced on every node`, () => nodes.every(i => applied(i) !== undefined), 60_000, 100)
  const accepted = ctx.mesh.events('controller', 'policy.change').find(e => e.to === version)
  const at = Number(accepted?.time)
  const ms = nodes.flatMap(i => { const e = applied(i); return e === undefined ? [] : [Number(e.time) - at] })
  const s = stats(ms)
  const row: PolicyRow = { version, nodes: nodes.length, enforceMs: { p50: s.p50, p99: s.p99, max: s.max }, missing: nodes.length - ms.length, bytes }
  ctx.say(`policy v${version} (${bytes} bytes) enforced on ${ms.length}/${nodes.length} nodes: p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms ` +
    'after the controller accepted it')
  return row
}
