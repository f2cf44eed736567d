import { loadavg } from 'node:os'
import { ChannelSet, counterDelta } from './channel-set.js'
import type { UpdateChannel } from './channel.js'
import type { RegisteredNode } from './client.js'
import { startDeployment, storeLabel, type StoreSetup } from './deployment.js'
import { Fleet } from './fleet.js'
import { runJoins } from './joins.js'
import { runPolicyChanges } from './policy-changes.js'
import { ProcGroup } from './procstat.js'
import { fetchInfo, registerAll, settle } from './setup.js'
import { runSteady } from './steady.js'
import { summarize, type SizeFigures } from './summary.js'

/**
 * One complete run at one mesh size against fresh controllers (one on LevelDB, or K on a fresh etcd cluster):
 * register N, open N channels, heartbeat, J timed joins, K timed policy changes, a steady window; then tear
 * everything down, whatever happened.
 */

/**
 * How long the set-up waits for the mesh to be quiet before the first join: longer than the pacing of a
 * health-only netmap version (netmapHealthIntervalMs, default 5 s), so no health change of the set-up is still
 * held back to be published with the first join's record (on etcd, each controller learns that the others'
 * nodes are online through live keys, as health changes).
 */
const SETUP_QUIET_MS = 6000

/** Flags that shape every run. */
export interface ScenarioOptions {
  joins: number
  /** Access policy changes, one at a time, after the joins; 0 skips them. */
  policyChanges: number
  steadyMs: number
  /** How long one join or policy change may take to reach every channel, ms. */
  joinTimeoutMs: number
  /** Registrations in flight at once during set-up. */
  registerConcurrency: number
  /** Channels connecting at once during set-up. */
  openConcurrency: number
  /** Distinct loopback source addresses the simulated nodes are spread over. */
  sourceIps: number
  /** Keep-alive sockets per source address and controller, for register and again for heartbeat requests. */
  connectionsPerSource: number
  controllerArgs: string[]
  cpuProfDir: string | null
  keep: boolean
}

/**
 * Runs the bench at `n` nodes on `setup`; `log` gets progress lines (stderr). While it runs, `cleanups` holds
 * what stops the controllers (and etcd), so a signal handler can stop them before the bench exits.
 */
