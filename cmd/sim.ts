import { getHeapStatistics } from 'node:v8'
import { ConfigError } from '../lib/errors.js'
import { formatDuration } from '../lib/config-check.js'
import { DEFAULT_PRESET, PRESET_NAMES, PRESETS } from '../lib/swim/config.js'
import { runVirtual } from '../sim/virtual/simulation.js'
import { formatResult } from '../sim/virtual/report.js'
import { parseDuration, parseFlags, parseIntFlag, type Command } from './cli.js'

/**
 * `weft sim <subcommand>`: simulations of a mesh. Each subcommand is one entry of SUBCOMMANDS; adding one
 * (e.g. `run`, real nodes in namespaces) is one line there.
 */
const SUBCOMMANDS: Record<string, Command> = {
  virtual: { summary: 'in-process SWIM cores on a simulated network with virtual time', run: runVirtualCommand },
  run: {
    summary: 'real nodes in network namespaces, a fault scenario, a report with plots',
    run: async (argv) => await (await import('./sim-run.js')).simRunCommand.run(argv)
  }
}

/** Defaults of `weft sim virtual`'s flags. */
const VIRTUAL_DEFAULTS = { lossPercent: 0, latencyMinMs: 1, latencyMaxMs: 10, crash: 0, crashAtMs: 20_000, durationMs: 120_000 }

const VIRTUAL_USAGE = `Usage: weft sim virtual --nodes N --seed S [flags]

Runs N SWIM cores in one process on a simulated network, in virtual time, and prints detection figures.

Flags:
  --nodes N            members (2-20000)
  --seed S             seed; the same seed gives the same trace (hash printed)
  --loss P             packet loss in percent, 0-100 (default ${VIRTUAL_DEFAULTS.lossPercent})
  --latency-ms A-B     one-way latency range in ms (default ${VIRTUAL_DEFAULTS.latencyMinMs}-${VIRTUAL_DEFAULTS.latencyMaxMs})
  --crash K            nodes crashed at --crash-at (default ${VIRTUAL_DEFAULTS.crash})
  --crash-at T         when they crash (default ${formatDuration(VIRTUAL_DEFAULTS.crashAtMs)})
  --duration T         virtual time simulated (default ${formatDuration(VIRTUAL_DEFAULTS.durationMs)})
  --partition A-B      cut the members into two halves from A until B (e.g. 20s-80s); not with --crash
  --partition-spread T each node's side of the cut starts and ends at its own time within T (default 0: all at once)
  --dataplane          model each daemon and its WireGuard device: tunnels, handshakes, announcements (docs/sim.md)
  --config NAME        SWIM preset: ${PRESET_NAMES.slice(0, -1).join(', ')} or ${PRESET_NAMES.at(-1)!} (default ${DEFAULT_PRESET})
  --json               print the result as JSON
`

