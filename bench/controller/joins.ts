import { IGNORE, UpdateChannel } from './channel.js'
import { arrivedOrTimeout, delivery, timeToAllByController, type ChannelSet } from './channel-set.js'
import { makeIdentity, type RegisteredNode } from './client.js'
import type { ControllerLink, Fleet } from './fleet.js'
import { registerWithRetry, settle } from './setup.js'
import { mean } from './stats.js'

/**
 * The fan-out measurement: joins one node at a time through controller 0 and times how long its record takes
 * to reach every measured channel, on every controller. t0 is taken just before the register request is
 * written, so the figure covers the whole path a join takes: proof check, synced store write, IPAM, netmap
 * version, fan-out, delivery; and on etcd, the other controllers' watch of the store.
 */

/** What one join measured. */
export interface JoinResult {
  /** Register request sent -> 2xx answer, ms. */
  registerMs: number
  /** t0 -> the last measured channel got the record, ms; null when some never did within the timeout. */
  timeToAllMs: number | null
  /** t0 -> the last channel open at controller k got it, ms, per controller; null where some never did. */
  timeToAllByControllerMs: Array<number | null>
  /** t0 -> the first channel got it, ms: the controller's own path (proof, synced write, next tick) before fan-out. */
  firstMs: number | null
  /** t0 -> arrival, per channel that got it, ms. */
  perChannelMs: number[]
  /** Channels that did not get it within the timeout. */
  missing: number
  /** Mean size of the line that carried it, bytes (newline included). */
  lineBytes: number
  /** Mean upserts in that delta (1 = one change per delta; more = the controller batched changes). */
  upserts: number
  viaFull: number
  /** Size of the full map the new node received on opening its own channel, bytes; null if none came. */
  fullMapBytes: number | null
  /** ms spent waiting for the mesh to be quiet before this join; null if it never was within the bound. */
  settleMs: number | null
}

/** How the joins are run. */
export interface JoinOptions {
  joins: number
  /** Wait at most this long for one join to reach every channel, ms. */
  timeoutMs: number
  /** Index of the first joining node (after the N measured ones), so identities stay unique. */
  firstIndex: number
  sourceIps: number
}

/**
 * Performs the joins one at a time through controller 0; a joined node then heartbeats and holds a channel at
 * the controller it lives at (its index mod K), like everyone else. Its channel goes to `extra`.
 */
export async function runJoins (fleet: Fleet, token: string, set: ChannelSet, extra: UpdateChannel[], opts: JoinOptions,
  log: (s: string) => void): Promise<JoinResult[]> {
  const results: JoinResult[] = []
  for (let j = 0; j < opts.joins; j++) {
    // Start each join from a quiet mesh, so its delta is not queued behind the previous join's after-effects.
    const settleMs = await settle(fleet.targets, set, 10_000)
    const id = makeIdentity(opts.firstIndex + j, opts.sourceIps)
    const watch = set.watch(id.keys.publicKey)
    const t0 = performance.now()
    const { node } = await registerWithRetry(fleet.first.api, fleet.first.process.info, id, token)
    const registerMs = performance.now() - t0
    await arrivedOrTimeout(watch, opts.timeoutMs)
    set.unwatch(id.keys.publicKey)
    const d = delivery(watch, t0)
    const fullMapBytes = await joinMesh(node, fleet.linkOf(node.index), extra)
    const r: JoinResult = {
      registerMs,
      timeToAllMs: d.timeToAllMs,
      timeToAllByControllerMs: timeToAllByController(watch, t0, set.controllerOf, fleet.links.length),
      firstMs: d.firstMs,
      perChannelMs: d.perChannelMs,
      missing: d.missing,
      lineBytes: mean(d.lineBytes),
      upserts: mean(d.upserts),
      viaFull: watch.viaFull,
      fullMapBytes,
      settleMs
    }
    results.push(r)
    log(`join ${j + 1}/${opts.joins}: register ${r.registerMs.toFixed(1)} ms, all ${set.channels.length} channels ` +
      (r.timeToAllMs === null ? `NOT reached (${r.missing} missing after ${opts.timeoutMs} ms)` : `in ${r.timeToAllMs.toFixed(1)} ms`) +
      `, delta line ${r.lineBytes.toFixed(0)} B`)
  }
  return results
}

/**
 * Makes the joined node a full member as its daemon would, at `link`: it opens its own channel (no version yet,
 * so it gets the full map) and heartbeats, the first time at once. Returns the size of that full map line, or null.
 */
async function joinMesh (node: RegisteredNode, link: ControllerLink, extra: UpdateChannel[]): Promise<number | null> {
  const ch = new UpdateChannel(-1, IGNORE)
  extra.push(ch)
  const t = link.target
  await ch.open({ host: t.host, port: t.port, epoch: t.epoch, credential: node.credential, sourceIp: node.sourceIp, since: null })
  await link.heartbeats.addNow(node)
  const deadline = performance.now() + 10_000
  while (ch.counters.lines.full === 0 && ch.counters.lines.delta === 0 && performance.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  return ch.counters.lines.full > 0 ? ch.counters.bytes.full : null
}