export async function runScenario (n: number, setup: StoreSetup, opts: ScenarioOptions, log: (s: string) => void,
  cleanups: Set<() => Promise<void>>): Promise<SizeFigures> {
  const tag = `[n=${n} ${storeLabel(setup)}]`
  const say = (s: string): void => log(`${tag} ${s}`)
  const dep = await startDeployment(setup, { extraArgs: opts.controllerArgs, cpuProfDir: opts.cpuProfDir, keep: opts.keep })
  cleanups.add(dep.stop)
  if (dep.etcd !== null) say(`etcd members ${dep.etcd.endpoints.join(', ')} (pids ${dep.etcd.pids.join(', ')}, data ${dep.etcd.dir})`)
  for (const [k, c] of dep.controllers.entries()) {
    say(`controller ${k} pid ${c.pid} at ${c.origin} (data ${c.dataDir}), heartbeat interval ${c.info.heartbeatIntervalMs} ms`)
  }
  const set = new ChannelSet()
  const extra: UpdateChannel[] = []
  const fleet = new Fleet(dep.controllers, opts.connectionsPerSource, (node: RegisteredNode) => {
    const v = (node.index < n ? set.channels[node.index] : extra[node.index - n])?.version
    return v === undefined || v < 0 ? undefined : v
  })
  const etcdProcs = dep.etcd === null ? null : new ProcGroup(dep.etcd.pids)
  const watchdog = setInterval(() => {
    for (const l of fleet.links) if (l.process.exited()) say(`controller ${l.index} has exited; see ${l.process.logPath} (run with --keep to keep it)`)
  }, 1000)
  try {
    const { api, process: first } = fleet.first
    const token = await api.createToken(first.adminKey, 6 * 3_600_000)
    await fleet.waitForToken(token.id)
    fleet.startHeartbeats()
    let lastLog = performance.now()
    const reg = await registerAll(i => fleet.linkOf(i).api, first.info, token.token, n, opts.sourceIps, opts.registerConcurrency, (node, done) => {
      fleet.linkOf(node.index).heartbeats.add(node)
      if (performance.now() - lastLog > 2000 || done === n) { lastLog = performance.now(); say(`registered ${done}/${n}`) }
    })
    const afterRegister = fleet.procs.sample()

    const infos = await Promise.all(fleet.links.map(async l => await fetchInfo(l.process.origin)))
    const tOpen = performance.now()
    lastLog = tOpen
    await set.openAll(node => fleet.linkOf(node.index).target, reg.nodes,
      t => Math.max(infos[t.controller]!.version, fleet.links[t.controller]!.heartbeats.latestVersion), opts.openConcurrency, opened => {
        if (performance.now() - lastLog > 2000 || opened === n) { lastLog = performance.now(); say(`channels open ${opened}/${n}`) }
      })
    const openMs = performance.now() - tOpen
    const settleMs = await settle(fleet.targets, set, 60_000 + n * 10, 250, SETUP_QUIET_MS)
    say(settleMs === null ? 'channels did NOT settle on their controllers\' versions within the bound' : `settled in ${settleMs.toFixed(0)} ms`)
    const afterSetup = fleet.procs.sample()
    const atJoins = await fleet.census()
    for (const [k, c] of atJoins.entries()) say(`controller ${k} sees ${c.total} nodes, ${c.connected} connected, health ${JSON.stringify(c.health)}`)

    const loadBeforeJoins = loadavg()[0]!
    const beforeJoins = set.counters()
    const ctlJoins0 = fleet.procs.sample()
    const etcdJoins0 = etcdProcs?.sample() ?? null
    const benchCpu0 = process.cpuUsage()
    fleet.takeHeartbeatFigures()
    const joins = await runJoins(fleet, token.token, set, extra,
      { joins: opts.joins, timeoutMs: opts.joinTimeoutMs, firstIndex: n, sourceIps: opts.sourceIps }, say)
    const ctlJoins1 = fleet.procs.sample()
    const etcdJoins1 = etcdProcs?.sample() ?? null
    const benchCpu = process.cpuUsage(benchCpu0)
    const joinChannels = counterDelta(beforeJoins, set.counters())
    const joinHeartbeats = fleet.takeHeartbeatFigures()

    const policyChanges = await runPolicyChanges(fleet, set, reg.nodes.map(node => node.hostname),
      { changes: opts.policyChanges, timeoutMs: opts.joinTimeoutMs }, say)

    say(`steady state for ${opts.steadyMs} ms`)
    const steady = await runSteady({ controllers: fleet.procs, etcd: etcdProcs }, set, () => fleet.takeHeartbeatFigures(), opts.steadyMs)
    const atEnd = await fleet.census()
    for (const [k, c] of atEnd.entries()) say(`at the end controller ${k} sees ${c.total} nodes, ${c.connected} connected, health ${JSON.stringify(c.health)}`)
    return summarize({
      n,
      setup,
      heartbeatIntervalMs: first.info.heartbeatIntervalMs,
      register: reg.figures,
      afterRegister,
      openMs,
      settleMs,
      afterSetup,
      joins,
      joinPhase: {
        controllers: [ctlJoins0, ctlJoins1],
        etcd: etcdJoins0 === null || etcdJoins1 === null ? null : [etcdJoins0, etcdJoins1],
        benchCpuMs: (benchCpu.user + benchCpu.system) / 1000,
        channels: joinChannels,
        channelCount: set.channels.length,
        heartbeats: joinHeartbeats
      },
      policyChanges,
      steady,
      integrity: set.counters(),
      hostLoad: [loadBeforeJoins, loadavg()[0]!],
      census: { atJoins, atEnd }
    })
  } finally {
    clearInterval(watchdog)
    await fleet.stopHeartbeats(5000)
    set.closeAll()
    for (const c of extra) c.close()
    await fleet.close()
    await dep.stop()
    cleanups.delete(dep.stop)
    if (opts.keep) say(`kept ${[...dep.controllers.map(c => c.dataDir), ...(dep.etcd === null ? [] : [dep.etcd.dir])].join(', ')}`)
  }
}
