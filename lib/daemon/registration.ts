/**
 * What a running daemon tells the controller, and records, about its own identity: its signing key, a
 * removal, a registration again after the controller lost its record. IO only; when to do each is DaemonCore's
 * decision (core.ts), and these calls carry it out.
 */
import type { Clock } from '../clock.js'
import type { Logger } from '../log.js'
import { Code, ControllerError } from '../errors.js'
import type { KeyPair } from '../wire/keys.js'
import type { DaemonConfig } from './config.js'
import type { ControlClient } from './control-client.js'
import { register, registerAgain, removedMessage } from './join.js'
import type { NodeIdentity, StateDir } from './state.js'

/** What the daemon shows when the controller lost its record of us and there is no join token. */
export const NEEDS_JOIN_TOKEN = 'the controller does not know this node (it lost its record: restored from an older backup, or data loss accepted); ' +
  'to register again with the same key and ask for the same mesh IP, restart the daemon with --join-token'

/** How a registration again ended: on a new identity, refused because an admin removed the node, or refused. */
export type RejoinResult = { kind: 'rejoined' } | { kind: 'removed', reason: string } | { kind: 'failed', message: string }

/** The running daemon's calls about its identity; `signal` aborts a registration retrying while it stops. */
export class Registration {
  constructor (private readonly o: {
    cfg: DaemonConfig
    client: ControlClient
    state: StateDir
    identity: NodeIdentity
    keys: KeyPair
    deps: { clock: Clock, log: Logger }
    signal: AbortSignal
  }) {}

  /**
   * Registers again with our credential, so that the controller's record of us gets our SWIM signing key (it was
   * registered by a daemon from before signed claims): until it has it, no member believes our refutations.
   * Logs the outcome; never rejects.
   */
  async sendSigningKey (signingKey: string, endpoints: string[]): Promise<void> {
    const { cfg, client, state, identity, keys, deps } = this.o
    try {
      await register(client, state, identity, { keys, hostname: cfg.hostname, endpoints, listenPort: cfg.listenPort, swimPort: cfg.swimPort }, deps)
      deps.log.info({ event: 'control.signing_key', signingKey }, 'told the controller our SWIM signing key')
    } catch (err) {
      deps.log.warn({ event: 'control.signing_key.failed', reason: (err as Error).message },
        'could not tell the controller our SWIM signing key; retrying with the next netmap')
    }
  }

  /**
   * Records in node.json that an admin removed the node, so that no later start, token or not, brings it back.
   * Returns the sentence to show: what happened and how to join again.
   */
  recordRemoval (): string {
    const { state, deps } = this.o
    const identity = { ...this.o.identity, removedAt: deps.clock.now() }
    const message = removedMessage(state, identity)
    deps.log.error({ event: 'control.removed', nodeId: identity.nodeId, meshIp: identity.meshIp }, message)
    state.saveIdentity(identity).catch((err: unknown) => {
      deps.log.error({ event: 'state.save.failed', reason: (err as Error).message }, 'cannot record the removal in node.json')
    })
    return message
  }

  /**
   * Registers again with the join token and the saved mesh IP (the controller lost its record of us); the new
   * identity is saved for the next start. A different mesh IP is logged as a warning naming both. Never rejects.
   */
  async rejoin (): Promise<RejoinResult> {
    const { cfg, client, state, keys, deps } = this.o
    const before = this.o.identity
    try {
      const after = await registerAgain(cfg, client, state, before, keys, deps, this.o.signal)
      const moved = after.meshIp !== before.meshIp
      deps.log[moved ? 'warn' : 'info']({
        event: 'control.rejoined',
        fromNodeId: before.nodeId,
        nodeId: after.nodeId,
        fromMeshIp: before.meshIp,
        meshIp: after.meshIp
      }, moved
        ? `registered again with a new mesh IP: ${before.meshIp} -> ${after.meshIp} (the controller did not give the old one back); ` +
          `moving the interface to it. Anything that names ${before.meshIp} needs updating`
        : 'registered again with the same mesh IP; starting on the new identity')
      return { kind: 'rejoined' }
    } catch (err) {
      const reason = (err as Error).message
      if (err instanceof ControllerError && err.remoteCode === Code.NODE_REMOVED) return { kind: 'removed', reason }
      return { kind: 'failed', message: `the controller does not know this node and refused to register it again: ${reason}` }
    }
  }
}
