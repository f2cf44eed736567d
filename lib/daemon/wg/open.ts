/**
 * Opening the WireGuard device: pick a driver, adopt an interface that is already running (the data plane
 * outlived a daemon restart) or create one, and set key and port only when they differ.
 */
import { unlink } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { systemClock, type Clock } from '../../clock.js'
import { ConfigError, DeviceError } from '../../errors.js'
import type { Logger } from '../../log.js'
import { publicKeyFor } from '../../wire/keys.js'
import type { WireGuardDevice } from './device.js'
import { ipCmd, isValidIfname, run, type Netns } from './exec.js'
import { planDevice, type DevicePlan, type DriverChoice } from './plan.js'
import { KernelDevice } from './kernel.js'
import { UapiDevice } from './uapi-device.js'
import { UAPI_DIR, uapiSocketPath } from './uapi-socket.js'
import { startWireguardGo } from './wireguard-go.js'

export type { DriverChoice } from './plan.js'

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
  /** Times out device requests and waits. Default: systemClock. */
  clock?: Clock
  log: Logger
}

/**
 * Opens `ifname`, adopting a running interface when there is one, else creating it with the chosen driver
 * (planDevice decides, then openPlannedDevice acts). Throws ConfigError for an unusable name or an impossible
 * driver, DeviceError when the device cannot be brought up.
 */
export async function openDevice (opts: OpenDeviceOptions): Promise<WireGuardDevice> {
  if (!isValidIfname(opts.ifname)) throw new ConfigError(`interface name "${opts.ifname}" is not usable: 1-15 characters of A-Z a-z 0-9 _ . -`)
  const clock = opts.clock ?? systemClock
  const plan = await planDevice({ driver: opts.driver, ifname: opts.ifname, netns: opts.netns, wireguardGo: opts.wireguardGo, process: null, clock })
  return await openPlannedDevice(plan, { ...opts, clock })
}

/** The device a plan opens, as an object; nothing is changed on the host. */
export function deviceFor (plan: DevicePlan, opts: Pick<OpenDeviceOptions, 'ifname' | 'netns' | 'log'> & { clock: Clock }): WireGuardDevice {
  const base = { ifname: opts.ifname, netns: opts.netns, log: opts.log.child({ component: 'wg', ifname: opts.ifname }) }
  const adopted = plan.action === 'adopt'
  return plan.driver === 'kernel' ? new KernelDevice({ ...base, adopted }) : new UapiDevice({ ...base, adopted, uapiDir: UAPI_DIR, clock: opts.clock })
}

/**
 * Carries out `plan` (from planDevice): creates the kernel link or starts wireguard-go when the plan creates,
 * then sets private key and listen port where they differ from what the device holds. Throws DeviceError when
 * the device cannot be brought up; a device this call created is removed again when setting it up fails.
 */
export async function openPlannedDevice (plan: DevicePlan, opts: OpenDeviceOptions): Promise<WireGuardDevice> {
  const log = opts.log.child({ component: 'wg', ifname: opts.ifname })
  const clock = opts.clock ?? systemClock
  const sockPath = uapiSocketPath(opts.ifname)
  if (plan.action === 'create' && plan.driver === 'kernel') {
    await run(ipCmd(opts.netns, 'link', 'add', opts.ifname, 'type', 'wireguard'))
    log.info({ event: 'wg.create', driver: 'kernel' }, 'created kernel WireGuard interface')
  } else if (plan.action === 'create') {
    // A socket file nobody answers on is what a killed wireguard-go leaves; it would make the new one fail.
    if (existsSync(sockPath)) await unlink(sockPath).catch(() => {})
    await startWireguardGo({ ifname: opts.ifname, netns: opts.netns, log, sockPath, binary: plan.binary, pidFile: opts.pidFile, clock })
  }
  const device = deviceFor(plan, { ...opts, clock })
  try {
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
  } catch (err) {
    if (!device.adopted) await device.destroy().catch(() => {})
    throw err
  }
  return device
}
