/**
 * The decisions of host DNS wiring (host-dns.ts carries them out), pure: which mode a host gets, the resolvectl
 * commands of the `resolved` mode, and what to do with /etc/resolv.conf and its backup in the `resolv-conf` mode.
 * Mirrors what Tailscale's net/dns does on Linux: split DNS through systemd-resolved where it runs, else the
 * file itself, and only when the operator asks for it.
 */
import { parseResolvConf } from '../dns/resolv-conf.js'
import { isManaged, managedUnchanged, recoverOriginal, renderManaged } from './resolv-conf.js'

/**
 * How the host's DNS reaches the daemon's resolver:
 * - `resolved`: systemd-resolved sends `*.domain` (and only that) to the mesh IP, through the interface's link settings;
 * - `resolv-conf`: /etc/resolv.conf names the mesh IP first (`--dns-manage-resolv-conf`);
 * - `none`: nothing is changed, and the status says why and how to query the resolver directly;
 * - `off`: the operator turned wiring off (`--accept-dns=false`).
 */
export type HostDnsMode = 'resolved' | 'resolv-conf' | 'none' | 'off'

/** What /etc/resolv.conf is. */
export type ResolvConfKind =
  | { kind: 'file', text: string }
  | { kind: 'missing' }
  | { kind: 'symlink', target: string }
  | { kind: 'other' }

/** The host as far as choosing a mode goes; host-dns.ts probeHost reads it. */
export interface HostProbe {
  /** systemd-resolved answers: its varlink socket accepts a connection, or it owns org.freedesktop.resolve1 on the system bus. */
  resolvedRunning: boolean
  /** Absolute path of resolvectl, or null when it is not on PATH. */
  resolvectl: string | null
  resolvConf: ResolvConfKind
}

/** The operator's choices. */
export interface ModeOptions {
  /** `--accept-dns`; false turns wiring off. */
  acceptDns: boolean
  /** `--dns-manage-resolv-conf`: Weft may rewrite /etc/resolv.conf when systemd-resolved does not run. */
  manageResolvConf: boolean
  /** The file's path, for the sentences. */
  resolvConfPath: string
}

/** A mode and the sentence `weft status` shows for it. */
export interface ModeChoice { mode: HostDnsMode, reason: string }

/** The stub address systemd-resolved serves; a resolv.conf naming it sends every lookup through resolved. */
export const RESOLVED_STUB = '127.0.0.53'

/** Chooses the mode at start: off when asked, resolved where it runs, the file when allowed and plain, else none. */
export function chooseMode (o: ModeOptions, probe: HostProbe): ModeChoice {
  const file = o.resolvConfPath
  if (!o.acceptDns) return { mode: 'off', reason: '--accept-dns=false: Weft leaves the host\'s DNS settings alone' }
  if (probe.resolvedRunning) {
    if (probe.resolvectl === null) {
      return { mode: 'none', reason: 'systemd-resolved runs but resolvectl is not on PATH, so Weft cannot give it the mesh domain' }
    }
    const reason = 'systemd-resolved runs: Weft gives the interface the mesh IP as DNS server for the mesh domain only'
    if (usesResolved(probe.resolvConf)) return { mode: 'resolved', reason }
    return { mode: 'resolved', reason: `${reason}; ${file} does not point at resolved, so programs that read it miss mesh names` }
  }
  if (!o.manageResolvConf) {
    return { mode: 'none', reason: `systemd-resolved not running; pass --dns-manage-resolv-conf to point ${file} at Weft` }
  }
  switch (probe.resolvConf.kind) {
    case 'symlink':
      return {
        mode: 'none',
        reason: `${file} is a symlink to ${probe.resolvConf.target}, so another program (resolvconf, systemd-resolved) manages it; ` +
          'Weft does not change it: have that program send the mesh domain to the mesh IP'
      }
    case 'other':
      return { mode: 'none', reason: `${file} is not a regular file; Weft does not change it` }
    case 'file':
    case 'missing':
      return { mode: 'resolv-conf', reason: `--dns-manage-resolv-conf: Weft writes ${file} and puts the original back on leave` }
    default: {
      const never: never = probe.resolvConf
      return never
    }
  }
}

