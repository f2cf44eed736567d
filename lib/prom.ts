/**
 * The parts of prom-client Weft uses (Registry, Counter, Gauge, Histogram), loaded file by file. The package's
 * entry point also loads its Summary (t-digest), Pushgateway (http, https, zlib) and cluster aggregator:
 * 12.5 MB of RSS in a bare Node against 2.3 MB for these four files (`node -e "await import(...)"`,
 * docs/metrics.md), and the daemon runs on every node. No module-level state: each user makes its own
 * Registry.
 */
import { createRequire } from 'node:module'
import type * as Prom from 'prom-client'

const require = createRequire(import.meta.url)

export const Registry = require('prom-client/lib/registry') as typeof Prom.Registry
export const Counter = require('prom-client/lib/counter') as typeof Prom.Counter
export const Gauge = require('prom-client/lib/gauge') as typeof Prom.Gauge
export const Histogram = require('prom-client/lib/histogram') as typeof Prom.Histogram
export type Registry = Prom.Registry
export type Counter<T extends string = string> = Prom.Counter<T>
export type Gauge<T extends string = string> = Prom.Gauge<T>
export type Histogram<T extends string = string> = Prom.Histogram<T>

/** One sample of a metric read at scrape time: label values (none for an unlabelled metric) and the value. */
export interface Sample { labels?: Record<string, string>, value: number }

/**
 * A counter whose value is owned by something that counts on its own (a plain `counters` object, the
 * process's CPU time): `read` is called at each scrape and its samples replace the previous ones. The values
 * must only grow while the process lives; a restart starts them at 0, which Prometheus' rate() expects.
 */
export function scrapedCounter (o: { name: string, help: string, labelNames?: readonly string[], registry: Registry, read: () => readonly Sample[] }): Counter {
  return new Counter({
    name: o.name,
    help: o.help,
    labelNames: o.labelNames ?? [],
    registers: [o.registry],
    collect () {
      this.reset()
      for (const s of o.read()) {
        if (s.labels === undefined) this.inc(s.value)
        else this.inc(s.labels, s.value)
      }
    }
  })
}

/** A gauge whose samples are read at each scrape (and replace the previous ones: a label set not read again is gone). */
export function scrapedGauge (o: { name: string, help: string, labelNames?: readonly string[], registry: Registry, read: () => readonly Sample[] }): Gauge {
  return new Gauge({
    name: o.name,
    help: o.help,
    labelNames: o.labelNames ?? [],
    registers: [o.registry],
    collect () {
      this.reset()
      for (const s of o.read()) {
        if (s.labels === undefined) this.set(s.value)
        else this.set(s.labels, s.value)
      }
    }
  })
}
