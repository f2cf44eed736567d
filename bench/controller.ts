#!/usr/bin/env node
import { parseDuration, parseFlags, parseIntFlag } from '../cmd/cli.js'
import { ConfigError, WeftError } from '../lib/errors.js'
import { openFileLimit } from './controller/procstat.js'
import { requireEtcd, type StoreSetup } from './controller/deployment.js'
import { formatReport } from './controller/report.js'
import { runScenario, type ScenarioOptions } from './controller/scenario.js'
import type { SizeFigures } from './controller/summary.js'

/**
 * bench/controller: N simulated nodes registered, N open update channels, heartbeats at the
 * controller's default rate; prints join and access policy fan-out latency, bytes per change, and the
 * controllers' CPU and RSS in steady state: one controller on LevelDB, and with --etcd-controllers K, K
 * controllers on etcd at the same size. Prints figures; never passes or fails on time. docs/bench-controller.md explains each figure.
 */

const USAGE = `Usage: node dist/bench/controller.js [flags]

Starts a fresh controller (node dist/cmd/weft.js controller) per size on a free loopback port; with
--etcd-controllers K, then K fresh controllers on one prefix of a fresh etcd cluster at the same size,
node i at controller i mod K.

  --sizes LIST              mesh sizes to run, comma-separated (default 1000,10000)
  --nodes N                 one size only (same as --sizes N)
  --joins J                 timed joins per size, one at a time (default 20)
  --policy-changes K        timed access policy changes per size, after the joins, one at a time (default 5; 0: none)
  --steady DURATION         steady-state window (default 30s)
  --join-timeout DURATION   how long one join or policy change may take to reach every channel (default 30s)
  --register-concurrency K  registrations in flight during set-up (default 32)
  --open-concurrency K      channels connecting at once during set-up (default 256)
  --source-ips K            loopback source addresses 127.88.x.y the nodes are spread over (default 64)
  --connections K           keep-alive sockets per source address and controller, for registrations and again for heartbeats (default 2)
  --etcd-controllers K      after each size's LevelDB run, run it again with K controllers on etcd (default 0: LevelDB only)
  --etcd-members M          members of the etcd cluster of those runs (default 3)
  --controller-arg ARG      extra argument for \`weft controller\` (repeatable), e.g. --controller-arg=--log-level=warn
  --cpu-prof DIR            run the controllers under node --cpu-prof, profiles in DIR
  --keep                    keep the controllers' data dirs and logs, and etcd's data
  --json                    also print one JSON line with every figure
`

function parseSizes (s: string): number[] {
  const sizes = s.split(',').map(x => parseIntFlag(x.trim(), '--sizes', 1, 100_000))
  if (sizes.length === 0) throw new ConfigError('--sizes needs at least one size')
  return sizes
}

/**
 * Every socket the bench and the busiest controller hold at size n with up to `controllers` controllers, plus
 * room for files, pipes and LevelDB; fails with what to do.
 */
function checkOpenFiles (n: number, controllers: number, opts: ScenarioOptions): void {
  const limit = openFileLimit()
  const pooled = 2 * opts.sourceIps * opts.connectionsPerSource * controllers
  const sockets = n + opts.joins + pooled
  const need = sockets + 512
  if (limit < need) {
    throw new ConfigError(`ulimit -n is ${limit}, but N=${n} needs about ${need} open files in the bench and again in the controller ` +
      `(${n} update channels + ${opts.joins} joins + ${pooled} pooled sockets + 512 spare); ` +
      'raise it (ulimit -n) or run a smaller --sizes')
  }
}

