/**
 * What a controller says, in its live key `live/<node>/<controller>` (etcd-session.ts), of a node it hears
 * from: how the node is reached and the SWIM report of its last heartbeat. The other controllers fuse the
 * node's health and publish its endpoints from it as if the heartbeats had come to them.
 */
import type { SwimReport } from '../wire/api.js'
import { LIVE_PREFIX } from './etcd-store.js'

export interface LiveRecord {
  endpoints: string[]
  listenPort: number
  observedEndpoint: string | null
  /** Its report while fresh; null when its heartbeats carried none lately. */
  report: SwimReport | null
}

/** The value of a live key. */
export function encodeLive (r: LiveRecord): string {
  return JSON.stringify(r)
}

/** The node and controller a live key (without the store prefix) names, or null for a key of another shape. */
export function liveKey (key: string): { node: string, controller: string } | null {
  if (!key.startsWith(LIVE_PREFIX)) return null
  const [node, controller, extra] = key.slice(LIVE_PREFIX.length).split('/')
  return node === undefined || node === '' || controller === undefined || controller === '' || extra !== undefined ? null : { node, controller }
}

/** A live key's value, checked; null when it is not one (a damaged or foreign value is ignored, not trusted). */
export function decodeLive (value: string): LiveRecord | null {
  let v: unknown
  try { v = JSON.parse(value) } catch { return null }
  const r = v as Partial<LiveRecord> | null
  if (typeof r !== 'object' || r === null) return null
  if (!Array.isArray(r.endpoints) || !r.endpoints.every(e => typeof e === 'string')) return null
  if (!Number.isInteger(r.listenPort)) return null
  if (r.observedEndpoint !== null && typeof r.observedEndpoint !== 'string') return null
  const rep = r.report
  if (rep !== null && !isReport(rep)) return null
  return { endpoints: r.endpoints, listenPort: r.listenPort!, observedEndpoint: r.observedEndpoint ?? null, report: rep ?? null }
}

function isReport (v: unknown): v is SwimReport {
  const r = v as Partial<SwimReport> | null
  const list = (l: unknown): boolean => Array.isArray(l) && l.every(m => typeof m?.id === 'string' && Number.isInteger(m?.incarnation))
  return typeof r === 'object' && r !== null && Number.isInteger(r.incarnation) && list(r.suspect) && list(r.dead)
}
