import { SeededRandom } from '../../lib/swim/random.js'
import { randomPolicy, type PolicyShape } from '../policy/document.js'
import { arrivedOrTimeout, delivery, timeToAllByController, type ChannelSet } from './channel-set.js'
import type { Fleet } from './fleet.js'
import { sumSamples, type ProcSample } from './procstat.js'
import { settle } from './setup.js'
import { mean } from './stats.js'

/**
 * The policy-change measurement: K access policy documents set one after another with `PUT /v1/policy` through
 * controller 0, each timed from just before the request is written until every measured channel, on every
 * controller, has the delta carrying its version. The document travels whole, so the line that carries it should cost each daemon the same at any N.
 */

/**
 * The documents set: 6 groups of 8 registered hostnames, 10 tags, 4 host ranges and 40 rules, about 7 KB;
 * each change draws a new one (seed = its number).
 */
const BENCH_POLICY: PolicyShape = { rules: 40, groups: 6, groupSize: 8, tags: 10, hosts: 4 }

/** Hostnames are drawn from this many registered nodes, so every N at or above it sets the same documents. */
const POLICY_NAME_POOL = 100

/** What one policy change measured. */
export interface PolicyChangeResult {
  version: number
  /** Bytes of the document (UTF-8). */
  documentBytes: number
  /** PUT sent -> its 2xx answer, ms. */
  putMs: number
  /** PUT sent -> the first channel got the version, ms; null when none did. */
  firstMs: number | null
  /** PUT sent -> the last measured channel got it, ms; null when some never did within the timeout. */
  timeToAllMs: number | null
  /** PUT sent -> the last channel open at controller k got it, ms, per controller; null where some never did. */
  timeToAllByControllerMs: Array<number | null>
  /** PUT sent -> arrival, per channel that got it, ms. */
  perChannelMs: number[]
  missing: number
  /** Mean size of the line that carried it, bytes (newline included). */
  lineBytes: number
  viaFull: number
  /**
   * CPU of all controllers together from just before the PUT until every channel had it (or the timeout), ms;
   * heartbeats answered meanwhile included.
   */
  controllerCpuMs: number
  /** ms spent waiting for the mesh to be quiet before this change; null if it never was within the bound. */
  settleMs: number | null
}

/** How the changes are run. */
export interface PolicyChangeOptions {
  changes: number
  /** Wait at most this long for one change to reach every channel, ms. */
  timeoutMs: number
}

/**
 * Sets `opts.changes` documents over `hostnames` (nodes the controller has), one at a time, each from a quiet
 * mesh. Expects a controller with no policy yet, so change k becomes version k. The documents depend on N only
 * below POLICY_NAME_POOL, so the line carrying them compares byte for byte across larger sizes.
 */
export async function runPolicyChanges (fleet: Fleet, set: ChannelSet, hostnames: readonly string[], opts: PolicyChangeOptions,
  log: (s: string) => void): Promise<PolicyChangeResult[]> {
  const { api, process: ctl } = fleet.first
  const results: PolicyChangeResult[] = []
  for (let version = 1; version <= opts.changes; version++) {
    const text = randomPolicy(hostnames.slice(0, POLICY_NAME_POOL), BENCH_POLICY, new SeededRandom(version))
    const settleMs = await settle(fleet.targets, set, 10_000)
    const watch = set.watchPolicy(version)
    const cpu0 = sumSamples(fleet.procs.sample())
    const t0 = performance.now()
    let putMs: number
    let cpu1: ProcSample
    try {
      const res = await api.setPolicy(ctl.adminKey, { text, ifVersion: version - 1 })
      putMs = performance.now() - t0
      if (res.version !== version || !res.changed) {
        throw new Error(`PUT /v1/policy answered version ${res.version} (changed: ${res.changed}), not ${version}: the controller must start without a policy`)
      }
      await arrivedOrTimeout(watch, opts.timeoutMs)
      cpu1 = sumSamples(fleet.procs.sample())
    } finally {
      set.unwatchPolicy(version)
    }
    const d = delivery(watch, t0)
    const r: PolicyChangeResult = {
      version,
      documentBytes: Buffer.byteLength(text),
      putMs,
      firstMs: d.firstMs,
      timeToAllMs: d.timeToAllMs,
      timeToAllByControllerMs: timeToAllByController(watch, t0, set.controllerOf, fleet.links.length),
      perChannelMs: d.perChannelMs,
      missing: d.missing,
      lineBytes: mean(d.lineBytes),
      viaFull: watch.viaFull,
      controllerCpuMs: cpu1.cpuMs - cpu0.cpuMs,
      settleMs
    }
    results.push(r)
    log(`policy change ${version}/${opts.changes}: ${r.documentBytes} B document, PUT answered in ${putMs.toFixed(1)} ms, ` +
      `all ${set.channels.length} channels ` +
      (r.timeToAllMs === null ? `NOT reached (${r.missing} missing after ${opts.timeoutMs} ms)` : `in ${r.timeToAllMs.toFixed(1)} ms`) +
      `, delta line ${r.lineBytes.toFixed(0)} B, controller CPU ${r.controllerCpuMs.toFixed(0)} ms`)
  }
  return results
}
