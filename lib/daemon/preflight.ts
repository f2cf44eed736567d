/**
 * Everything a daemon start needs, checked before it changes anything: privileges, the state directory and
 * what it holds, a join token when one is needed, the tools, the WireGuard driver, the interface name and the
 * ports. The first check that fails stops the start with a sentence saying what is missing and how to get
 * it; nothing is registered, written or created by then (docs/daemon.md, "Start").
 */
import { createConnection, isIP } from 'node:net'
import { systemClock, type Clock } from '../clock.js'
import type { Logger } from '../log.js'
import { ConfigError, DataDirError, NodeRemovedError } from '../errors.js'
import type { KeyPair } from '../wire/keys.js'
import type { Netmap } from '../wire/netmap.js'
import { checkNetAdmin, readProcessFacts, type ProcessFacts } from './checks/process.js'
import { checkPortPrivilege, holdersOf, portTaken, readBoundSockets, unprivilegedPortStart, whoHolds, type PortNeed } from './checks/ports.js'
import { checkStateDir, inspectStateDir, type StateDirVerdict } from './checks/state-dir.js'
import type { DaemonConfig } from './config.js'
import { SOCKET_NAME } from './control-socket.js'
import { removedMessage } from './join.js'
import { checkMetricsListen } from './metrics-server.js'
import type { NodeIdentity, StateDir } from './state.js'
import { deviceFor } from './wg/open.js'
import { planDevice, which, type DevicePlan } from './wg/plan.js'

/** What the checks found; the start uses it rather than reading anything twice. */
export interface StartPlan {
  process: ProcessFacts
  stateDir: StateDirVerdict
  /** The saved key pair; null on a first start, which makes one. */
  key: KeyPair | null
  /** The saved identity; null when there is none, or when it is corrupt and a join token re-registers the key. */
  saved: NodeIdentity | null
  /** Why node.json was refused, when it was (the join token then registers the same key again). */
  identityCorrupt: string | null
  netmap: Netmap | null
  /** Why the saved netmap was refused, when it was: the daemon then waits for the controller's. */
  netmapError: string | null
  device: DevicePlan
}

/**
 * Runs every check in the order of docs/daemon.md; throws the first failure (ConfigError, DataDirError, NodeRemovedError).
 * `clock` times out the probes of a running daemon and device. Default: systemClock.
 */
export async function preflight (cfg: DaemonConfig, state: StateDir, log: Logger, clock: Clock = systemClock): Promise<StartPlan> {
  const proc = await readProcessFacts()
  checkNetAdmin(proc)

  const stateDir = checkStateDir(await inspectStateDir(cfg.stateDir), proc)
  const sock = state.path(SOCKET_NAME)
  if (!stateDir.create && await socketAnswers(sock, clock)) {
    throw new DataDirError(`a weft daemon already runs with --state ${cfg.stateDir} (it answers on ${sock}): stop it first; ` +
      'a second daemon needs its own --state and --interface')
  }
  const key = await state.loadKey()
  let saved: NodeIdentity | null = null
  let identityCorrupt: string | null = null
  try {
    saved = await state.loadIdentity()
  } catch (err) {
    if (cfg.joinToken === undefined) throw err
    identityCorrupt = (err as Error).message
    log.warn({ event: 'state.corrupt', reason: identityCorrupt }, 're-registering the same key with the join token')
  }
  if (saved?.removedAt !== undefined) throw new NodeRemovedError(removedMessage(state, saved))
  if (saved === null && cfg.joinToken === undefined) {
    throw new ConfigError('this node has not joined yet: pass --join-token-file with a token from `weft token create`')
  }
  let netmap: Netmap | null = null
  let netmapError: string | null = null
  try {
    netmap = await state.loadNetmap()
  } catch (err) {
    netmapError = `saved netmap refused: ${(err as Error).message}`
    log.error({ event: 'netmap.reject', reason: (err as Error).message }, 'saved netmap is unusable; waiting for the controller')
  }
  // Known now only from a saved identity; a first start checks it against the controller's CIDR before registering.
  if (cfg.metricsListen !== undefined && saved !== null) checkMetricsListen(cfg.metricsListen, saved.cidr, cfg.metricsAllowMesh === true)

  if (await which('ip', process.env.PATH ?? '') === null) {
    throw new ConfigError(`weft daemon sets up its interface with \`ip\`, which is not in PATH (${process.env.PATH ?? ''}): install it (apt install iproute2)`)
  }
  const device = await planDevice({ driver: cfg.wg, ifname: cfg.ifname, process: proc, clock })

  // The running device already holds its listen port: that is no conflict.
  const held = device.action === 'adopt' ? await deviceFor(device, { ifname: cfg.ifname, log, clock }).get().then(s => s.listenPort, () => null) : null
  const needs: Array<PortNeed & { privileged: boolean }> = []
  if (held !== cfg.listenPort) {
    // The kernel binds a kernel interface's port itself; wireguard-go binds it with our privileges.
    const privileged = device.driver !== 'kernel'
    needs.push({ proto: 'udp', family: 4, address: '0.0.0.0', port: cfg.listenPort, what: '--listen-port, WireGuard', flag: '--listen-port', privileged },
      { proto: 'udp', family: 6, address: '::', port: cfg.listenPort, what: '--listen-port, WireGuard', flag: '--listen-port', privileged })
  }
  needs.push({
    proto: 'udp',
    family: 4,
    address: '0.0.0.0',
    port: cfg.announcePort,
    what: 'underlay announcements, --listen-port + 1',
    flag: '--listen-port',
    privileged: true
  }, {
    proto: 'udp',
    family: 4,
    address: saved?.meshIp ?? null,
    port: cfg.swimPort,
    what: '--swim-port, SWIM on the mesh IP',
    flag: '--swim-port',
    privileged: true
  })
  if (cfg.metricsListen !== undefined) {
    const { host, port } = checkMetricsListen(cfg.metricsListen, '0.0.0.0/32', true)
    needs.push({
      proto: 'tcp',
      family: isIP(host) === 6 ? 6 : 4,
      address: host,
      port,
      what: '--metrics-listen',
      flag: '--metrics-listen port',
      privileged: true
    })
  }
  const sockets = await readBoundSockets()
  const unprivileged = await unprivilegedPortStart()
  for (const need of needs) {
    if (need.privileged) checkPortPrivilege(need, unprivileged, proc)
    const holder = holdersOf(sockets, need)[0]
    if (holder !== undefined) throw portTaken(need, holder, await whoHolds(holder))
  }
  return { process: proc, stateDir, key, saved, identityCorrupt, netmap, netmapError, device }
}

/** Whether something accepts connections on the unix socket at `path` (a daemon running on this state directory). */
async function socketAnswers (path: string, clock: Clock): Promise<boolean> {
  return await new Promise(resolve => {
    const sock = createConnection(path)
    const done = (answer: boolean): void => { timer.cancel(); sock.destroy(); resolve(answer) }
    // A listener that does not accept within 2 s still holds the socket: it counts as running.
    const timer = clock.setTimeout(() => done(true), 2000)
    sock.once('connect', () => done(true))
    sock.once('error', () => done(false))
  })
}
