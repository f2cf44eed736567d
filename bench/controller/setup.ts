import { request } from 'undici'
import type { ControllerInfo } from '../../lib/wire/api.js'
import { ApiError, makeIdentity, type ApiClient, type NodeIdentity, type RegisteredNode } from './client.js'
import type { ChannelSet, SetTarget } from './channel-set.js'

/**
 * Bringing the mesh to its measured size: registering N nodes (with retries when the controller asks for
 * them), and waiting until every channel holds the current netmap version of the controller it is open at.
 */

/** Registers one identity, retrying on 429 and 503 as a daemon would; returns the node and the attempts it took. */
export async function registerWithRetry (client: ApiClient, info: ControllerInfo, id: NodeIdentity, token: string,
  maxAttempts = 30): Promise<{ node: RegisteredNode, attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { node: await client.register(info, id, token, Date.now()), attempts: attempt }
    } catch (err) {
      const retryable = err instanceof ApiError && (err.statusCode === 429 || err.statusCode === 503)
      if (!retryable || attempt >= maxAttempts) throw err
      // Honour Retry-After when given; otherwise back off linearly, capped, so a rate limit is waited out rather than hammered.
      const waitMs = err.retryAfterMs ?? Math.min(2000, 100 * attempt)
      await new Promise(resolve => setTimeout(resolve, waitMs))
    }
  }
}

/** Figures of the registration phase. */
export interface RegisterFigures {
  nodes: number
  wallMs: number
  latenciesMs: number[]
  /** Registrations that needed more than one attempt (429/503). */
  retried: number
}

/**
 * Registers `n` fresh nodes with at most `concurrency` in flight, node i through `clientOf(i)`; `onRegistered`
 * sees each as it completes.
 */
export async function registerAll (clientOf: (index: number) => ApiClient, info: ControllerInfo, token: string, n: number, sourceIps: number,
  concurrency: number, onRegistered: (node: RegisteredNode, done: number) => void): Promise<{ nodes: RegisteredNode[], figures: RegisterFigures }> {
  const nodes: RegisteredNode[] = new Array(n)
  const latenciesMs: number[] = []
  let retried = 0
  let next = 0
  let done = 0
  const t0 = performance.now()
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++
      const id = makeIdentity(i, sourceIps)
      const t = performance.now()
      const r = await registerWithRetry(clientOf(i), info, id, token)
      latenciesMs.push(performance.now() - t)
      if (r.attempts > 1) retried++
      nodes[i] = r.node
      onRegistered(r.node, ++done)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
  return { nodes, figures: { nodes: n, wallMs: performance.now() - t0, latenciesMs, retried } }
}

/** How many nodes the controller holds by health, and how many have an update channel open. */
export interface Census { total: number, connected: number, health: Record<string, number> }

/** Asks the controller (`GET /v1/nodes`) for its view of the simulated mesh: a sanity check that the load is what it claims. */
export async function census (client: ApiClient, adminKey: string): Promise<Census> {
  const { nodes } = await client.listNodes(adminKey)
  const health: Record<string, number> = {}
  let connected = 0
  for (const n of nodes) {
    health[n.health] = (health[n.health] ?? 0) + 1
    if (n.connected) connected++
  }
  return { total: nodes.length, connected, health }
}

/** `GET /v1/info` (the current epoch and netmap version). */
export async function fetchInfo (origin: string): Promise<ControllerInfo> {
  const res = await request(`${origin}/v1/info`)
  if (res.statusCode !== 200) throw new ApiError('GET /v1/info', res.statusCode, await res.body.text(), null)
  return await res.body.json() as ControllerInfo
}

/**
 * Waits until every channel holds the current version of the controller it is open at, and no controller's
 * version moved for `quietMs` (looking every `stepMs`; by default two looks in a row). Returns the ms it took,
 * or null when `timeoutMs` passed first (the caller reports it).
 */
export async function settle (targets: readonly SetTarget[], set: ChannelSet, timeoutMs: number, stepMs = 250,
  quietMs = stepMs): Promise<number | null> {
  const t0 = performance.now()
  let last: string | null = null
  let quietSince = t0
  while (performance.now() - t0 < timeoutMs) {
    const current = await Promise.all(targets.map(async t => (await fetchInfo(t.origin)).version))
    const held = targets.every((t, k) => {
      const v = set.versions(t.controller)
      return v === null || (v.min === current[k] && v.max === current[k])
    })
    const now = current.join(',')
    if (!held || now !== last) quietSince = performance.now()
    else if (performance.now() - quietSince >= quietMs) return performance.now() - t0
    last = held ? now : null
    await new Promise(resolve => setTimeout(resolve, stepMs))
  }
  return null
}