function usesResolved (c: ResolvConfKind): boolean {
  if (c.kind === 'symlink') return c.target.includes('/run/systemd/resolve/')
  return c.kind === 'file' && parseResolvConf(c.text).nameservers.includes(RESOLVED_STUB)
}

/** The command that shows a mesh name resolving without the host's help, for modes that wire nothing. */
export function digHint (meshIp: string, domain: string): string {
  return `dig @${meshIp} <name>.${domain}`
}

/** The resolvectl calls that give `ifname` the mesh IP as server for `~domain` only, never as the default route. */
export function resolvedApplyCommands (resolvectl: string, ifname: string, meshIp: string, domain: string): string[][] {
  return [
    [resolvectl, 'dns', ifname, meshIp],
    [resolvectl, 'domain', ifname, `~${domain}`],
    [resolvectl, 'default-route', ifname, 'false']
  ]
}

/** The resolvectl call that drops every DNS setting of `ifname`. */
export function resolvedRevertCommand (resolvectl: string, ifname: string): string[] {
  return [resolvectl, 'revert', ifname]
}

/** What the files hold before an apply in the resolv-conf mode. */
export interface FileState {
  /** /etc/resolv.conf's content; null when it does not exist. */
  current: string | null
  /** The backup's content; null when there is none. */
  backup: string | null
}

/** How an apply treats the backup. */
export type BackupStep =
  | 'create' // first apply: the current file is the original
  | 'keep' // the backup holds the original already (the current file is Weft's, or the backup's twin)
  | 'replace' // someone replaced Weft's file since: theirs is the original now
  | 'recover' // Weft's file but no backup (state directory wiped): rebuilt from Weft's file

/** The writes of an apply in the resolv-conf mode, in order: the backup (if any) must be durable before the file changes. */
export interface FileApplyPlan {
  backupStep: BackupStep
  /** New backup content, or null to leave the backup as it is. */
  writeBackup: string | null
  /** New /etc/resolv.conf content, or null when it already holds it. */
  writeFile: string | null
  /** The content Weft's file has after this apply. */
  managed: string
}

/**
 * Plans an apply. The backup always holds the last content of the file that Weft did not write, so a later
 * start keeps the real original, and a file someone rewrote meanwhile (a DHCP client) becomes the new original.
 */
export function planFileApply (s: FileState, p: { meshIp: string, domain: string, backupPath: string }): FileApplyPlan {
  const current = s.current ?? ''
  let backupStep: BackupStep
  let original: string
  if (isManaged(current)) {
    backupStep = s.backup === null ? 'recover' : 'keep'
    original = s.backup ?? recoverOriginal(current)
  } else {
    backupStep = s.backup === null ? 'create' : s.backup === current ? 'keep' : 'replace'
    original = current
  }
  const managed = renderManaged(parseResolvConf(original), p)
  return {
    backupStep,
    writeBackup: backupStep === 'keep' ? null : original,
    writeFile: s.current === managed ? null : managed,
    managed
  }
}

/** What a revert finds and does. */
export type RevertOutcome =
  | 'restored' // the file was Weft's, unchanged: the original is back
  | 'changed-since' // someone changed or replaced the file after Weft wrote it: left as it is
  | 'nothing' // no backup: nothing of Weft's to undo

/** The steps of a revert in the resolv-conf mode: restore (or not), then drop the backup. */
export interface FileRevertPlan {
  outcome: RevertOutcome
  /** Content to write back, or null to leave the file. */
  restore: string | null
  deleteBackup: boolean
}

/** Plans a revert: the original goes back only over the exact file Weft wrote. `current` null: missing or a symlink. */
export function planFileRevert (s: FileState, backupPath: string): FileRevertPlan {
  if (s.backup === null) return { outcome: 'nothing', restore: null, deleteBackup: false }
  if (s.current !== null && managedUnchanged(s.current, s.backup, backupPath)) {
    return { outcome: 'restored', restore: s.backup, deleteBackup: true }
  }
  return { outcome: 'changed-since', restore: null, deleteBackup: true }
}
