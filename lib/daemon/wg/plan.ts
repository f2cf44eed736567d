/**
 * What opening the WireGuard device will do, decided before anything is changed: adopt a running interface,
 * create a kernel one, or start wireguard-go, and whether everything that needs is there (the module, the
 * binary, /dev/net/tun, the UAPI socket directory, a free name). The daemon plans before it registers, so a
 * host that cannot run it is told what is missing while nothing has happened yet.
 */
import { randomBytes } from 'node:crypto'
import { access, constants, stat } from 'node:fs/promises'
import { delimiter, dirname, join } from 'node:path'
import { ConfigError } from '../../errors.js'
import type { Clock } from '../../clock.js'
import type { ProcessFacts } from '../checks/process.js'
import { fileFacts, mayReadWrite, mayWrite, octal, type FileFacts } from '../checks/files.js'
import { ipCmd, run, type Netns } from './exec.js'
import { UAPI_DIR, uapiAlive, uapiSocketPath } from './uapi-socket.js'

/** `--wg`: `kernel` and `userspace` insist on one driver; `auto` prefers the kernel when its module works. */
export type DriverChoice = 'auto' | 'kernel' | 'userspace'

/** What openPlannedDevice does. */
export type DevicePlan =
  | { action: 'adopt', driver: 'userspace' | 'kernel' }
  | { action: 'create', driver: 'kernel' }
  | { action: 'create', driver: 'userspace', binary: string }

/** The outcome of a probe that runs something: it worked, or why not (a short reason). */
export type Outcome = { ok: true } | { ok: false, detail: string }

/** Questions planDevice asks about the host; hostProbes asks the real one, tests answer from tables. */
export interface DeviceProbes {
  /** A wireguard-go answers on the interface's UAPI socket. */
  uapiLive (): Promise<boolean>
  /** Kind of the link of that name in the namespace (`wireguard`, `tun`, `veth`...), or null when there is none. */
  linkKind (): Promise<string | null>
  /** Whether `ip link add ... type wireguard` works (a throwaway link, deleted at once). */
  kernelWireguard (): Promise<Outcome>
  /** Path of `cmd` in PATH (or `cmd` itself when it holds a slash and is executable), or null. */
  which (cmd: string): Promise<string | null>
  /** Whether `binary --version` runs and exits 0. */
  runs (binary: string): Promise<Outcome>
  /** /dev/net/tun, or null when missing or not a character device. */
  tun (): Promise<FileFacts | null>
  /** The UAPI socket directory, or its nearest existing parent when it does not exist yet (wireguard-go creates it). */
  uapiDir (): Promise<{ path: string, exists: boolean, facts: FileFacts }>
  /** PATH as searched, for messages. */
  readonly path: string
}

/** What planDevice is told. */
export interface PlanOptions {
  driver: DriverChoice
  ifname: string
  netns?: Netns
  /** wireguard-go binary. Default: `wireguard-go` from PATH. */
  wireguardGo?: string
  /** This process, for the permission checks; null skips them (tests and the harness run as root). */
  process: ProcessFacts | null
  /** Times out the probe of a running wireguard-go. */
  clock: Clock
}

/**
 * Decides how the device will be opened, or throws ConfigError saying what is missing and how to get it.
 * Order as in docs/wireguard.md: a live UAPI socket → adopt wireguard-go; a WireGuard link → adopt it; the
 * module works → create a kernel link; else start wireguard-go. Changes nothing, except the kernel probe's
 * throwaway link, made and deleted at once.
 */
