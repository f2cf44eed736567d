import { hostname as osHostname, networkInterfaces } from 'node:os'
import type { Logger } from '../log.js'
import type { Clock } from '../clock.js'
import { ConfigError, ControllerError, DataDirError, NodeRemovedError } from '../errors.js'
import { Backoff } from './backoff.js'
import type { DaemonConfig } from './config.js'
import { formatEndpoint } from '../wire/addr.js'
import { SigningKey, type KeyPair } from '../wire/keys.js'
import { newNonce, signRegistration } from '../wire/proof.js'
import type { ControllerInfo } from '../wire/api.js'
import { checkControllerProtocols } from '../wire/compat.js'
import { FailoverRound, type ControlClient } from './control-client.js'
import type { NodeIdentity, StateDir } from './state.js'

/**
 * Endpoints a node advertises when `--endpoint` is not given: every non-loopback, non-overlay address of the
 * host with the WireGuard listen port. `exclude` drops the mesh IP (advertising an overlay address as an
 * underlay endpoint would route WireGuard into itself).
 */
export function defaultEndpoints (listenPort: number, exclude: ReadonlySet<string> = new Set()): string[] {
  return hostAddresses().filter(a => !exclude.has(a)).slice(0, 16).map(a => formatEndpoint(a, listenPort))
}