async function main (argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, {
    sizes: { type: 'string' },
    nodes: { type: 'string' },
    joins: { type: 'string', default: '20' },
    'policy-changes': { type: 'string', default: '5' },
    steady: { type: 'string', default: '30s' },
    'join-timeout': { type: 'string', default: '30s' },
    'register-concurrency': { type: 'string', default: '32' },
    'open-concurrency': { type: 'string', default: '256' },
    'source-ips': { type: 'string', default: '64' },
    connections: { type: 'string', default: '2' },
    'etcd-controllers': { type: 'string', default: '0' },
    'etcd-members': { type: 'string', default: '3' },
    'controller-arg': { type: 'string', multiple: true, default: [] },
    'cpu-prof': { type: 'string' },
    keep: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false }
  }, USAGE)
  if (parsed === null) return 0
  const v = parsed.values
  if (v.sizes !== undefined && v.nodes !== undefined) throw new ConfigError('give --sizes or --nodes, not both')
  const sizes = v.nodes !== undefined ? [parseIntFlag(v.nodes, '--nodes', 1, 100_000)] : parseSizes(v.sizes ?? '1000,10000')
  const opts: ScenarioOptions = {
    joins: parseIntFlag(v.joins!, '--joins', 1, 10_000),
    policyChanges: parseIntFlag(v['policy-changes']!, '--policy-changes', 0, 1000),
    steadyMs: parseDuration(v.steady!, '--steady'),
    joinTimeoutMs: parseDuration(v['join-timeout']!, '--join-timeout'),
    registerConcurrency: parseIntFlag(v['register-concurrency']!, '--register-concurrency', 1, 1024),
    openConcurrency: parseIntFlag(v['open-concurrency']!, '--open-concurrency', 1, 4096),
    sourceIps: parseIntFlag(v['source-ips']!, '--source-ips', 1, 65_000),
    connectionsPerSource: parseIntFlag(v.connections!, '--connections', 1, 64),
    controllerArgs: v['controller-arg'] ?? [],
    cpuProfDir: v['cpu-prof'] ?? null,
    keep: v.keep === true
  }
  if (opts.steadyMs < 2000) throw new ConfigError('--steady must be at least 2s (CPU is sampled once a second)')
  const etcdControllers = parseIntFlag(v['etcd-controllers']!, '--etcd-controllers', 0, 16)
  const setups: StoreSetup[] = [{ store: 'leveldb' }]
  if (etcdControllers > 0) {
    requireEtcd()
    setups.push({ store: 'etcd', controllers: etcdControllers, members: parseIntFlag(v['etcd-members']!, '--etcd-members', 1, 7) })
  }
  for (const n of sizes) checkOpenFiles(n, Math.max(1, etcdControllers), opts)

  const log = (s: string): void => { process.stderr.write(`${new Date().toISOString()} ${s}\n`) }
  const cleanups = new Set<() => Promise<void>>()
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: stopping the controllers`)
    void Promise.allSettled([...cleanups].map(async fn => await fn())).then(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const runs: SizeFigures[] = []
  for (const n of sizes) {
    for (const setup of setups) {
      const figures = await runScenario(n, setup, opts, log, cleanups)
      // Each run's figures go to the log at once, so a later run that is interrupted loses nothing.
      log(`[n=${n} ${figures.label}] figures ${JSON.stringify(figures)}`)
      runs.push(figures)
    }
  }
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  const command = `node dist/bench/controller.js ${argv.join(' ')}`.trim()
  const meta = { command, joins: opts.joins, policyChanges: opts.policyChanges, steadyMs: opts.steadyMs, etcdControllers }
  process.stdout.write(formatReport(runs, meta))
  if (v.json === true) process.stdout.write(JSON.stringify({ bench: 'controller', ...meta, runs }) + '\n')
  return 0
}

main(process.argv.slice(2)).then(code => { process.exitCode = code }, (err: unknown) => {
  if (err instanceof WeftError) {
    process.stderr.write(`bench/controller: ${err.message} (${err.code})\n`)
    process.exitCode = 2
  } else {
    process.stderr.write(`bench/controller: ${(err as Error)?.stack ?? String(err)}\n`)
    process.exitCode = 1
  }
})