async function runVirtualCommand (argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, {
    nodes: { type: 'string' },
    seed: { type: 'string' },
    loss: { type: 'string' },
    'latency-ms': { type: 'string' },
    crash: { type: 'string' },
    'crash-at': { type: 'string' },
    duration: { type: 'string' },
    partition: { type: 'string' },
    'partition-spread': { type: 'string' },
    config: { type: 'string' },
    dataplane: { type: 'boolean' },
    json: { type: 'boolean' }
  }, VIRTUAL_USAGE)
  if (parsed === null) return 0
  const v = parsed.values
  if (v.nodes === undefined || v.seed === undefined) throw new ConfigError(`--nodes and --seed are required\n\n${VIRTUAL_USAGE}`)
  const nodes = parseIntFlag(v.nodes, '--nodes', 2, 20_000)
  const seed = parseIntFlag(v.seed, '--seed', 0, 2 ** 32 - 1)
  const loss = v.loss === undefined ? VIRTUAL_DEFAULTS.lossPercent : Number(v.loss)
  if (!Number.isFinite(loss) || loss < 0 || loss > 100) throw new ConfigError(`--loss must be a percentage from 0 to 100 (got "${v.loss}")`)
  let latencyMinMs = VIRTUAL_DEFAULTS.latencyMinMs
  let latencyMaxMs = VIRTUAL_DEFAULTS.latencyMaxMs
  if (v['latency-ms'] !== undefined) {
    const m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(v['latency-ms'])
    if (m === null || Number(m[1]) > Number(m[2])) throw new ConfigError(`--latency-ms must be a range like 1-10 with A <= B (got "${v['latency-ms']}")`)
    latencyMinMs = Number(m[1])
    latencyMaxMs = Number(m[2])
  }
  const crash = v.crash === undefined ? VIRTUAL_DEFAULTS.crash : parseIntFlag(v.crash, '--crash', 0, nodes - 1)
  const durationMs = v.duration === undefined ? VIRTUAL_DEFAULTS.durationMs : parseDuration(v.duration, '--duration')
  const crashAtMs = v['crash-at'] === undefined ? VIRTUAL_DEFAULTS.crashAtMs : parseDuration(v['crash-at'], '--crash-at')
  if (crash > 0 && crashAtMs >= durationMs) throw new ConfigError('--crash-at must be before the end of --duration')
  let partition: { fromMs: number, toMs: number, spreadMs?: number } | undefined
  if (v.partition !== undefined) {
    const [a, b, ...rest] = v.partition.split('-')
    if (a === undefined || b === undefined || rest.length > 0) throw new ConfigError(`--partition must be a range like 20s-80s (got "${v.partition}")`)
    partition = { fromMs: parseDuration(a, '--partition start'), toMs: parseDuration(b, '--partition end') }
    if (v['partition-spread'] !== undefined) partition.spreadMs = parseDuration(v['partition-spread'], '--partition-spread')
    if (crash > 0) throw new ConfigError('--partition and --crash cannot be combined: the heal figures assume every member runs')
    if (partition.fromMs >= partition.toMs || partition.toMs > durationMs) throw new ConfigError('--partition must end after it starts and within --duration')
  }
  const preset = PRESETS[v.config ?? DEFAULT_PRESET]
  if (preset === undefined) throw new ConfigError(`--config must be one of ${Object.keys(PRESETS).join(', ')} (got "${v.config}")`)
  // Each core holds every member (~40 bytes each untouched, ~150 once its state changed): n^2 memory.
  // Fail with a fix instead of an OOM crash.
  const needBytes = nodes * nodes * 64 + 512 * 1024 * 1024
  const limit = getHeapStatistics().heap_size_limit
  if (needBytes > limit) {
    const mb = Math.ceil(needBytes / 1024 / 1024 / 1024) * 1024 + 1024
    throw new ConfigError(`--nodes ${nodes} needs about ${Math.round(needBytes / 1024 / 1024)} MiB of heap ` +
      `but node allows ${Math.round(limit / 1024 / 1024)} MiB; rerun with NODE_OPTIONS=--max-old-space-size=${mb}`)
  }
  const result = runVirtual({
    nodes,
    seed,
    loss: loss / 100,
    latencyMinMs,
    latencyMaxMs,
    crash,
    crashAtMs,
    durationMs,
    partition,
    config: preset(),
    ...(v.dataplane === true ? { dataplane: {} } : {})
  })
  process.stdout.write(v.json === true ? JSON.stringify(result, null, 2) + '\n' : formatResult(result))
  return 0
}

function usage (): string {
  const names = Object.keys(SUBCOMMANDS)
  return 'Usage: weft sim <subcommand> [flags]\n\nSubcommands:\n' +
    names.map(n => `  ${n.padEnd(10)}  ${SUBCOMMANDS[n]!.summary}`).join('\n') + '\n'
}

/** The `weft sim` dispatcher. */
export const command: Command = {
  summary: 'simulate meshes',
  async run (argv: string[]): Promise<number> {
    const [name, ...rest] = argv
    if (name === undefined || name === '--help' || name === '-h') {
      process.stdout.write(usage())
      return name === undefined ? 2 : 0
    }
    const sub = SUBCOMMANDS[name]
    if (sub === undefined) throw new ConfigError(`unknown sim subcommand "${name}"\n\n${usage()}`)
    return await sub.run(rest)
  }
}