/** The host's addresses a peer could reach it at: every one but loopback and IPv6 link-local, in interface order. */
export function hostAddresses (): string[] {
  return Object.values(networkInterfaces()).flatMap(list => list ?? [])
    .filter(a => !a.internal && !(a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80')))
    .map(a => a.address)
}

/** What `register` needs beyond the client and state. */
export interface JoinParams {
  keys: KeyPair
  hostname?: string
  endpoints: string[]
  listenPort: number
  swimPort: number
  joinToken?: string
  /** The mesh IP to ask for (docs/api.md, `meshIp`): the saved one, when registering again after the controller lost us. */
  meshIp?: string
  /** Checks the controller's answer to `GET /v1/info` before anything is registered; throws ConfigError to stop. */
  checkInfo?: (info: ControllerInfo) => void
}

/**
 * Registers this node: proves possession of the key and presents the join token (first start) or the saved
 * credential (later starts; idempotent: same id, same mesh IP). Saves the identity before returning, so a
 * crash right after registration does not burn a single-use token for nothing.
 */
export async function register (client: ControlClient, state: StateDir, saved: NodeIdentity | null, p: JoinParams,
  deps: { clock: Clock, log: Logger }): Promise<NodeIdentity> {
  if (saved === null && p.joinToken === undefined) {
    throw new ConfigError('this node has not joined yet: pass --join-token (from `weft token create`)')
  }
  const info = await client.info()
  checkControllerProtocols(info.protocols, client.baseUrl)
  p.checkInfo?.(info)
  if (saved !== null && saved.controllerPublicKey !== info.publicKey) {
    deps.log.warn({ event: 'control.key.changed' }, 'the controller public key differs from the one saved at join')
  }
  const hostname = p.hostname ?? osHostname()
  const signingKey = SigningKey.derive(p.keys.privateKey).publicKey
  const fields = {
    publicKey: p.keys.publicKey,
    signingKey,
    hostname,
    endpoints: p.endpoints,
    timestamp: deps.clock.now(),
    nonce: newNonce(),
    ...(p.meshIp !== undefined ? { meshIp: p.meshIp } : {})
  }
  const proof = signRegistration(p.keys.privateKey, info.publicKey, fields)
  const useCredential = saved !== null && p.joinToken === undefined
  const req = { ...fields, listenPort: p.listenPort, swimPort: p.swimPort, proof, ...(useCredential ? {} : { token: p.joinToken }) }
  const res = await client.register(req, useCredential ? saved.credential : undefined)
  const credential = res.credential ?? saved?.credential
  if (credential === undefined) throw new ControllerError('controller registered the node but returned no credential')
  const identity: NodeIdentity = { nodeId: res.nodeId, meshIp: res.meshIp, cidr: res.cidr, credential, controllerPublicKey: info.publicKey }
  await state.saveIdentity(identity)
  deps.log.info({
    event: 'control.registered',
    nodeId: res.nodeId,
    meshIp: res.meshIp,
    rotatedCredential: res.credential !== undefined
  }, 'registered with the controller')
  return identity
}

/**
 * The identity to run with. A saved identity is used at once, token or not: a service unit passes
 * `--join-token` on every start, and a node restarted while the controller is down must come up from its
 * saved state, not wait for a registration. The token matters only when there is no identity (first start,
 * or a corrupt `node.json`); then the node registers, retrying while the controller is unreachable, after
 * `opts.checkInfo` has accepted the controller's info; an abort of `opts.signal` ends the retries. A node whose
 * saved identity records an admin's removal does not start.
 */
export async function ensureJoined (cfg: DaemonConfig, client: ControlClient, state: StateDir, saved: NodeIdentity | null, keys: KeyPair,
  deps: { clock: Clock, log: Logger }, opts: { signal?: AbortSignal, checkInfo?: (info: ControllerInfo) => void } = {}): Promise<NodeIdentity> {
  if (saved !== null) {
    if (saved.removedAt !== undefined) throw new NodeRemovedError(removedMessage(state, saved))
    return saved
  }
  try {
    return await registerRetrying(client, state, null, { ...joinParams(cfg, keys, null), checkInfo: opts.checkInfo }, deps, opts.signal)
  } catch (err) {
    if (err instanceof ControllerError && isRefusal(err)) throw new ConfigError(`the controller refused to register this node: ${err.message}`)
    throw err
  }
}

/**
 * Registers again with the join token after the controller lost its record of this node (it answered our
 * credential with 401), asking for the saved mesh IP. Retries while the controller is unreachable or busy;
 * a refusal rejects with the ControllerError (NODE_REMOVED among them). Rejects when `signal` aborts.
 */
export async function registerAgain (cfg: DaemonConfig, client: ControlClient, state: StateDir, saved: NodeIdentity, keys: KeyPair,
  deps: { clock: Clock, log: Logger }, signal?: AbortSignal): Promise<NodeIdentity> {
  return await registerRetrying(client, state, saved, { ...joinParams(cfg, keys, saved), meshIp: saved.meshIp }, deps, signal)
}

/** The sentence a removed node's daemon logs and shows: what happened and how to join again. */
export function removedMessage (state: StateDir, id: NodeIdentity): string {
  const when = id.removedAt === undefined ? '' : ` at ${new Date(id.removedAt).toISOString()}`
  return `this node (${id.nodeId}, ${id.meshIp}) was removed from the mesh by an admin${when} and stays out, join token or not; ` +
    `to join again, delete ${state.path('node.json')} and start the daemon with a join token (it joins as a new node)`
}

/** A 4xx other than 429: the controller will give the same answer again. */
function isRefusal (err: ControllerError): boolean {
  return err.statusCode >= 400 && err.statusCode < 500 && err.statusCode !== 429
}

function joinParams (cfg: DaemonConfig, keys: KeyPair, saved: NodeIdentity | null): JoinParams {
  const endpoints = cfg.endpoints.length > 0 ? cfg.endpoints : defaultEndpoints(cfg.listenPort, new Set(saved === null ? [] : [saved.meshIp]))
  return { keys, hostname: cfg.hostname, endpoints, listenPort: cfg.listenPort, swimPort: cfg.swimPort, joinToken: cfg.joinToken }
}

async function registerRetrying (client: ControlClient, state: StateDir, saved: NodeIdentity | null, p: JoinParams,
  deps: { clock: Clock, log: Logger }, signal?: AbortSignal): Promise<NodeIdentity> {
  const backoff = new Backoff(500, 10_000)
  const round = new FailoverRound(client)
  for (;;) {
    signal?.throwIfAborted()
    try {
      return await register(client, state, saved, p, deps)
    } catch (err) {
      // A refusal (bad token, bad proof, removed) will not heal by retrying; an unreachable controller will.
      if (err instanceof ControllerError && isRefusal(err)) throw err
      if (err instanceof ConfigError || err instanceof DataDirError) throw err
      // The next controller is tried at once; when each has failed in turn, the retry waits.
      const from = client.baseUrl
      const atOnce = round.next()
      deps.log.warn({ event: 'control.lost', controller: from, reason: (err as Error).message, next: client.baseUrl },
        atOnce ? `cannot register through ${from}; trying ${client.baseUrl}` : 'cannot register yet; retrying')
      if (!atOnce) await deps.clock.sleep(backoff.next(), signal)
    }
  }
}
