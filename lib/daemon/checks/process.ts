/**
 * Who this process is to the kernel: its user, groups and capabilities, read from /proc/self/status. The
 * daemon needs CAP_NET_ADMIN, not uid 0: root in a container without it cannot create an interface, and a
 * service user with it as an ambient capability can.
 */
import { readFile } from 'node:fs/promises'
import { ConfigError } from '../../errors.js'

/** Capability numbers (linux/capability.h) the daemon asks about. */
export const CAP = { DAC_OVERRIDE: 1, NET_BIND_SERVICE: 10, NET_ADMIN: 12 } as const

/** This process as the kernel sees it. */
export interface ProcessFacts {
  /** Effective uid: owner of the files the daemon writes. */
  uid: number
  /** Effective gid. */
  gid: number
  /** Supplementary groups. */
  groups: number[]
  /** Effective capability set (bit n = capability n). */
  effective: bigint
  /** Ambient set: what the commands the daemon runs (`ip`, `wg`, wireguard-go) inherit when it is not root. */
  ambient: bigint
  /** "uid N (name)", for messages. */
  user: string
  /** The account name, or the uid when it has none: what a command such as chown takes. */
  account: string
}

/** Parses the text of /proc/PID/status; `user` names the effective uid. Throws on a text without Uid or CapEff. */
export function parseProcStatus (text: string, nameOf: (uid: number) => string | null = () => null): ProcessFacts {
  const field = (name: string): string => {
    const m = new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text)
    if (m === null) throw new Error(`no ${name} line in /proc/self/status`)
    return m[1]!.trim()
  }
  const uid = Number(field('Uid').split(/\s+/)[1])
  const gid = Number(field('Gid').split(/\s+/)[1])
  const groups = field('Groups').split(/\s+/).filter(g => g !== '').map(Number)
  const name = nameOf(uid)
  return {
    uid,
    gid,
    groups,
    effective: BigInt(`0x${field('CapEff')}`),
    ambient: BigInt(`0x${field('CapAmb')}`),
    user: userLabel(uid, name),
    account: name ?? String(uid)
  }
}

/** True when capability `cap` is in `set`. */
export function hasCap (set: bigint, cap: number): boolean {
  return ((set >> BigInt(cap)) & 1n) === 1n
}

/** "uid 65534 (nobody)", or "uid 1234" for a uid without an account. */
export function userLabel (uid: number, name: string | null): string {
  return name === null ? `uid ${uid}` : `uid ${uid} (${name})`
}

/** The account name of `uid` in passwd-format `text`, or null. */
export function accountName (text: string, uid: number): string | null {
  for (const line of text.split('\n')) {
    const f = line.split(':')
    if (f.length >= 3 && f[2] === String(uid)) return f[0]!
  }
  return null
}

/**
 * Throws ConfigError unless the daemon and the commands it runs (`ip`, `wg`, wireguard-go) have CAP_NET_ADMIN.
 * Root's children get its bounding set; anyone else's get only the ambient set, so a capability granted to
 * node alone (file capabilities) does not reach them.
 */
export function checkNetAdmin (p: ProcessFacts): void {
  const what = 'weft daemon needs CAP_NET_ADMIN to create and configure its WireGuard interface'
  if (p.uid === 0) {
    if (!hasCap(p.effective, CAP.NET_ADMIN)) {
      throw new ConfigError(`${what}, and it runs as root without it (a container started without --cap-add NET_ADMIN, or a unit whose ` +
        'CapabilityBoundingSet leaves it out): grant it')
    }
    return
  }
  if (!hasCap(p.effective, CAP.NET_ADMIN)) {
    throw new ConfigError(`${what}, and it runs as ${p.user} without it: run it as root, or grant the capability (AmbientCapabilities=CAP_NET_ADMIN in ` +
      'the systemd unit)')
  }
  if (!hasCap(p.ambient, CAP.NET_ADMIN)) {
    throw new ConfigError(`${what}, and ${p.user} has it but not as an ambient capability, so the ip and wireguard-go it runs do not: ` +
      'grant it as ambient (AmbientCapabilities=CAP_NET_ADMIN in the systemd unit)')
  }
}

/** Reads this process's facts from /proc/self/status, naming its user from /etc/passwd. */
export async function readProcessFacts (): Promise<ProcessFacts> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '')
  return parseProcStatus(await readFile('/proc/self/status', 'utf8'), uid => accountName(passwd, uid))
}

/** `uid`'s label ("uid 0 (root)"), named from /etc/passwd. */
export async function labelOf (uid: number): Promise<string> {
  return userLabel(uid, accountName(await readFile('/etc/passwd', 'utf8').catch(() => ''), uid))
}
