/**
 * `router-failover` and `exit-failover`: two nodes carry one route (a LAN, 192.0.2.0/24, or the default route
 * to the "internet", 203.0.113.0/24), node 0 at a higher priority than node 1. Every other node probes a
 * host behind them every 100 ms. Node 0 is killed (daemon and wireguard-go, SIGKILL) with the controller up,
 * brought back, and killed again with the controller stopped. Rows for the report: per kill, time until each
 * client's probes were answered again, probes lost; after node 0's return, the primary changes each client made
 * (one = it took the route back once, after its hold-down; more = a flap).
 */
import { DEFAULT_ROUTE } from '../../lib/wire/routes.js'
import type { ScenarioContext } from '../run/context.js'
import { stats } from '../report/analyze.js'
import { outage, startProbe, type Probe } from '../run/probes.js'
import { pool } from '../pool.js'
import type { Scenario } from './scenario.js'

/** The daemon's default --route-hold-down: how long a returning carrier waits before it takes its route back. */
const HOLD_DOWN_MS = 10_000

/** Primary and standby carrier. */
const [PRIMARY, STANDBY] = [0, 1]

/** One kill's figures, as the report shows them. */
export interface FailoverRow {
  kill: string
  clients: number
  /** From the kill to each client's first answered probe, ms. */
  restoreMs: { p50: number | null, p99: number | null, max: number | null }
  probesLost: { p50: number | null, max: number | null, total: number }
  neverRestored: number
  /** Per client node: restore time and probes lost (null: never answered). */
  perClient: Record<number, { restoreMs: number, lost: number } | null>
  /** After the killed carrier came back: primary changes per client (distinct counts) and changes beyond one move back. */
  afterReturn: { changes: number[], flaps: number } | null
}

interface Kind {
  name: string
  summary: string
  /** The route the carriers carry, as it appears in AllowedIPs and routes.primary events. */
  route: string
  target: string
  lan: { k: number, host: string, carrier: (i: number) => string }
  args: (i: number) => string[]
  approve: string
}

function failover (kind: Kind): Scenario {
  return {
    name: kind.name,
    summary: kind.summary,
    async prepare (ctx) {
      if (ctx.nodes < 3) throw new Error(`${kind.name} needs at least 3 nodes: two carriers and a client`)
      await ctx.mesh.world.addLan(kind.lan.k, `${kind.lan.host}/24`, [PRIMARY, STANDBY].map(node => ({ node, addr: kind.lan.carrier(node) })))
    },
    daemonArgs: kind.args,
    async run (ctx) {
      const clients = Array.from({ length: ctx.nodes }, (_, i) => i).filter(i => i !== PRIMARY && i !== STANDBY)
      ctx.phase(`approving ${kind.approve} on nodes ${PRIMARY} and ${STANDBY}`)
      for (const i of [PRIMARY, STANDBY]) await ctx.mesh.admin('routes', 'approve', `node-${i}`, kind.approve)
      const reached = async (): Promise<boolean> => await allClients(clients, async i => await ctx.mesh.ping(i, kind.target))
      await ctx.waitFor(`every client reaching ${kind.target}`, reached, 120_000, 500)
      await onPrimary(ctx, clients, kind.route)
      const probes = new Map(clients.map(i => [i, startProbe(ctx.mesh, i, kind.target)]))
      try {
        await ctx.hold(3000)
        ctx.phase(`killing node ${PRIMARY}, the primary, with the controller up`)
        const up = await kill(ctx, probes, 'controller up')
        ctx.phase(`node ${PRIMARY} back; holding for its hold-down and 15 s more`)
        const before = new Map(clients.map(i => [i, primaryChanges(ctx, i, kind.route)]))
        await ctx.restart([PRIMARY])
        await ctx.hold(HOLD_DOWN_MS + 15_000)
        const changes = clients.map(i => primaryChanges(ctx, i, kind.route) - before.get(i)!)
        up.afterReturn = { changes: [...new Set(changes)].sort((a, b) => a - b), flaps: changes.reduce((a, c) => a + Math.max(0, c - 1), 0) }
        await onPrimary(ctx, clients, kind.route)
        ctx.phase('controller down')
        await ctx.stopController()
        await ctx.hold(2000)
        ctx.phase(`killing node ${PRIMARY} with the controller down`)
        await kill(ctx, probes, 'controller down')
        ctx.phase(`node ${PRIMARY} back with the controller down, then the controller`)
        await ctx.restart([PRIMARY])
        await ctx.settle(`node ${PRIMARY} re-added everywhere (controller down)`)
        await ctx.startController()
      } finally {
        for (const p of probes.values()) p.child.kill()
      }
    }
  }
}

