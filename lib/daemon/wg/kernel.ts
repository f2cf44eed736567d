/**
 * The kernel driver: the interface is made with `ip link add IF type wireguard`, peers are set with `wg set`
 * and read with `wg show IF dump`. The `wg` tool also speaks UAPI to wireguard-go, which is how the tests on
 * this machine (no kernel module) exercise everything here except link creation.
 */
import { DeviceError, PeerApplyError } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { DeviceState, DevicePeer, InterfaceConfig, PeerOp, WireGuardDevice } from './device.js'
import { opKey, validatePeer } from './device.js'
import { inNetns, ipCmd, run, type Netns } from './exec.js'

/** `wg set` arguments for one op; throws InvalidInputError on a peer validatePeer refuses. */
export function wgSetArgs (ifname: string, op: PeerOp): string[] {
  return ['wg', 'set', ifname, ...peerArgs(op)]
}

/** The `peer KEY ...` arguments of one op, as many of which one `wg set` takes. Validates as wgSetArgs. */
function peerArgs (op: PeerOp): string[] {
  if (op.kind !== 'remove') validatePeer(op.peer)
  switch (op.kind) {
    case 'remove':
      return ['peer', op.publicKey, 'remove']
    case 'add': {
      const p = op.peer
      const args = ['peer', op.peer.publicKey]
      if (p.endpoint !== null) args.push('endpoint', p.endpoint)
      args.push('persistent-keepalive', keepaliveArg(p.keepaliveSeconds), 'allowed-ips', p.allowedIps.join(','))
      return args
    }
    case 'update': {
      const p = op.peer
      const args = ['peer', op.peer.publicKey]
      if (op.fields.includes('endpoint') && p.endpoint !== null) args.push('endpoint', p.endpoint)
      if (op.fields.includes('keepaliveSeconds')) args.push('persistent-keepalive', keepaliveArg(p.keepaliveSeconds))
      if (op.fields.includes('allowedIps')) args.push('allowed-ips', p.allowedIps.join(','))
      return args
    }
    default: {
      const never: never = op
      throw new DeviceError(`unknown peer op ${JSON.stringify(never)}`)
    }
  }
}

function keepaliveArg (s: number): string {
  return s === 0 ? 'off' : String(s)
}

/**
 * Parses `wg show IF dump`: a first line `private public port fwmark`, then per peer
 * `public psk endpoint allowed-ips handshake rx tx keepalive`, tab-separated, `(none)`/`off` for empty.
 */
export function parseWgDump (text: string): DeviceState {
  const lines = text.split('\n').filter(l => l !== '')
  const head = lines[0]?.split('\t')
  if (head === undefined || head.length < 4) throw new DeviceError('wg dump: missing interface line')
  const state: DeviceState = { publicKey: head[1] === '(none)' ? null : head[1]!, listenPort: Number(head[2]), peers: [] }
  for (const line of lines.slice(1)) {
    const f = line.split('\t')
    if (f.length < 8) throw new DeviceError(`wg dump: malformed peer line with ${f.length} fields`)
    const peer: DevicePeer = {
      publicKey: f[0]!,
      endpoint: f[2] === '(none)' ? null : f[2]!,
      allowedIps: f[3] === '(none)' || f[3] === '' ? [] : f[3]!.split(','),
      lastHandshakeAt: Number(f[4]) * 1000,
      rxBytes: Number(f[5]),
      txBytes: Number(f[6]),
      keepaliveSeconds: f[7] === 'off' ? 0 : Number(f[7])
    }
    if ([peer.lastHandshakeAt, peer.rxBytes, peer.txBytes, peer.keepaliveSeconds].some(n => !Number.isFinite(n))) {
      throw new DeviceError('wg dump: non-numeric counter')
    }
    state.peers.push(peer)
  }
  return state
}

/** Options of KernelDevice. */
export interface KernelDeviceOptions {
  ifname: string
  netns?: Netns
  adopted: boolean
  log: Logger
}

/** A WireGuard interface driven through `wg` (kernel module, or any UAPI implementation `wg` finds). */
export class KernelDevice implements WireGuardDevice {
  readonly ifname: string
  readonly driver = 'kernel' as const
  readonly adopted: boolean
  private readonly netns: Netns
  private readonly log: Logger

  constructor (opts: KernelDeviceOptions) {
    this.ifname = opts.ifname
    this.netns = opts.netns
    this.adopted = opts.adopted
    this.log = opts.log
  }

  /** Reads `wg show IF dump` (its private key column is parsed past and dropped, never logged). */
  async get (): Promise<DeviceState> {
    const { stdout } = await run(inNetns(this.netns, ['wg', 'show', this.ifname, 'dump']))
    return parseWgDump(stdout)
  }

  /** One `wg set` per op; stops at the first failure and says how many went through. */
  async apply (ops: readonly PeerOp[]): Promise<void> {
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!
      try {
        await run(inNetns(this.netns, wgSetArgs(this.ifname, op)), { timeoutMs: 5000 })
      } catch (err) {
        throw new PeerApplyError(`${op.kind} of peer ${opKey(op)} on ${this.ifname}: ${(err as Error).message}`, i, ops.length, { cause: err })
      }
    }
  }

  /** One `wg set IF peer A ... peer B ...` for all ops; wg stops at the first failure. */
  async applyBatch (ops: readonly PeerOp[]): Promise<void> {
    if (ops.length === 0) return
    const args = ['wg', 'set', this.ifname, ...ops.flatMap(peerArgs)]
    try {
      await run(inNetns(this.netns, args), { timeoutMs: 5000 })
    } catch (err) {
      throw new PeerApplyError(`batch of ${ops.length} peer changes on ${this.ifname}: ${(err as Error).message}`, 0, ops.length, { cause: err })
    }
  }

  /** Private key goes through stdin so it never shows in argv (visible in /proc to every user). */
  async configure (cfg: InterfaceConfig): Promise<void> {
    await run(inNetns(this.netns, ['wg', 'set', this.ifname, 'private-key', '/dev/stdin', 'listen-port', String(cfg.listenPort)]),
      { input: cfg.privateKey + '\n' })
  }

  async setFwmark (mark: number): Promise<void> {
    await run(inNetns(this.netns, ['wg', 'set', this.ifname, 'fwmark', mark === 0 ? 'off' : String(mark)]))
  }

  /** Deletes the link. */
  async destroy (): Promise<void> {
    await run(ipCmd(this.netns, 'link', 'del', this.ifname))
    this.log.info({ event: 'wg.destroy', ifname: this.ifname }, 'deleted WireGuard interface')
  }
}