export async function planDevice (o: PlanOptions, probes: DeviceProbes = hostProbes(o)): Promise<DevicePlan> {
  const sock = uapiSocketPath(o.ifname)
  const kind = await probes.linkKind()
  if (o.driver !== 'kernel' && await probes.uapiLive()) {
    if (kind === null) {
      throw new ConfigError(`interface ${o.ifname} is taken: a wireguard-go in another network namespace answers on ${sock} ` +
        '(its socket directory is shared by every namespace): choose another --interface')
    }
    return { action: 'adopt', driver: 'userspace' }
  }
  let kernel: Outcome | null = null
  if (o.driver !== 'userspace') {
    if (kind === 'wireguard') return await withWg({ action: 'adopt', driver: 'kernel' }, probes)
    if (kind !== null && o.driver === 'kernel') {
      throw new ConfigError(`interface ${o.ifname} exists and is a ${kind} link, not WireGuard: ` +
        `delete it (ip link del ${o.ifname}), or choose another --interface`)
    }
    if (kind === null) {
      kernel = await probes.kernelWireguard()
      if (kernel.ok) return await withWg({ action: 'create', driver: 'kernel' }, probes)
      if (o.driver === 'kernel') {
        throw new ConfigError(`--wg kernel: this kernel has no WireGuard module (\`ip link add type wireguard\`: ${kernel.detail}): ` +
          'load it (modprobe wireguard; Linux 5.6 and later include it), or use --wg userspace with wireguard-go (apt install wireguard-go)')
      }
    }
  }
  if (kind !== null) {
    throw new ConfigError(`interface ${o.ifname} exists (${kind}) but no wireguard-go answers on ${sock}: ` +
      `delete it (ip link del ${o.ifname}), or choose another --interface`)
  }
  const name = o.wireguardGo ?? 'wireguard-go'
  const binary = await probes.which(name)
  if (binary === null) {
    if (kernel !== null && !kernel.ok) {
      throw new ConfigError('no WireGuard driver: this kernel has no WireGuard module ' +
        `(\`ip link add type wireguard\`: ${kernel.detail}) and ${name} is not in PATH ` +
        `(${probes.path}): install wireguard-go (apt install wireguard-go), or load the kernel module (modprobe wireguard)`)
    }
    throw new ConfigError(`--wg userspace needs wireguard-go, and ${name} is not in PATH (${probes.path}): install it (apt install wireguard-go)`)
  }
  const ran = await probes.runs(binary)
  if (!ran.ok) {
    throw new ConfigError(`wireguard-go at ${binary} does not run (\`${binary} --version\`: ${ran.detail}): ` +
      'reinstall it (apt install --reinstall wireguard-go)')
  }
  const tun = await probes.tun()
  if (tun === null) {
    throw new ConfigError('wireguard-go needs /dev/net/tun, which this host does not have: load the tun module (modprobe tun), ' +
      'or give the container the device (docker run --device /dev/net/tun)')
  }
  if (o.process !== null) {
    if (!mayReadWrite(tun, o.process)) {
      throw new ConfigError(`wireguard-go opens /dev/net/tun, which ${o.process.user} may not open (owned by ${tun.owner}, mode ${octal(tun.mode)}): ` +
        'run the daemon as root, or make the device readable and writable (chmod 666 /dev/net/tun)')
    }
    const dir = await probes.uapiDir()
    if (!mayWrite(dir.facts, o.process)) {
      const where = dir.exists ? `${UAPI_DIR}, which ${o.process.user} may not write` : `${UAPI_DIR}, which ${o.process.user} may not create in ${dir.path}`
      throw new ConfigError(`wireguard-go puts its control socket in ${where} (owned by ${dir.facts.owner}, mode ${octal(dir.facts.mode)}): ` +
        'run the daemon as root, or give it the directory ' +
        '(RuntimeDirectory=wireguard and RuntimeDirectoryPreserve=yes in the systemd unit: wireguard-go outlives the daemon)')
    }
  }
  return { action: 'create', driver: 'userspace', binary }
}

/** The kernel driver sets peers with `wg`: it must be there. */
async function withWg (plan: DevicePlan, probes: DeviceProbes): Promise<DevicePlan> {
  if (await probes.which('wg') === null) {
    throw new ConfigError(`the kernel WireGuard driver sets peers with \`wg\`, which is not in PATH (${probes.path}): install it (apt install wireguard-tools)`)
  }
  return plan
}

/** The probes of the real host (in `o.netns` for link questions). */
export function hostProbes (o: { ifname: string, netns?: Netns, clock: Clock }): DeviceProbes {
  const path = process.env.PATH ?? ''
  return {
    path,
    uapiLive: async () => await uapiAlive(uapiSocketPath(o.ifname), o.clock),
    linkKind: async () => await linkKind(o.netns, o.ifname),
    kernelWireguard: async () => await kernelWireguardProbe(o.netns),
    which: async cmd => await which(cmd, path),
    runs: async binary => {
      try {
        await run([binary, '--version'], { timeoutMs: 5000 })
        return { ok: true }
      } catch (err) {
        return { ok: false, detail: (err as Error).message }
      }
    },
    tun: async () => {
      const s = await stat('/dev/net/tun').catch(() => null)
      return s === null || !s.isCharacterDevice() ? null : await fileFacts(s)
    },
    uapiDir: async () => {
      for (let p = UAPI_DIR; ; p = dirname(p)) {
        const s = await stat(p).catch(() => null)
        if (s !== null) return { path: p, exists: p === UAPI_DIR, facts: await fileFacts(s) }
        if (p === dirname(p)) throw new Error(`no directory above ${UAPI_DIR}`)
      }
    }
  }
}

/** `cmd`'s path: itself when it holds a slash, else the first executable file of that name in `path`; null if none. */
export async function which (cmd: string, path: string): Promise<string | null> {
  const candidates = cmd.includes('/') ? [cmd] : path.split(delimiter).filter(d => d !== '').map(d => join(d, cmd))
  for (const c of candidates) {
    const s = await stat(c).catch(() => null)
    if (s === null || !s.isFile()) continue
    if (await access(c, constants.X_OK).then(() => true, () => false)) return c
  }
  return null
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

/** Whether this kernel can create WireGuard links: tries a throwaway one and deletes it; says why not otherwise. */
export async function kernelWireguardProbe (netns: Netns): Promise<Outcome> {
  const probe = `wfprobe${randomBytes(3).toString('hex')}`
  try {
    await run(ipCmd(netns, 'link', 'add', probe, 'type', 'wireguard'))
  } catch (err) {
    return { ok: false, detail: ipReason((err as Error).message) }
  }
  await run(ipCmd(netns, 'link', 'del', probe)).catch(() => {})
  return { ok: true }
}

/** The reason in a failed `ip` command's message: `... failed: Error: Unknown device type.` → `Unknown device type`. */
export function ipReason (message: string): string {
  const m = /failed: (?:Error: )?(.*?)\.?$/s.exec(message)
  return (m?.[1] ?? message).trim()
}
