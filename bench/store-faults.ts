#!/usr/bin/env node
import { loadavg } from 'node:os'
import { formatTable, parseFlags, parseIntFlag } from '../cmd/cli.js'
import { exitCodeOf } from '../cmd/exit.js'
import { ConfigError, WeftError } from '../lib/errors.js'
import { max, median, round } from './controller/stats.js'
import { SCENARIOS, runRound, type CampaignOptions, type RoundResult, type ScenarioName } from './store-faults/scenarios.js'

/**
 * bench/store-faults: a fault campaign against the controller's store. Repeats the disk-full cycle and
 * kill -9 during registration bursts, each round on a fresh data directory with a real `weft controller`,
 * and prints per scenario how many registrations were acknowledged, lost, moved to another id or IP, and
 * how many IPs ended up held twice. Prints figures; times are for reading, never a verdict.
 */

const USAGE = `Usage: node dist/bench/store-faults.js [flags]

Needs root for the disk scenarios (each round mounts a tmpfs); without it they are skipped with the reason.

  --rounds N           rounds per scenario (default 20)
  --scenarios LIST     comma-separated, from ${SCENARIOS.join(', ')} (default all)
  --tmpfs-kib N        size of each disk round's tmpfs in KiB (default 2048)
  --burst N            registrations per burst in the kill scenario (default 300)
  --kills N            SIGKILLs per round in the kill scenario (default 3)
  --seed N             seed of the kill points (default 1)
  --json               also print one JSON line with every figure
`

/** mulberry32: a small seeded generator, so that a campaign's kill points can be replayed. */
function seeded (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface ScenarioFigures {
  scenario: ScenarioName
  rounds: number
  acknowledged: number
  lost: number
  moved: number
  reissued: number
  duplicateIps: number
  refused503: number
  otherErrors: number
  stages: Record<string, number>
  recoverP50Ms: number | null
  recoverMaxMs: number | null
  startWhileFull: Record<string, number>
  skipped?: string
}

function summarise (scenario: ScenarioName, results: RoundResult[]): ScenarioFigures {
  const count = (values: Array<string | null>): Record<string, number> => {
    const out: Record<string, number> = {}
    for (const v of values) if (v !== null) out[v] = (out[v] ?? 0) + 1
    return out
  }
  const sum = (f: (r: RoundResult) => number): number => results.reduce((a, r) => a + f(r), 0)
  const recover = results.map(r => r.recoverMs).filter((x): x is number => x !== null)
  return {
    scenario,
    rounds: results.length,
    acknowledged: sum(r => r.check.acknowledged),
    lost: sum(r => r.check.lost),
    moved: sum(r => r.check.moved),
    reissued: sum(r => r.check.reissued),
    duplicateIps: sum(r => r.check.duplicateIps),
    refused503: sum(r => r.answers.refused503),
    otherErrors: sum(r => r.answers.other),
    stages: count(results.map(r => r.stage)),
    recoverP50Ms: round(median(recover), 0),
    recoverMaxMs: round(max(recover), 0),
    startWhileFull: count(results.map(r => r.startWhileFull))
  }
}

function table (figures: ScenarioFigures[]): string {
  const kv = (o: Record<string, number>): string => Object.keys(o).length === 0 ? '-' : Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ')
  const ms = (x: number | null): string => x === null ? '-' : `${(x / 1000).toFixed(2)}s`
  return formatTable(
    ['scenario', 'rounds', 'acknowledged', 'lost', 'moved', 'IP re-issued', 'duplicate IPs', '503 refused', 'other errors', 'failed first in',
      'recovery p50 / max', 'start while full'],
    figures.map(f => f.skipped !== undefined
      ? [f.scenario, '0', `skipped: ${f.skipped}`]
      : [f.scenario, String(f.rounds), String(f.acknowledged), String(f.lost), String(f.moved), String(f.reissued), String(f.duplicateIps),
          String(f.refused503), String(f.otherErrors), kv(f.stages), `${ms(f.recoverP50Ms)} / ${ms(f.recoverMaxMs)}`, kv(f.startWhileFull)]))
}

async function main (argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, {
    rounds: { type: 'string', default: '20' },
    scenarios: { type: 'string', default: SCENARIOS.join(',') },
    'tmpfs-kib': { type: 'string', default: '2048' },
    burst: { type: 'string', default: '300' },
    kills: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false }
  }, USAGE)
  if (parsed === null) return 0
  const v = parsed.values
  const rounds = parseIntFlag(v.rounds!, '--rounds', 1, 10_000)
  const names = v.scenarios!.split(',').map(s => s.trim())
  for (const n of names) {
    if (!(SCENARIOS as readonly string[]).includes(n)) {
      throw new ConfigError('--scenarios: unknown scenario ' +
        `"${n}" (known: ${SCENARIOS.join(', ')})`)
    }
  }
  const o: CampaignOptions = {
    tmpfsKiB: parseIntFlag(v['tmpfs-kib']!, '--tmpfs-kib', 512, 1_048_576),
    burst: parseIntFlag(v.burst!, '--burst', 10, 100_000),
    kills: parseIntFlag(v.kills!, '--kills', 1, 1000),
    random: seeded(parseIntFlag(v.seed!, '--seed', 0, 2 ** 31))
  }
  const loadBefore = loadavg()[0]!
  const t0 = performance.now()
  const figures: ScenarioFigures[] = []
  for (const name of names as ScenarioName[]) {
    const results: RoundResult[] = []
    let skipped: string | undefined
    for (let r = 0; r < rounds; r++) {
      try {
        results.push(await runRound(name, o, r))
      } catch (err) {
        if (r === 0 && /cannot mount a tmpfs/.test((err as Error).message)) { skipped = (err as Error).message; break }
        throw err
      }
      const last = results[results.length - 1]!
      process.stderr.write(`[store-faults] ${name} round ${r + 1}/${rounds}: acknowledged ${last.check.acknowledged}, lost ${last.check.lost}, ` +
        `IP re-issued ${last.check.reissued}, duplicate IPs ${last.check.duplicateIps}\n`)
    }
    figures.push(skipped !== undefined ? { ...summarise(name, []), skipped } : summarise(name, results))
  }
  process.stdout.write(`\nweft store-faults: ${rounds} rounds per scenario, ${((performance.now() - t0) / 1000).toFixed(0)} s in all (load average ` +
    `${loadBefore.toFixed(2)} -> ${loadavg()[0]!.toFixed(2)})\n\n`)
  process.stdout.write(table(figures))
  process.stdout.write('\n(acknowledged: registrations answered 200; lost: acknowledged but missing after a restart; moved: present with another id or IP;\n' +
    ' IP re-issued: an acknowledged IP now held by another key; duplicate IPs: addresses held by two listed nodes;\n' +
    ' failed first in: store.error stage; recovery: space freed -> first 200)\n')
  if (v.json === true) process.stdout.write(JSON.stringify({ rounds, loadBefore, loadAfter: loadavg()[0], figures }) + '\n')
  const broken = figures.reduce((a, f) => a + f.lost + f.moved + f.reissued + f.duplicateIps, 0)
  return broken === 0 ? 0 : 1
}

main(process.argv.slice(2)).then(code => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(err instanceof WeftError ? `store-faults: ${err.message}\n` : `store-faults: ${(err as Error)?.stack ?? String(err)}\n`)
  process.exitCode = exitCodeOf(err)
})
