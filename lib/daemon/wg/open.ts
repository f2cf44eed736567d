/**
 * Opening the WireGuard device: pick a driver, adopt an interface that is already running (the data plane
 * outlived a daemon restart) or create one, and set key and port only when they differ.
 */
import { randomBytes } from 'node:crypto'
import { unlink } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { ConfigError, DeviceError } from '../../errors.js'
import type { Logger } from '../../log.js'
import { publicKeyFor } from '../../wire/keys.js'
import type { WireGuardDevice } from './device.js'
import { ipCmd, isValidIfname, run, type Netns } from './exec.js'
import { KernelDevice } from './kernel.js'
import { UapiDevice } from './uapi-device.js'
import { UAPI_DIR, uapiAlive, uapiSocketPath } from './uapi-socket.js'
import { startWireguardGo } from './wireguard-go.js'

/** `--wg`: `kernel` and `userspace` insist on one driver; `auto` prefers the kernel when its module works. */
export type DriverChoice = 'auto' | 'kernel' | 'userspace'

/** Options of openDevice. */
export interface OpenDeviceOptions {
  driver: DriverChoice
  /** Interface name, 1-15 characters; with wireguard-go it must be unique machine-wide (the UAPI socket dir is shared). */
  ifname: string
  /** Base64 private key; set on the device only when it differs from what the device holds. Never logged. */
  privateKey: string
  /** WireGuard UDP listen port. */
  listenPort: number
  /** Namespace the interface lives in; undefined = the caller's own (the daemon's case). Tests and the sim set it. */
  netns?: Netns
  /** wireguard-go binary. Default: `wireguard-go` from PATH. */
  wireguardGo?: string
  /** Where to record a started wireguard-go's pid; none by default (it is found by its UAPI socket). */
  pidFile?: string
  log: Logger
}

/** What kind of link `ifname` is in `netns`: `wireguard` (kernel), `tun`, another kind, or null when absent. */
export async function linkKind (netns: Netns, ifname: string): Promise<string | null> {
  let out: string
  try {
    out = (await run(ipCmd(netns, '-j', '-d', 'link', 'show', 'dev', ifname))).stdout
  } catch {
    return null
  }
  const links = JSON.parse(out) as Array<{ linkinfo?: { info_kind?: string } }>
  return links[0]?.linkinfo?.info_kind ?? 'unknown'
}

/** True when this kernel can create WireGuard links (tries a throwaway one and deletes it). */
export async function kernelWireguardWorks (netns: Netns): Promise<boolean> {
  const probe = `wfprobe${randomBytes(3).toString('hex')}`
  try {
    await run(ipCmd(netns, 'link', 'add', probe, 'type', 'wireguard'))
  } catch {
    return false
  }
  await run(ipCmd(netns, 'link', 'del', probe)).catch(() => {})
  return true
}

/**
 * Opens `ifname`, adopting a running interface when there is one, else creating it with the chosen driver.
 * `auto`: a live UAPI socket → userspace (adopt); a kernel wireguard link → kernel (adopt); the kernel module
 * works → kernel (create); otherwise start wireguard-go detached. Throws ConfigError for an unusable name or an
 * impossible driver, DeviceError when the device cannot be brought up.
 */
export async function openDevice (opts: OpenDeviceOptions): Promise<WireGuardDevice> {
  if (!isValidIfname(opts.ifname)) throw new ConfigError(`interface name "${opts.ifname}" is not usable: 1-15 characters of A-Z a-z 0-9 _ . -`)
  const log = opts.log.child({ component: 'wg', ifname: opts.ifname })
  const sockPath = uapiSocketPath(opts.ifname)
  const base = { ifname: opts.ifname, netns: opts.netns, log }

  let device: WireGuardDevice | null = null
  if (opts.driver !== 'kernel' && await uapiAlive(sockPath)) {
    device = new UapiDevice({ ...base, adopted: true })
  } else if (opts.driver !== 'userspace') {
    const kind = await linkKind(opts.netns, opts.ifname)
    if (kind === 'wireguard') {
      device = new KernelDevice({ ...base, adopted: true })
    } else if (kind !== null && opts.driver === 'kernel') {
      throw new ConfigError(`interface ${opts.ifname} exists but is a ${kind} link, not WireGuard; pick another name or delete it`)
    } else if (kind === null && await kernelWireguardWorks(opts.netns)) {
      await run(ipCmd(opts.netns, 'link', 'add', opts.ifname, 'type', 'wireguard'))
      device = new KernelDevice({ ...base, adopted: false })
      log.info({ event: 'wg.create', driver: 'kernel' }, 'created kernel WireGuard interface')
    } else if (opts.driver === 'kernel') {
      throw new ConfigError('--wg kernel: this kernel cannot create WireGuard links (`ip link add type wireguard` fails); use --wg auto or userspace')
    }
  }
  if (device === null) {
    const kind = await linkKind(opts.netns, opts.ifname)
    if (kind !== null) throw new ConfigError(`interface ${opts.ifname} exists (${kind}) but no wireguard-go answers on ${sockPath}; delete it or pick another name`)
    // A socket file nobody answers on is what a killed wireguard-go leaves; it would make the new one fail.
    if (existsSync(sockPath)) await unlink(sockPath).catch(() => {})
    await startWireguardGo({ ...base, sockPath, binary: opts.wireguardGo, pidFile: opts.pidFile })
    device = new UapiDevice({ ...base, adopted: false, uapiDir: UAPI_DIR })
  }

  const state = await device.get()
  const wantPublic = publicKeyFor(opts.privateKey)
  if (state.publicKey !== wantPublic || state.listenPort !== opts.listenPort) {
    // Only when different: re-setting the same port rebinds the socket in some implementations.
    await device.configure({ privateKey: opts.privateKey, listenPort: opts.listenPort }).catch((err: unknown) => {
      throw new DeviceError(`cannot set key and listen port ${opts.listenPort} on ${opts.ifname}: ${(err as Error).message}`, { cause: err })
    })
  }
  log.info({ event: device.adopted ? 'wg.adopt' : 'wg.open', driver: device.driver, peers: state.peers.length, listenPort: opts.listenPort },
    device.adopted ? 'adopted running WireGuard interface' : 'opened new WireGuard interface')
  return device
}
