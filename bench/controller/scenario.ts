import { loadavg } from 'node:os'
import { ChannelSet, counterDelta, type SetTarget } from './channel-set.js'
import type { UpdateChannel } from './channel.js'
import { ApiClient, type RegisteredNode } from './client.js'
import { startController } from './controller-process.js'
import { HeartbeatLoad } from './heartbeats.js'
import { runJoins } from './joins.js'
import { runPolicyChanges } from './policy-changes.js'
import { ProcSampler } from './procstat.js'
import { summarize, type SizeFigures } from './report.js'
import { census, fetchInfo, registerAll, settle } from './setup.js'
import { runSteady } from './steady.js'

/**
 * One complete run at one mesh size against a fresh controller: register N, open N channels, heartbeat,
 * J timed joins, K timed policy changes, a steady window; then tear everything down, whatever happened.
 */

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
  /** Keep-alive sockets per source address for register and heartbeat requests. */
  connectionsPerSource: number
  controllerArgs: string[]
  cpuProfDir: string | null
  keep: boolean
}

/**
 * Runs the bench at `n` nodes; `log` gets progress lines (stderr). While it runs, `cleanups` holds what stops
 * the controller, so a signal handler can stop it before the bench exits.
 */
export async function runScenario (n: number, opts: ScenarioOptions, log: (s: string) => void,
  cleanups: Set<() => Promise<void>>): Promise<SizeFigures> {
  const ctl = await startController({ extraArgs: opts.controllerArgs, cpuProfDir: opts.cpuProfDir, keep: opts.keep })
  cleanups.add(ctl.stop)
  log(`[n=${n}] controller pid ${ctl.pid} at ${ctl.origin} (data ${ctl.dataDir}), heartbeat interval ${ctl.info.heartbeatIntervalMs} ms`)
  const sampler = new ProcSampler(ctl.pid)
  // Registrations (and the timed joins) get pools of their own, so they never queue behind heartbeats.
  const client = new ApiClient(ctl.origin, opts.connectionsPerSource)
  const hbClient = new ApiClient(ctl.origin, opts.connectionsPerSource)
  const set = new ChannelSet()
  const extra: UpdateChannel[] = []
  const heartbeats = new HeartbeatLoad(hbClient, {
    intervalMs: ctl.info.heartbeatIntervalMs,
    versionOf: (node: RegisteredNode) => {
      const v = (node.index < n ? set.channels[node.index] : extra[node.index - n])?.version
      return v === undefined || v < 0 ? undefined : v
    }
  })
  const url = new URL(ctl.origin)
  const watchdog = setInterval(() => {
    if (ctl.exited()) log(`[n=${n}] the controller has exited; see ${ctl.logPath} (run with --keep to keep it)`)
  }, 1000)
  try {
    const token = await client.createToken(ctl.adminKey, 6 * 3_600_000)
    heartbeats.start()
    let lastLog = performance.now()
    const reg = await registerAll(client, ctl.info, token, n, opts.sourceIps, opts.registerConcurrency, (node, done) => {
      heartbeats.add(node)
      if (performance.now() - lastLog > 2000 || done === n) { lastLog = performance.now(); log(`[n=${n}] registered ${done}/${n}`) }
    })
    const afterRegister = sampler.sample()

    const info = await fetchInfo(ctl.origin)
    const target: SetTarget = { origin: ctl.origin, host: url.hostname, port: Number(url.port), epoch: info.epoch }
    const tOpen = performance.now()
    lastLog = tOpen
    await set.openAll(target, reg.nodes, () => Math.max(info.version, heartbeats.latestVersion), opts.openConcurrency, opened => {
      if (performance.now() - lastLog > 2000 || opened === n) { lastLog = performance.now(); log(`[n=${n}] channels open ${opened}/${n}`) }
    })
    const openMs = performance.now() - tOpen
    const settleMs = await settle(ctl.origin, set, 60_000 + n * 10)
    log(`[n=${n}] ${settleMs === null ? 'channels did NOT settle on one version within the bound' : `settled in ${settleMs.toFixed(0)} ms`}`)
    const afterSetup = sampler.sample()
    const atJoins = await census(client, ctl.adminKey)
    log(`[n=${n}] controller sees ${atJoins.total} nodes, ${atJoins.connected} connected, health ${JSON.stringify(atJoins.health)}`)

    const loadBeforeJoins = loadavg()[0]!
    const beforeJoins = set.counters()
    const cpuJoins0 = sampler.sample()
    const benchCpu0 = process.cpuUsage()
    heartbeats.takeFigures()
    const joins = await runJoins(client, ctl.info, token, set, target, heartbeats, extra,
      { joins: opts.joins, timeoutMs: opts.joinTimeoutMs, firstIndex: n, sourceIps: opts.sourceIps }, log)
    const cpuJoins1 = sampler.sample()
    const benchCpu = process.cpuUsage(benchCpu0)
    const joinChannels = counterDelta(beforeJoins, set.counters())
    const joinHeartbeats = heartbeats.takeFigures()

    const policyChanges = await runPolicyChanges(client, set, sampler, reg.nodes.map(node => node.hostname),
      { changes: opts.policyChanges, timeoutMs: opts.joinTimeoutMs, origin: ctl.origin, adminKey: ctl.adminKey }, log)

    log(`[n=${n}] steady state for ${opts.steadyMs} ms`)
    const steady = await runSteady(sampler, set, heartbeats, opts.steadyMs)
    const atEnd = await census(client, ctl.adminKey)
    log(`[n=${n}] at the end: ${atEnd.total} nodes, ${atEnd.connected} connected, health ${JSON.stringify(atEnd.health)}`)
    return summarize({
      n,
      heartbeatIntervalMs: ctl.info.heartbeatIntervalMs,
      register: reg.figures,
      afterRegister,
      openMs,
      settleMs,
      afterSetup,
      joins,
      joinPhase: {
        controller: [cpuJoins0, cpuJoins1],
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
    heartbeats.stop()
    await heartbeats.drain(5000)
    set.closeAll()
    for (const c of extra) c.close()
    await client.close()
    await hbClient.close()
    await ctl.stop()
    cleanups.delete(ctl.stop)
    if (opts.keep) log(`[n=${n}] kept ${ctl.dataDir}`)
  }
}
