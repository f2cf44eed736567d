import { createWriteStream, mkdirSync } from 'node:fs'
import { once } from 'node:events'
import { resolve, join } from 'node:path'
import { randomInt } from 'node:crypto'
import { ConfigError } from '../lib/errors.js'
import { createLogger } from '../lib/log.js'
import { systemClock } from '../lib/clock.js'
import { MAX_NODES } from '../sim/netns/names.js'
import { SCENARIOS } from '../sim/scenarios/index.js'
import { runSim } from '../sim/run/runner.js'
import { Progress } from '../sim/run/progress.js'
import { defaultTickMs } from '../sim/run/observer.js'
import { settleBoundMs } from '../sim/run/context.js'
import { checkUiPort } from '../sim/run/dashboard.js'
import { DENSE_KEEPALIVE_SECONDS, DENSE_NODES_PER_CORE, DENSE_SWIM_PRESET, densityProfile, describeDaemonRun, profileArgs } from '../sim/run/density.js'
import { DEFAULTS, LIMITS } from '../lib/daemon/config.js'
import { formatDuration, oneOf } from '../lib/config-check.js'
import { PRESET_NAMES, PRESETS } from '../lib/swim/config.js'
import { cpus } from 'node:os'
import { formatSummary } from '../sim/report/summary.js'
import { parseDuration, parseFlags, parseIntFlag, type Command } from './cli.js'

/** V8 flags for the sim's daemons; see docs/sim.md (memory per node) for the measurements behind them. */
const DEFAULT_DAEMON_NODE_FLAGS = ''

const KEEPALIVE = LIMITS.keepaliveSeconds

/** Defaults of the run's own flags; the daemons' come from lib/daemon/config.ts and sim/run/density.ts. */
const RUN_DEFAULTS = { lossPercent: 5, durationMs: 30_000, batchSize: 25 }

/** The daemons' defaults and the dense-host values, as the usage states them. */
const DAEMON = { preset: DEFAULTS.swimPreset, keepalive: DEFAULTS.keepaliveSeconds, densePreset: DENSE_SWIM_PRESET, denseKeepalive: DENSE_KEEPALIVE_SECONDS }

const USAGE = `Usage: weft sim run --nodes N --scenario NAME [flags]

Builds a real mesh on this machine (root): an underlay bridge namespace (198.18.0.0/15), a controller
namespace, N node namespaces each with a real \`weft daemon\` and its wireguard-go; runs one fault scenario;
measures from outside (WireGuard peers through UAPI, pings over mesh IPs, /proc); writes report.json and
report.html to --out and prints a summary. Everything is removed at the end, on Ctrl-C, and (after a crash)
at the next start. Exit code 1 when pairs that should reach each other do not at the end.

Flags:
  --nodes N         nodes (2-${MAX_NODES})
  --scenario NAME   one of: ${[...SCENARIOS.keys()].join(', ')}
  --seed S          seed for every random choice (default: random, printed in the report)
  --out DIR         where report.json, report.html and sim.log go (default ./weft-sim-<scenario>-<N>)
  --keep            keep the daemons' and the controller's logs and state (path printed)
  --count K         nodes crashed / vanished / restarted, at most away in churn (default max(1, N/10))
  --loss P          loss percent for the loss scenario (default ${RUN_DEFAULTS.lossPercent})
  --controllers K   run K controllers on an etcd cluster of three members (default 1, on LevelDB);
                    all serve, the daemons spread over them (controller-failover needs 2+)
  --duration T      how long partition, loss and churn last (default ${formatDuration(RUN_DEFAULTS.durationMs)})
  --batch B         daemons started at once during the join (default ${RUN_DEFAULTS.batchSize})
  --tick-ms MS      UAPI read cadence (default 200-1000 by N)
  --daemon-node-flags="F ..."  Node/V8 flags for every daemon process (default none)
  --swim-preset NAME  daemons' SWIM preset (default ${DAEMON.preset}; ${DAEMON.densePreset} above ${DENSE_NODES_PER_CORE} nodes per core, see docs/sim.md)
  --keepalive S     daemons' WireGuard keepalive in seconds (default ${DAEMON.keepalive}; ${DAEMON.denseKeepalive} above ${DENSE_NODES_PER_CORE} nodes per core)
  --ui              open the controller's dashboard on this machine while the run lasts: prints
                    "dashboard: http://127.0.0.1:PORT/ui/" with a viewer key (valid --duration + 1h)
                    and the admin key's path before the scenario starts (from elsewhere: ssh -L)
  --ui-port N       with --ui, the port on 127.0.0.1 (default 0: any free port)

Scenarios:
${[...SCENARIOS.values()].map(s => `  ${s.name.padEnd(18)} ${s.summary}`).join('\n')}
`

