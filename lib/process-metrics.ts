import { readdirSync, readFileSync } from 'node:fs'
import type { Clock } from './clock.js'
import { scrapedCounter, scrapedGauge, type Registry } from './prom.js'
import { WEFT_VERSION } from './version.js'

/** Process and build metrics every Weft process exports, named as prom-client's defaults name them. */
export const PROCESS_METRIC_NAMES = [
  'weft_build_info', 'process_cpu_user_seconds_total', 'process_cpu_system_seconds_total', 'process_cpu_seconds_total',
  'process_start_time_seconds', 'process_resident_memory_bytes', 'process_open_fds', 'process_max_fds',
  'nodejs_heap_size_total_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_external_memory_bytes'
] as const

/** The soft limit on open files, from /proc/self/limits; undefined when unreadable or unlimited. */
function maxFds (): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find(l => l.startsWith('Max open files'))
    const n = Number(line?.split(/\s{2,}/)[1])
    return Number.isFinite(n) ? n : undefined
  } catch { return undefined }
}

/**
 * Registers `weft_build_info` and the `process_*` / `nodejs_*` metrics operators expect from any Node service,
 * all read at scrape time. Chosen over prom-client's collectDefaultMetrics, which also starts an event-loop
 * delay monitor (a libuv timer every 10 ms, for the life of the process, even in an idle daemon) and a GC
 * observer, and cannot be stopped again. The start time is `clock`'s time less the process uptime.
 */
export function registerProcessMetrics (registry: Registry, clock: Clock): void {
  const startSeconds = Math.round(clock.now() / 1000 - process.uptime())
  scrapedGauge({
    name: 'weft_build_info',
    help: 'Always 1; labels: the Weft version and the Node.js version running it.',
    labelNames: ['version', 'nodejs'],
    registry,
    read: () => [{ labels: { version: WEFT_VERSION, nodejs: process.version }, value: 1 }]
  })
  const cpu = (): NodeJS.CpuUsage => process.cpuUsage()
  scrapedCounter({ name: 'process_cpu_user_seconds_total', help: 'User CPU time spent, in seconds.', registry, read: () => [{ value: cpu().user / 1e6 }] })
  scrapedCounter({
    name: 'process_cpu_system_seconds_total',
    help: 'System CPU time spent, in seconds.',
    registry,
    read: () => [{ value: cpu().system / 1e6 }]
  })
  scrapedCounter({
    name: 'process_cpu_seconds_total',
    help: 'User and system CPU time spent, in seconds.',
    registry,
    read: () => { const c = cpu(); return [{ value: (c.user + c.system) / 1e6 }] }
  })
  scrapedGauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since the Unix epoch, in seconds.',
    registry,
    read: () => [{ value: startSeconds }]
  })
  scrapedGauge({ name: 'process_resident_memory_bytes', help: 'Resident memory size, in bytes.', registry, read: () => [{ value: process.memoryUsage.rss() }] })
  scrapedGauge({
    name: 'process_open_fds',
    help: 'Open file descriptors.',
    registry,
    read: () => { try { return [{ value: readdirSync('/proc/self/fd').length - 1 }] } catch { return [] } }
  })
  scrapedGauge({
    name: 'process_max_fds',
    help: 'Maximum number of open file descriptors (soft limit).',
    registry,
    read: () => { const n = maxFds(); return n === undefined ? [] : [{ value: n }] }
  })
  const mem = (): NodeJS.MemoryUsage => process.memoryUsage()
  scrapedGauge({ name: 'nodejs_heap_size_total_bytes', help: 'V8 heap size, in bytes.', registry, read: () => [{ value: mem().heapTotal }] })
  scrapedGauge({ name: 'nodejs_heap_size_used_bytes', help: 'V8 heap used, in bytes.', registry, read: () => [{ value: mem().heapUsed }] })
  scrapedGauge({
    name: 'nodejs_external_memory_bytes',
    help: 'Memory of C++ objects bound to JavaScript objects, in bytes.',
    registry,
    read: () => [{ value: mem().external }]
  })
}
