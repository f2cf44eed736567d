import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Clock } from '../clock.js'
import { NODE_HEALTHS, type NodeHealth } from '../wire/netmap.js'
import { scrapedCounter } from '../prom.js'
import { registerProcessMetrics } from '../process-metrics.js'

/** What the metrics need to read at scrape time. */
export interface MetricsSource {
  healthCounts (): Map<NodeHealth, number>
  netmapVersion (): number
  openChannels (): number
  /** Synced store batches written since this process started. */
  syncedBatches (): number
  /** True while the store accepts writes. */
  storeHealthy (): boolean
  /** Version of the access policy in force; 0 when none was ever set. */
  policyVersion (): number
}

/**
 * The controller's Prometheus metrics, on their own Registry (never the global default, so two
 * controllers in one process, as in tests, do not collide). Gauges are computed at scrape time.
 */
export class ControllerMetrics {
  readonly registry = new Registry()
  readonly registrations: Counter<'result'>
  readonly suspicions: Counter
  readonly healthChanges: Counter<'from' | 'to'>
  readonly routeChanges: Counter<'by'>
  readonly requestSeconds: Histogram<'method' | 'route' | 'status'>
  readonly storeErrors: Counter<'stage'>
  readonly storeRefused: Counter
  readonly policyChanges: Counter

  /** `clock` dates the process start (process_start_time_seconds). */
  constructor (source: MetricsSource, clock: Clock) {
    const registers = [this.registry]
    this.registrations = new Counter({
      name: 'weft_registrations_total',
      help: 'Registration attempts by result (new, reregistered, rotated, rejected).',
      labelNames: ['result'],
      registers
    })
    this.suspicions = new Counter({ name: 'weft_swim_suspicions_reported_total', help: 'Suspicions newly reported by daemons in SWIM reports.', registers })
    this.healthChanges = new Counter({ name: 'weft_health_changes_total', help: 'Fused health transitions.', labelNames: ['from', 'to'], registers })
    this.routeChanges = new Counter({
      name: 'weft_route_changes_total', help: 'Changes to nodes\' advertised or approved routes, by who made them (node, admin).', labelNames: ['by'], registers
    })
    this.storeErrors = new Counter({
      name: 'weft_store_errors_total',
      help: 'Failed store writes by stage (write: the database batch; guard: the store guard after a durable batch).',
      labelNames: ['stage'],
      registers
    })
    this.storeRefused = new Counter({
      name: 'weft_store_refused_writes_total',
      help: 'Writes refused (503) because the store failed a write and has not been reopened and verified yet.',
      registers
    })
    this.policyChanges = new Counter({
      name: 'weft_policy_changes_total',
      help: 'Access policies set since this process started (a PUT that repeats the current text is not counted).',
      registers
    })
    this.requestSeconds = new Histogram({
      name: 'weft_http_request_duration_seconds',
      help: 'HTTP request latency (update channels excluded: they are long-lived).',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers
    })
    /* eslint-disable no-new -- a gauge registers itself with `registers` and reads its value at each scrape */
    new Gauge({
      name: 'weft_nodes',
      help: 'Nodes by fused health (removed nodes are not counted).',
      labelNames: ['health'],
      registers,
      collect () {
        const counts = source.healthCounts()
        for (const h of NODE_HEALTHS) if (h !== 'removed') this.set({ health: h }, counts.get(h) ?? 0)
      }
    })
    new Gauge({
      name: 'weft_netmap_version',
      help: 'Current netmap version (restarts with the epoch).',
      registers,
      collect () { this.set(source.netmapVersion()) }
    })
    new Gauge({
      name: 'weft_policy_version',
      help: 'Version of the access policy in force (counts its changes; 0: none was ever set, every flow is allowed).',
      registers,
      collect () { this.set(source.policyVersion()) }
    })
    new Gauge({ name: 'weft_update_channels_open', help: 'Open netmap update channels.', registers, collect () { this.set(source.openChannels()) } })
    new Gauge({
      name: 'weft_store_healthy',
      help: '1 while the store accepts writes, 0 after a failed write until it is reopened and verified.',
      registers,
      collect () { this.set(source.storeHealthy() ? 1 : 0) }
    })
    /* eslint-enable no-new */
    scrapedCounter({
      name: 'weft_store_synced_batches_total',
      help: 'Synced store batches written (group commit: far fewer than registrations).',
      registry: this.registry,
      read: () => [{ value: source.syncedBatches() }]
    })
    registerProcessMetrics(this.registry, clock)
  }
}
