import { ManualClock } from '../lib/clock.js'
import { ControllerMetrics } from '../lib/control/metrics.js'
import { DaemonMetrics } from '../lib/daemon/metrics.js'
import { buildStatus } from '../lib/daemon/status-build.js'
import { node, statusInputs } from './daemon/status-fixture.js'

/** One metric family as registered: name, type, label names and help. */
export interface ExportedMetric { name: string, type: string, labelNames: string[], help: string, component: 'daemon' | 'controller' }

/** Every metric family the daemon and the controller register, read from their real registries. */
export function exportedMetrics (): ExportedMetric[] {
  const self = node('n1', 'a', 0)
  const daemon = new DaemonMetrics({ status: async () => buildStatus(statusInputs(self, [self], [])), clock: new ManualClock() })
  const source = {
    healthCounts: () => new Map(), netmapVersion: () => 0, openChannels: () => 0, syncedBatches: () => 0, storeHealthy: () => true, policyVersion: () => 0
  }
  const controller = new ControllerMetrics(source, new ManualClock())
  const of = (r: { getMetricsAsArray (): unknown[] }, component: 'daemon' | 'controller'): ExportedMetric[] => r.getMetricsAsArray().map(m => {
    const x = m as { name: string, type: string, labelNames: string[], help: string }
    return { name: x.name, type: x.type, labelNames: [...x.labelNames], help: x.help, component }
  })
  return [...of(daemon.registry, 'daemon'), ...of(controller.registry, 'controller')]
}

/** Every series name exported (histograms with their _bucket, _sum and _count). */
export function exportedNames (): Set<string> {
  const names = new Set<string>()
  for (const m of exportedMetrics()) {
    names.add(m.name)
    if (m.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s)
  }
  return names
}
