import type { Clock } from '../../clock.js'
import { DeviceError, PeerApplyError } from '../../errors.js'
import { uapiRequest, uapiSocketPath } from './uapi-socket.js'
import type { Logger } from '../../log.js'
import type { DeviceState, InterfaceConfig, PeerOp, WireGuardDevice } from './device.js'
import { opKey } from './device.js'
import { GET_REQUEST, buildSetFwmark, buildSetInterface, buildSetOp, buildSetOps, parseErrno, parseGet, rememberPublicKey } from './uapi.js'
import { ipCmd, run, type Netns } from './exec.js'
import { socketOwners, stopWireguardGo } from './wireguard-go.js'

/** Options of UapiDevice. */
export interface UapiDeviceOptions {
  ifname: string
  /** Namespace the interface lives in, for `ip link del` on destroy; undefined = the current one. */
  netns?: Netns
  adopted: boolean
  /** UAPI socket directory. Default: /var/run/wireguard, where wireguard-go puts it. */
  uapiDir?: string
  /** Times out UAPI requests and the wait for wireguard-go to exit. */
  clock: Clock
  log: Logger
}

/** A wireguard-go (or boringtun) interface driven over its UAPI socket. */
export class UapiDevice implements WireGuardDevice {
  readonly ifname: string
  readonly driver = 'userspace' as const
  readonly adopted: boolean
  private readonly sockPath: string
  private readonly netns: Netns
  private readonly log: Logger
  private readonly clock: Clock
  /** The daemon reads its device several times a second; deriving its public key each time was most of a read. */
  private readonly publicKeyOf = rememberPublicKey()

  constructor (opts: UapiDeviceOptions) {
    this.ifname = opts.ifname
    this.adopted = opts.adopted
    this.netns = opts.netns
    this.sockPath = uapiSocketPath(opts.ifname, opts.uapiDir)
    this.log = opts.log
    this.clock = opts.clock
  }

  /** Reads the device over `get=1`. */
  async get (): Promise<DeviceState> {
    return parseGet(await uapiRequest(this.sockPath, GET_REQUEST, this.clock), this.publicKeyOf)
  }

  /** One `set=1` per op; stops at the first errno and says how many went through. */
  async apply (ops: readonly PeerOp[]): Promise<void> {
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!
      await this.set(() => buildSetOp(op), `${op.kind} of peer ${opKey(op)}`, i, ops.length)
    }
  }

  /** All ops in one `set=1`; wireguard-go applies them line by line and stops at the first error. */
  async applyBatch (ops: readonly PeerOp[]): Promise<void> {
    if (ops.length === 0) return
    await this.set(() => buildSetOps(ops), `batch of ${ops.length} peer changes`, 0, ops.length)
  }

  /**
   * Builds and sends one `set=1` request. Any failure, input refused by the builder included, is a
   * PeerApplyError saying `what` failed and how many of `total` went through before it.
   */
  private async set (build: () => string, what: string, applied: number, total: number): Promise<void> {
    let errno: number
    try {
      errno = parseErrno(await uapiRequest(this.sockPath, build(), this.clock))
    } catch (err) {
      throw new PeerApplyError(`${what} on ${this.ifname}: ${(err as Error).message}`, applied, total, { cause: err })
    }
    if (errno !== 0) throw new PeerApplyError(`${what} on ${this.ifname} rejected by the device: errno=${errno}`, applied, total)
  }

  /** Sets private key and listen port in one transaction. */
  async configure (cfg: InterfaceConfig): Promise<void> {
    const errno = parseErrno(await uapiRequest(this.sockPath, buildSetInterface(cfg), this.clock))
    if (errno !== 0) throw new DeviceError(`setting key and listen port ${cfg.listenPort} on ${this.ifname} failed: errno=${errno}`)
  }

  async setFwmark (mark: number): Promise<void> {
    const errno = parseErrno(await uapiRequest(this.sockPath, buildSetFwmark(mark), this.clock))
    if (errno !== 0) throw new DeviceError(`setting fwmark ${mark} on ${this.ifname} failed: errno=${errno}`)
  }

  /** Deletes the link; wireguard-go exits when its tun goes away. Waits for that, then kills it if it lingers. */
  async destroy (): Promise<void> {
    // Owners first: once the link is gone the socket goes too, and with it the way to find the process.
    const pids = (await socketOwners(new Set([this.sockPath]))).get(this.sockPath) ?? []
    await run(ipCmd(this.netns, 'link', 'del', this.ifname)).catch((err: unknown) => {
      this.log.warn({ event: 'wg.destroy', ifname: this.ifname, err: (err as Error).message }, 'link delete failed; stopping wireguard-go')
    })
    await stopWireguardGo(this.sockPath, this.log, this.clock, pids)
  }
}