async function allClients (clients: readonly number[], ok: (i: number) => Promise<boolean>): Promise<boolean> {
  let all = true
  await pool(clients, 8, async i => { if (all && !await ok(i)) all = false })
  return all
}

/** Waits (bounded) until every client sends the route to the primary (a join's false suspicions may have moved it for a hold-down). */
async function onPrimary (ctx: ScenarioContext, clients: readonly number[], route: string): Promise<void> {
  const key = (await ctx.mesh.status(PRIMARY)).node.publicKey
  await ctx.waitFor(`every client routing ${route} through node ${PRIMARY}`, async () => await allClients(clients, async i => {
    const out = (await ctx.mesh.world.exec(ctx.mesh.ns(i), ['wg', 'show', ctx.mesh.ifname(i), 'allowed-ips'])).stdout
    return out.split('\n').some(l => l.startsWith(key) && l.split(/\s+/).includes(route))
  }), 180_000, 1000)
}

function primaryChanges (ctx: ScenarioContext, i: number, route: string): number {
  return ctx.mesh.events(`n${i}`, 'routes.primary').filter(e => e.route === route).length
}

/** Kills the primary and records how the clients' probes fared (bounded: a client never answered is counted). */
async function kill (ctx: ScenarioContext, probes: ReadonlyMap<number, Probe>, label: string): Promise<FailoverRow> {
  const t = await ctx.crash([PRIMARY])
  await ctx.waitFor(`every client answered after the kill (${label})`, () => [...probes.values()].every(p => p.replies.some(r => r.sentAt > t)), 60_000)
  // Before any restart: the crash's removals are timed until the restart opens its own measure.
  await ctx.settle(`node ${PRIMARY} removed everywhere (${label})`)
  const perClient = outage(probes.values(), t)
  const answered = perClient.flatMap(c => c === null ? [] : [c])
  const restore = stats(answered.map(c => c.restoreMs))
  const lost = stats(answered.map(c => c.lost))
  const row: FailoverRow = {
    kill: label,
    clients: probes.size,
    restoreMs: { p50: restore.p50, p99: restore.p99, max: restore.max },
    probesLost: { p50: lost.p50, max: lost.max, total: answered.reduce((a, c) => a + c.lost, 0) },
    neverRestored: perClient.length - answered.length,
    perClient: Object.fromEntries([...probes.keys()].map((i, k) => [i, perClient[k]!])),
    afterReturn: null
  }
  ctx.failover.push(row)
  ctx.say(`${label}: answered again after p50 ${row.restoreMs.p50} ms, p99 ${row.restoreMs.p99} ms, max ${row.restoreMs.max} ms; ` +
    `probes lost per client p50 ${row.probesLost.p50}, max ${row.probesLost.max}; ${row.neverRestored} never answered`)
  return row
}

const LAN = '192.0.2.0/24'

/** `router-failover`: two subnet routers for one LAN. */
export const routerFailover = failover({
  name: 'router-failover',
  summary: 'two subnet routers for a LAN; kill -9 the primary under 100 ms probes, controller up then down',
  route: LAN,
  target: '192.0.2.10',
  lan: { k: 0, host: '192.0.2.10', carrier: i => `192.0.2.${i + 1}/24` },
  args: i => i === PRIMARY ? ['--advertise-routes', LAN, '--route-priority', '10'] : i === STANDBY ? ['--advertise-routes', LAN] : [],
  approve: LAN
})

/** `exit-failover`: two exit nodes, every client on `--exit-node auto`. */
export const exitFailover = failover({
  name: 'exit-failover',
  summary: 'two exit nodes, clients on --exit-node auto; kill -9 the primary under 100 ms probes, controller up then down',
  route: DEFAULT_ROUTE,
  target: '203.0.113.10',
  lan: { k: 1, host: '203.0.113.10', carrier: i => `203.0.113.${i + 1}/24` },
  args: i => i === PRIMARY ? ['--advertise-exit-node', '--route-priority', '10'] : i === STANDBY ? ['--advertise-exit-node'] : ['--exit-node', 'auto'],
  approve: 'exit'
})
