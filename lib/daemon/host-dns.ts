/**
 * Wires the daemon's mesh DNS resolver into the host, and undoes it: through systemd-resolved's link settings
 * where resolved runs, else by rewriting /etc/resolv.conf when the operator allows it, else not at all (the
 * status then says why and how to query the resolver directly). host-dns-probe.ts reads the host,
 * host-dns-plan.ts decides, this file runs resolvectl and writes the files. No failure here stops the daemon:
 * each is logged and kept for `weft status`, and the next apply tries again.
 */
import { constants } from 'node:fs'
import { open, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Clock } from '../clock.js'
import type { Logger } from '../log.js'
import { parseIPv4 } from '../wire/addr.js'
import { domainProblem } from '../wire/names.js'
import { readFileIfExists, writeFileAtomic } from './atomic-file.js'
import {
  chooseMode, digHint, planFileApply, planFileRevert, resolvedApplyCommands, resolvedRevertCommand,
  type HostDnsMode, type HostProbe, type ModeChoice
} from './host-dns-plan.js'
import { probeHost, resolvConfKind, RESOLVED_SOCKET, type Runner } from './host-dns-probe.js'
import { parseResolvConf, upstreamsOf } from '../dns/resolv-conf.js'
import { run as runCommand } from './wg/exec.js'

export type { HostDnsMode } from './host-dns-plan.js'
export type { Runner } from './host-dns-probe.js'

/** The host's resolver configuration file. */
export const RESOLV_CONF = '/etc/resolv.conf'

/** The copy of the original /etc/resolv.conf, in the state directory. */
export const BACKUP_NAME = 'resolv.conf.orig'

/** Options of HostDns.open. */
export interface HostDnsOptions {
  /** The Weft interface; resolved's link settings go on it. */
  ifname: string
  /** The daemon's state directory; the backup of /etc/resolv.conf lives there. */
  stateDir: string
  /** `--accept-dns`; false: mode `off`. */
  acceptDns: boolean
  /** `--dns-manage-resolv-conf`: rewrite /etc/resolv.conf when systemd-resolved does not run. */
  manageResolvConf: boolean
  /** Default: RESOLV_CONF. */
  resolvConfPath?: string
  /** Default: RESOLVED_SOCKET. */
  resolvedSocketPath?: string
  /** Directories searched for resolvectl and busctl, `:`-separated. Default: process.env.PATH. */
  path?: string
  /** Default: wg/exec.ts `run`. */
  run?: Runner
  clock: Clock
  log: Logger
}

/** The daemon's resolver: its address and the domain it answers for. */
export interface HostDnsTarget {
  /** This node's mesh IPv4 address, where the resolver listens on port 53. */
  meshIp: string
  /** The mesh domain without a trailing dot, e.g. `weft.internal`. */
  domain: string
}

/** What Weft set on the host. */
export interface AppliedDns {
  server: string
  domain: string
  /** The interface carrying the setting (mode resolved), else null. */
  interface: string | null
  /** The file carrying the setting (mode resolv-conf), else null. */
  file: string | null
  /** When it was last applied, ms since the epoch. */
  at: number
}

/** Host DNS as `weft status` shows it. */
export interface HostDnsStatus {
  mode: HostDnsMode
  /** Why this mode, in a sentence. */
  reason: string
  /** What is in place now; null when nothing is. */
  applied: AppliedDns | null
  /** The last failure to apply or revert; null after a success. */
  lastError: string | null
  /** For modes that wire nothing: the command that queries the resolver directly. */
  hint: string | null
}

/**
 * Writes `text` into the existing file at `path` (truncate, write, fsync), never by rename: /etc/resolv.conf can
 * be a bind mount (containers, `ip netns exec`), which a rename cannot replace. Refuses to follow a symlink.
 */