/** `weft sim run`. */
export const simRunCommand: Command = {
  summary: 'real nodes in network namespaces, a fault scenario, a report with plots',
  async run (argv: string[]): Promise<number> {
    const parsed = parseFlags(argv, {
      nodes: { type: 'string' },
      scenario: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      keep: { type: 'boolean' },
      count: { type: 'string' },
      loss: { type: 'string' },
      duration: { type: 'string' },
      batch: { type: 'string' },
      'tick-ms': { type: 'string' },
      'daemon-node-flags': { type: 'string' },
      'swim-preset': { type: 'string' },
      keepalive: { type: 'string' },
      controllers: { type: 'string' },
      ui: { type: 'boolean' },
      'ui-port': { type: 'string' }
    }, USAGE)
    if (parsed === null) return 0
    const v = parsed.values
    if (v.nodes === undefined || v.scenario === undefined) throw new ConfigError(`--nodes and --scenario are required\n\n${USAGE}`)
    const nodes = parseIntFlag(v.nodes, '--nodes', 2, MAX_NODES)
    const scenario = SCENARIOS.get(v.scenario)
    if (scenario === undefined) throw new ConfigError(`--scenario must be one of ${[...SCENARIOS.keys()].join(', ')} (got "${v.scenario}")`)
    if (process.getuid?.() !== 0) throw new ConfigError('weft sim run needs root: it creates network namespaces and WireGuard interfaces')
    const seed = v.seed === undefined ? randomInt(0, 2 ** 31) : parseIntFlag(v.seed, '--seed', 0, 2 ** 32 - 1)
    const count = v.count === undefined ? Math.max(1, Math.round(nodes / 10)) : parseIntFlag(v.count, '--count', 1, nodes - 1)
    const lossPercent = v.loss === undefined ? RUN_DEFAULTS.lossPercent : parseIntFlag(v.loss, '--loss', 0, 100)
    const durationMs = v.duration === undefined ? RUN_DEFAULTS.durationMs : parseDuration(v.duration, '--duration')
    const batchSize = v.batch === undefined ? RUN_DEFAULTS.batchSize : parseIntFlag(v.batch, '--batch', 1, nodes)
    const tickMs = v['tick-ms'] === undefined ? defaultTickMs(nodes) : parseIntFlag(v['tick-ms'], '--tick-ms', 50, 10_000)
    const nodeFlags = (v['daemon-node-flags'] ?? DEFAULT_DAEMON_NODE_FLAGS).split(/\s+/).filter(f => f !== '')
    for (const f of nodeFlags) if (!/^--[a-z0-9-]+(=[A-Za-z0-9._/:-]+)?$/.test(f)) throw new ConfigError(`--daemon-node-flags: "${f}" is not a --flag or --flag=value`)
    const profile = densityProfile(nodes, cpus().length, {
      swimPreset: v['swim-preset'] === undefined ? undefined : oneOf('--swim-preset', v['swim-preset'], PRESET_NAMES),
      keepaliveSeconds: v.keepalive === undefined ? undefined : parseIntFlag(v.keepalive, '--keepalive', KEEPALIVE.min, KEEPALIVE.max)
    })
    const swimConfig = PRESETS[profile.swimPreset]!()
    const outDir = resolve(v.out ?? `weft-sim-${scenario.name}-${nodes}`)
    if (v['ui-port'] !== undefined && v.ui !== true) throw new ConfigError('--ui-port goes with --ui')
    const ui = v.ui === true ? { port: v['ui-port'] === undefined ? 0 : parseIntFlag(v['ui-port'], '--ui-port', 0, 65535) } : undefined
    if (ui !== undefined) await checkUiPort(ui.port)

    mkdirSync(outDir, { recursive: true })
    const logStream = createWriteStream(join(outDir, 'sim.log'))
    const log = createLogger({ level: 'info', name: 'weft-sim', destination: logStream })
    const progress = new Progress(process.stderr)
    if (profile.dense) {
      const run = describeDaemonRun(profileArgs(profile), profile.env, profile.nice)
      progress.note(`${nodes} nodes on ${cpus().length} cores: daemons run with ${run} (docs/sim.md, "Many nodes on few cores")`)
    }
    try {
      const report = await runSim({
        controllers: v.controllers === undefined ? 1 : parseIntFlag(v.controllers, '--controllers', 1, 5),
        nodes,
        scenario,
        seed,
        outDir,
        keep: v.keep === true,
        params: { count, lossPercent, durationMs },
        batchSize,
        tickMs,
        daemonNodeFlags: nodeFlags,
        daemonArgs: profileArgs(profile),
        daemonEnv: profile.env,
        daemonNice: profile.nice,
        settleMs: swimConfig.joinGraceMs,
        settleBoundMs: settleBoundMs(swimConfig, nodes),
        graceMs: 10_000,
        ui,
        clock: systemClock,
        log,
        progress
      })
      process.stdout.write('\n' + formatSummary(report, { json: join(outDir, 'report.json'), html: join(outDir, 'report.html') }))
      return report.reachability.final.ok === report.reachability.final.total ? 0 : 1
    } finally {
      logStream.end()
      await once(logStream, 'close').catch(() => {})
    }
  }
}
