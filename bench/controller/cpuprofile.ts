#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'

/**
 * Summarises a V8 .cpuprofile (from `--cpu-prof`, e.g. the bench's `--cpu-prof DIR`): the functions with the
 * most self time, and the project functions with the most inclusive time, so a report can say what
 * dominates the controller's CPU without a GUI.
 *
 * Usage: node dist/bench/controller/cpuprofile.js FILE.cpuprofile [--top 25] [--callers FUNCTION [--depth 6]]
 */

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

function label (f: CallFrame): string {
  const name = f.functionName === '' ? '(anonymous)' : f.functionName
  if (f.url === '') return name
  const file = f.url.includes('/node_modules/') ? f.url.slice(f.url.lastIndexOf('/node_modules/') + 14) : basename(f.url)
  return `${name} ${file}:${f.lineNumber + 1}`
}

/** Self ms of every stack whose leaf-most frame matching `needle` is reached, keyed by the stack above it (up to `depth` callers). */
export function callersOf (p: Profile, needle: string, depth = 6): Map<string, number> {
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const out = new Map<string, number>()
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000
    let cur: number | undefined = p.samples[i]!
    while (cur !== undefined && !label(byId.get(cur)!.callFrame).includes(needle)) cur = parent.get(cur)
    if (cur === undefined) continue
    const chain: string[] = []
    for (let up = parent.get(cur); up !== undefined && chain.length < depth; up = parent.get(up)) chain.push(label(byId.get(up)!.callFrame))
    const key = chain.join(' < ')
    out.set(key, (out.get(key) ?? 0) + dt)
  }
  return out
}

/** Self and inclusive ms per function label of `p`. */
export function summarizeProfile (p: Profile): { totalMs: number, self: Map<string, number>, inclusive: Map<string, number> } {
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfById = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000
    selfById.set(p.samples[i]!, (selfById.get(p.samples[i]!) ?? 0) + dt)
  }
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  for (const [id, ms] of selfById) {
    const l = label(byId.get(id)!.callFrame)
    self.set(l, (self.get(l) ?? 0) + ms)
    // Each label counts once per stack, so recursion does not inflate inclusive time.
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cl = label(byId.get(cur)!.callFrame)
      if (seen.has(cl)) continue
      seen.add(cl)
      inclusive.set(cl, (inclusive.get(cl) ?? 0) + ms)
    }
  }
  return { totalMs: (p.endTime - p.startTime) / 1000, self, inclusive }
}

function main (argv: string[]): number {
  const file = argv[0]
  if (file === undefined) {
    process.stderr.write('Usage: node dist/bench/controller/cpuprofile.js FILE.cpuprofile [--top N]\n')
    return 2
  }
  const topIdx = argv.indexOf('--top')
  const top = topIdx >= 0 ? Number(argv[topIdx + 1]) : 25
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const callersIdx = argv.indexOf('--callers')
  if (callersIdx >= 0) {
    const needle = argv[callersIdx + 1] ?? ''
    const depthIdx = argv.indexOf('--depth')
    const m = callersOf(profile, needle, depthIdx >= 0 ? Number(argv[depthIdx + 1]) : 6)
    process.stdout.write(`time under "${needle}", by caller chain:\n`)
    for (const [k, ms] of [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${ms.toFixed(0).padStart(7)} ms  ${k}\n`)
    return 0
  }
  const s = summarizeProfile(profile)
  const busy = [...s.self.entries()].filter(([l]) => l !== '(idle)' && l !== '(program)').reduce((a, [, v]) => a + v, 0)
  const pct = (ms: number): string => `${((100 * ms) / s.totalMs).toFixed(1).padStart(5)} %`
  const print = (title: string, m: Map<string, number>, filter: (l: string) => boolean): void => {
    process.stdout.write(`\n${title}\n`)
    for (const [l, ms] of [...m.entries()].filter(([l]) => filter(l)).sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`${pct(ms)}  ${ms.toFixed(0).padStart(7)} ms  ${l}\n`)
    }
  }
  const wallS = (s.totalMs / 1000).toFixed(1)
  process.stdout.write(`profile ${basename(file)}: ${wallS} s wall, ${(busy / 1000).toFixed(1)} s on CPU (${pct(busy).trim()} of wall)\n`)
  print('self time (top functions):', s.self, () => true)
  print('inclusive time, project code (dist/):', s.inclusive, l => /\.js:\d+$/.test(l) && !l.includes('node_modules'))
  return 0
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(basename(process.argv[1]))) process.exitCode = main(process.argv.slice(2))
