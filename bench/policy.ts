/**
 * What compiling the access policy costs one node (docs/policy.md, "Enforcement"): for meshes of N nodes and
 * policies of R rules, the time to compile one node's filter, the nft rules and set elements it holds, and the
 * script's size; with `--apply`, the time `nft -f` takes to load the largest one in a namespace of its own.
 * Prints figures (medians and p99 over the sampled nodes); never passes or fails.
 *
 *   node dist/bench/policy.js [--nodes 100,1000,10000] [--rules 100,1000] [--samples 30] [--apply]
 *
 * The generated fleet: 50 tags, each node carrying one or two; 20 groups of 10 hostnames; 10 host ranges. Each
 * rule takes 1-3 sources and 1-2 destinations from tags, groups, node names, hosts and `*`, with one port, a
 * range or a list, so about one rule in ten names any given node as a destination.
 */
import { execFileSync } from 'node:child_process'
import { parseFlags } from '../cmd/cli.js'
import { compileFilter, replaceScript, type FilterNode } from '../lib/policy/compile.js'
import { parsePolicy } from '../lib/policy/document.js'
import { formatIPv4 } from '../lib/wire/addr.js'
import { SeededRandom } from '../lib/swim/random.js'
import { randomPolicy } from './policy/document.js'

const TAGS = 50
const GROUPS = 20
const HOSTS = 10

const flags = parseFlags(process.argv.slice(2), {
  nodes: { type: 'string', default: '100,1000,10000' },
  rules: { type: 'string', default: '100,1000' },
  samples: { type: 'string', default: '30' },
  apply: { type: 'boolean', default: false }
}, 'usage: node dist/bench/policy.js [--nodes 100,1000,10000] [--rules 100,1000] [--samples 30] [--apply]')
if (flags === null) process.exit(0)
const list = (s: string): number[] => s.split(',').map(Number).filter(n => Number.isInteger(n) && n > 0)
const samples = Number(flags.values.samples)

/** N nodes: hostnames n<i>, mesh IPs from 100.64.0.1 on, one or two tags each. */
function fleet (n: number, rnd: SeededRandom): FilterNode[] {
  return Array.from({ length: n }, (_, i) => {
    const tags = new Set([`tag:t${rnd.int(TAGS)}`])
    if (rnd.next() < 0.5) tags.add(`tag:t${rnd.int(TAGS)}`)
    return { hostname: `n${i}`, meshIp: formatIPv4(0x64400001 + i), tags: [...tags].sort() }
  })
}

function pct (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!
}

const f1 = (x: number): string => x.toFixed(1)
console.log('nodes  rules  doc KiB  parse ms  compile ms p50/p99/max  nft rules p50/max  sets p50  elements p50/max  script KiB p50/max  nft -f ms')
for (const n of list(flags.values.nodes as string)) {
  for (const r of list(flags.values.rules as string)) {
    const rnd = new SeededRandom(n * 7 + r)
    const nodes = fleet(n, rnd)
    const names = nodes.map(node => node.hostname)
    const text = randomPolicy(names, { rules: r, groups: GROUPS, groupSize: 10, tags: TAGS, hosts: HOSTS }, rnd)
    const t0 = performance.now()
    const policy = parsePolicy(text)
    const parseMs = performance.now() - t0
    const ms: number[] = []; const rules: number[] = []; const sets: number[] = []; const elements: number[] = []; const bytes: number[] = []
    let largest = ''
    for (let s = 0; s < samples; s++) {
      const self = nodes[rnd.int(n)]!
      const c0 = performance.now()
      const c = compileFilter({ policy, nodes, self, ifname: 'weft0', meshCidr: '100.64.0.0/10', swimPort: 7946 })
      ms.push(performance.now() - c0)
      const script = replaceScript('weft0', c)
      rules.push(c.rules); sets.push(c.sets.size); elements.push(c.elements); bytes.push(script.length / 1024)
      if (script.length > largest.length) largest = script
    }
    const apply = flags.values.apply === true ? f1(applyMs(largest)) : '-'
    console.log([
      String(n).padStart(5), String(r).padStart(6), f1(text.length / 1024).padStart(8), f1(parseMs).padStart(9),
      `${f1(pct(ms, 0.5))}/${f1(pct(ms, 0.99))}/${f1(Math.max(...ms))}`.padStart(24),
      `${pct(rules, 0.5)}/${Math.max(...rules)}`.padStart(18), String(pct(sets, 0.5)).padStart(9),
      `${pct(elements, 0.5)}/${Math.max(...elements)}`.padStart(17), `${f1(pct(bytes, 0.5))}/${f1(Math.max(...bytes))}`.padStart(19), apply.padStart(10)
    ].join('  '))
  }
}

/** ms `nft -f` takes to load `script` into a fresh namespace (created and deleted here). */
function applyMs (script: string): number {
  const ns = `wfbench-${process.pid}`
  execFileSync('ip', ['netns', 'add', ns])
  try {
    execFileSync('ip', ['-n', ns, 'link', 'add', 'weft0', 'type', 'veth', 'peer', 'name', 'weft0p'])
    const t0 = performance.now()
    execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: script })
    return performance.now() - t0
  } finally {
    execFileSync('ip', ['netns', 'del', ns])
  }
}
