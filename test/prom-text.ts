/** A parser of the Prometheus text exposition format (0.0.4), for tests that read real scrapes. */

/** One sample line: metric name, labels, value. */
export interface PromSample { name: string, labels: Record<string, string>, value: number }

/** One metric family: `# TYPE` and `# HELP` plus its samples. */
export interface PromFamily { name: string, type: string, help: string, samples: PromSample[] }

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** Parses a scrape; throws on a line that is not a comment, a blank or a sample. */
export function parseProm (text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>()
  const family = (name: string): PromFamily => {
    let f = families.get(name)
    if (f === undefined) { f = { name, type: 'untyped', help: '', samples: [] }; families.set(name, f) }
    return f
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
    if (meta !== null) {
      if (meta[1] === 'TYPE') family(meta[2]!).type = meta[3]!
      else family(meta[2]!).help = meta[3]!
      continue
    }
    if (line.startsWith('#')) continue
    const m = SAMPLE.exec(line)
    if (m === null) throw new Error(`not a Prometheus sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\"/g, '"').replace(/\\n/g, '\n').replace(/\\\\/g, '\\')
    const base = [...families.keys()].find(f => m[1] === f || (/_(bucket|sum|count)$/.test(m[1]!) && m[1]!.replace(/_(bucket|sum|count)$/, '') === f)) ?? m[1]!
    family(base).samples.push({ name: m[1]!, labels, value: Number(m[3]) })
  }
  return families
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
export function sampleValue (families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const base = name.replace(/_(bucket|sum|count)$/, '')
  const f = families.get(name) ?? families.get(base)
  return f?.samples.find(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
}

/**
 * Breaches of the Prometheus naming conventions (https://prometheus.io/docs/practices/naming/) among
 * `families`: snake_case, counters end in `_total`, only non-counters may not, base units (seconds, bytes)
 * rather than milliseconds or kilobytes, labels snake_case.
 */
export function namingProblems (families: Iterable<PromFamily>): string[] {
  const out: string[] = []
  for (const f of families) {
    if (!/^[a-z][a-z0-9_]*$/.test(f.name)) out.push(`${f.name}: not snake_case`)
    if (f.type === 'counter' && !f.name.endsWith('_total')) out.push(`${f.name}: a counter must end in _total`)
    if (f.type !== 'counter' && f.name.endsWith('_total')) out.push(`${f.name}: only counters end in _total`)
    if (/_(ms|millis|milliseconds|us|microseconds|kb|kib|mb|mib|minutes|hours)(_|$)/.test(f.name)) out.push(`${f.name}: use base units (seconds, bytes)`)
    if (f.help === '') out.push(`${f.name}: no HELP`)
    for (const s of f.samples) for (const k of Object.keys(s.labels)) if (!/^[a-z][a-z0-9_]*$/.test(k)) out.push(`${f.name}: label ${k} not snake_case`)
  }
  return out
}