export async function writeInPlace (path: string, text: string): Promise<void> {
  const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644)
  try {
    await fh.writeFile(text)
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** The host side of mesh DNS for one daemon: open at start, apply on every change of mesh IP or domain, revert on leave. */
export class HostDns {
  private readonly resolvConfPath: string
  private readonly backupPath: string
  private readonly run: Runner
  private readonly log: Logger
  private target: HostDnsTarget | null = null
  private applied: AppliedDns | null = null
  private lastError: string | null = null
  /** Applies and reverts run one at a time, in call order. */
  private queue: Promise<unknown> = Promise.resolve()

  private constructor (private readonly o: HostDnsOptions, private readonly probe: HostProbe, private readonly choice: ModeChoice) {
    this.resolvConfPath = o.resolvConfPath ?? RESOLV_CONF
    this.backupPath = join(o.stateDir, BACKUP_NAME)
    this.run = o.run ?? runCommand
    this.log = o.log.child({ component: 'host-dns' })
  }

  /**
   * Reads the host and chooses the mode. In any mode but resolv-conf it undoes what an earlier start left in
   * /etc/resolv.conf (an operator who drops --dns-manage-resolv-conf expects the original back), and with
   * --accept-dns=false also resolved's settings on the interface. Never throws.
   */
  static async open (o: HostDnsOptions): Promise<HostDns> {
    const resolvConfPath = o.resolvConfPath ?? RESOLV_CONF
    const probe = await probeHost({
      resolvConfPath,
      resolvedSocketPath: o.resolvedSocketPath ?? RESOLVED_SOCKET,
      path: o.path ?? process.env.PATH ?? '',
      run: o.run ?? runCommand,
      clock: o.clock
    })
    const choice = chooseMode({ acceptDns: o.acceptDns, manageResolvConf: o.manageResolvConf, resolvConfPath }, probe)
    const h = new HostDns(o, probe, choice)
    h.log.info({ event: 'dns.host.mode', mode: choice.mode, reason: choice.reason, ifname: o.ifname }, `host DNS: ${choice.mode} (${choice.reason})`)
    if (choice.mode !== 'resolv-conf') {
      await h.serially(async () => await h.tryStep('revert', async () => {
        await h.revertFile()
        if (choice.mode === 'off') await h.revertResolved()
      }))
    }
    return h
  }

  /** The mode chosen at open. */
  get mode (): HostDnsMode { return this.choice.mode }

  /**
   * Points the host at the resolver at `t`. Does nothing when `t` is what the last successful apply set and is
   * still in place, unless `force` (the interface was recreated, which drops resolved's link settings). Never throws.
   */
  async apply (t: HostDnsTarget, opts: { force?: boolean } = {}): Promise<HostDnsStatus> {
    return await this.serially(async () => {
      const domain = t.domain.toLowerCase().replace(/\.$/, '')
      if (parseIPv4(t.meshIp) === null || domainProblem(domain) !== null) {
        this.fail('apply', new Error(`mesh IP "${t.meshIp}" must be an IPv4 address and domain "${t.domain}" a DNS name`))
        return this.status()
      }
      const target = { meshIp: t.meshIp, domain }
      const same = this.target?.meshIp === target.meshIp && this.target.domain === target.domain
      if (same && this.applied !== null && this.lastError === null && opts.force !== true) return this.status()
      this.target = target
      await this.tryStep('apply', async () => {
        switch (this.choice.mode) {
          case 'resolved': await this.applyResolved(target); break
          case 'resolv-conf': await this.applyFile(target); break
          case 'none':
          case 'off':
            break
          default: {
            const never: never = this.choice.mode
            throw new Error(`unknown mode ${String(never)}`)
          }
        }
      })
      return this.status()
    })
  }

  /** Undoes what Weft set (on leave): resolved's link settings, or the original /etc/resolv.conf. Never throws. */
  async revert (): Promise<HostDnsStatus> {
    return await this.serially(async () => {
      await this.tryStep('revert', async () => {
        if (this.choice.mode === 'resolved') await this.revertResolved()
        await this.revertFile()
      })
      return this.status()
    })
  }

  /**
   * The servers the resolver forwards other names to: the original ones (from the backup while Weft manages
   * /etc/resolv.conf, else from the file), never `meshIp` (this node's own, the last applied one unless given).
   * Never throws: [] when unreadable.
   */
  async upstreams (meshIp: string | null = this.target?.meshIp ?? null): Promise<string[]> {
    try {
      const text = await readFileIfExists(this.backupPath) ?? await readFileIfExists(this.resolvConfPath) ?? ''
      return upstreamsOf(parseResolvConf(text), meshIp)
    } catch (err) {
      this.log.warn({ event: 'dns.host.failed', op: 'upstreams', error: (err as Error).message }, 'cannot read the host\'s DNS servers')
      return []
    }
  }

  /** The state `weft status` shows. */
  status (): HostDnsStatus {
    const t = this.target
    const wiresNothing = this.choice.mode === 'none' || this.choice.mode === 'off'
    return {
      mode: this.choice.mode,
      reason: this.choice.reason,
      applied: this.applied === null ? null : { ...this.applied },
      lastError: this.lastError,
      hint: wiresNothing && t !== null ? digHint(t.meshIp, t.domain) : null
    }
  }

  private async applyResolved (t: HostDnsTarget): Promise<void> {
    const resolvectl = this.probe.resolvectl
    if (resolvectl === null) throw new Error('resolvectl is not on PATH')
    // A half-applied link (dns set, domain not) is not what status should claim.
    this.applied = null
    for (const argv of resolvedApplyCommands(resolvectl, this.o.ifname, t.meshIp, t.domain)) await this.run(argv)
    this.applied = { server: t.meshIp, domain: t.domain, interface: this.o.ifname, file: null, at: this.o.clock.now() }
    this.log.info({ event: 'dns.host.apply', mode: 'resolved', ifname: this.o.ifname, server: t.meshIp, domain: `~${t.domain}` },
      `systemd-resolved sends *.${t.domain} to ${t.meshIp} on ${this.o.ifname}`)
  }

  private async revertResolved (): Promise<void> {
    const resolvectl = this.probe.resolvectl
    if (!this.probe.resolvedRunning || resolvectl === null) return
    try {
      await this.run(resolvedRevertCommand(resolvectl, this.o.ifname))
    } catch (err) {
      // A link that is gone has no settings left to undo.
      if (!/No such device|not known/i.test((err as Error).message)) throw err
    }
    this.applied = null
    this.log.info({ event: 'dns.host.revert', mode: 'resolved', ifname: this.o.ifname }, `systemd-resolved settings of ${this.o.ifname} reverted`)
  }

  private async applyFile (t: HostDnsTarget): Promise<void> {
    const file = this.resolvConfPath
    const kind = await resolvConfKind(file)
    if (kind.kind === 'symlink') throw new Error(`${file} is now a symlink to ${kind.target}; Weft leaves it to whoever manages it`)
    if (kind.kind === 'other') throw new Error(`${file} is not a regular file; Weft leaves it alone`)
    const plan = planFileApply({ current: kind.kind === 'file' ? kind.text : null, backup: await readFileIfExists(this.backupPath) },
      { meshIp: t.meshIp, domain: t.domain, backupPath: this.backupPath })
    if (plan.backupStep === 'replace') {
      this.log.info({ event: 'dns.host.backup', step: plan.backupStep, backup: this.backupPath },
        `${file} was rewritten by someone else since Weft managed it; that content is the original now`)
    } else if (plan.backupStep === 'recover') {
      this.log.warn({ event: 'dns.host.backup', step: plan.backupStep, backup: this.backupPath },
        `${file} is Weft's but ${this.backupPath} is gone; the original is rebuilt from Weft's file`)
    }
    if (plan.writeBackup !== null) await writeFileAtomic(this.backupPath, plan.writeBackup, 0o644)
    if (plan.writeFile !== null) await writeInPlace(file, plan.writeFile)
    this.applied = { server: t.meshIp, domain: t.domain, interface: null, file, at: this.o.clock.now() }
    this.log[plan.writeFile !== null ? 'info' : 'debug']({
      event: 'dns.host.apply', mode: 'resolv-conf', file, server: t.meshIp, domain: t.domain, changed: plan.writeFile !== null, backup: plan.backupStep
    }, `${file} names ${t.meshIp} first, search ${t.domain}`)
  }

  private async revertFile (): Promise<void> {
    const backup = await readFileIfExists(this.backupPath)
    if (backup === null) return
    const file = this.resolvConfPath
    const kind = await resolvConfKind(file)
    const plan = planFileRevert({ current: kind.kind === 'file' ? kind.text : null, backup }, this.backupPath)
    if (plan.restore !== null) await writeInPlace(file, plan.restore)
    if (plan.deleteBackup) await unlink(this.backupPath).catch(() => {})
    this.applied = null
    if (plan.outcome === 'restored') {
      this.log.info({ event: 'dns.host.revert', mode: 'resolv-conf', file, outcome: plan.outcome }, `${file} is back to its original`)
    } else {
      this.log.warn({ event: 'dns.host.revert', mode: 'resolv-conf', file, outcome: plan.outcome },
        `${file} was changed by someone else after Weft wrote it; left as it is`)
    }
  }

  /** Runs `step`; a failure becomes lastError and a `dns.host.failed` event, a success clears lastError. */
  private async tryStep (op: 'apply' | 'revert', step: () => Promise<void>): Promise<void> {
    try {
      await step()
      this.lastError = null
    } catch (err) {
      this.fail(op, err)
    }
  }

  private fail (op: 'apply' | 'revert', err: unknown): void {
    this.lastError = `${op}: ${(err as Error).message}`
    this.log.warn({ event: 'dns.host.failed', op, mode: this.choice.mode, ifname: this.o.ifname, error: (err as Error).message },
      `host DNS ${op} failed: ${(err as Error).message}`)
  }

  private async serially<T> (fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn)
    this.queue = next.catch(() => {})
    return await next
  }
}
