/**
 * Policy routing for an exit node, in the manner of wg-quick: the host's default route goes into the Weft
 * interface through a table of its own, and what must never enter the tunnel is routed by the main table.
 *
 * - WireGuard's own UDP carries a fwmark (`fwmark` on the device); everything without it looks up EXIT table
 *   `table`, whose one route is `default dev IF`. This rule comes last and goes first, so there is never a
 *   moment when WireGuard's packets would loop into the tunnel they carry.
 * - Before it, bypass rules send to the main table: the controller's addresses (the link stays on the
 *   underlay), the underlay announcements (their source port), and packets from the host's own underlay
 *   addresses (answers on connections made to those addresses, such as an operator's SSH session).
 * - With LAN access (`--exit-node-allow-lan`), `lookup main suppress_prefixlength 0` uses every route of the
 *   main table except its default: directly connected networks, and Weft's own subnet routes.
 *
 * Which peer carries 0.0.0.0/0 is decided elsewhere (route-choice.ts). With none alive, the table's route stays
 * and WireGuard drops what it has no peer for: a dead exit node fails closed, nothing leaks to the underlay.
 *
 * The mesh carries IPv4 only, yet IPv6 gets the same rules and the same table route into the interface, where
 * no peer carries IPv6 and WireGuard drops it: with an exit node in use, the host's IPv6 traffic beyond its LAN
 * (and the bypasses) goes nowhere rather than out of the underlay around the exit node. Not `unreachable`: on
 * an error route the kernel picks an IPv6 source address and looks up again, and with the host's underlay
 * address as source the bypass rule sends the packet out (seen in test/e2e/exit.test.ts). The rules live at
 * fixed priorities (RULE_PREF), so a restarted daemon finds its own and touches no other.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import type { Logger } from '../log.js'
import type { WireGuardDevice } from './wg/device.js'
import { inNetns, ipCmd, run, type Netns } from './wg/exec.js'
import { WEFT_ROUTE_PROTO } from './kernel-routes.js'

/** Priorities of Weft's rules: bypasses, then LAN, then the tunnel. Tailscale uses 5210-5270; these avoid them. */
export const RULE_PREF = { bypass: 5380, lan: 5381, tunnel: 5382 } as const

/** What the exit routing must be. */
export interface ExitPlan {
  /** The routing table and the fwmark (the same number, as wg-quick does: Weft uses the listen port). */
  table: number
  /** Addresses of the controller (IPv4 and IPv6). */
  controller: readonly string[]
  /** The host's underlay addresses (IPv4 and global IPv6). */
  underlay: readonly string[]
  /** UDP source port of the underlay announcements. */
  announcePort: number
  allowLan: boolean
}

/** One `ip rule`, in the fields Weft uses. */
export interface PolicyRule {
  pref: number
  from?: string
  to?: string
  udpSport?: number
  notFwmark?: number
  table: 'main' | number
  suppressDefault?: boolean
}

/** An address family, as `ip -4` and `ip -6` name it. */
export type Family = 4 | 6

/** The rules of `plan` for `family`, bypasses first and the tunnel rule last (the order they are added in). */
export function policyRules (plan: ExitPlan, family: Family = 4): PolicyRule[] {
  const mine = (a: string): boolean => isIP(a) === family
  const rules: PolicyRule[] = [
    ...plan.controller.filter(mine).map(to => ({ pref: RULE_PREF.bypass, to, table: 'main' as const })),
    ...plan.underlay.filter(mine).map(from => ({ pref: RULE_PREF.bypass, from, table: 'main' as const })),
    { pref: RULE_PREF.bypass, udpSport: plan.announcePort, table: 'main' }
  ]
  if (plan.allowLan) rules.push({ pref: RULE_PREF.lan, table: 'main', suppressDefault: true })
  rules.push({ pref: RULE_PREF.tunnel, notFwmark: plan.table, table: plan.table })
  return rules
}

/** `ip rule add|del` arguments of a rule. */
export function ruleArgs (r: PolicyRule): string[] {
  return [
    'pref', String(r.pref),
    ...(r.notFwmark !== undefined ? ['not', 'fwmark', String(r.notFwmark)] : []),
    ...(r.from !== undefined ? ['from', r.from] : []),
    ...(r.to !== undefined ? ['to', r.to] : []),
    ...(r.udpSport !== undefined ? ['ipproto', 'udp', 'sport', String(r.udpSport)] : []),
    'lookup', String(r.table),
    ...(r.suppressDefault === true ? ['suppress_prefixlength', '0'] : [])
  ]
}

/** A rule's identity, the same for a PolicyRule and for its entry in `ip -j rule show`. */
export function ruleKey (r: PolicyRule): string {
  return [r.pref, r.from ?? '', r.to ?? '', r.udpSport ?? '', r.notFwmark ?? '', r.table, r.suppressDefault === true ? 's' : ''].join('|')
}

/** One entry of `ip -j rule show`, as far as Weft reads it. */
interface JsonRule {
  priority: number
  src?: string
  dst?: string
  ipproto?: string
  sport?: number
  not?: null
  fwmark?: string
  table?: string
  suppress_prefixlen?: number
}

/** An `ip -j rule show` entry as a PolicyRule, or null for a rule Weft never writes. */
export function fromJson (j: JsonRule): PolicyRule | null {
  if (j.table === undefined) return null
  return {
    pref: j.priority,
    table: j.table === 'main' ? 'main' : Number(j.table),
    ...(j.src !== undefined && j.src !== 'all' ? { from: j.src } : {}),
    ...(j.dst !== undefined && j.dst !== 'all' ? { to: j.dst } : {}),
    ...(j.ipproto === 'udp' && j.sport !== undefined ? { udpSport: j.sport } : {}),
    ...('not' in j && j.fwmark !== undefined ? { notFwmark: Number(j.fwmark) } : {}),
    ...(j.suppress_prefixlen === 0 ? { suppressDefault: true } : {})
  }
}

const PREFS: ReadonlySet<number> = new Set(Object.values(RULE_PREF))

/** Keeps the exit routing equal to a plan (or to none). */
export class ExitRouting {
  /** The plan last applied in full; undefined until the first sync (the host's state is then unknown). */
  private applied: string | undefined
  private mark = -1

  /**
   * `fresh`: the interface was created by this start. Without a plan there is then nothing to undo (rules a
   * previous run left point at a table whose route went with its interface), so the first sync reads nothing.
   */
  constructor (private readonly o: { ifname: string, device: WireGuardDevice, netns?: Netns, log: Logger, fresh?: boolean }) {
    if (o.fresh === true) {
      this.applied = 'null'
      this.mark = 0
    }
  }

  /**
   * Makes the host's exit routing exactly `plan` (null: none). Adds before it deletes, bypass rules before the
   * tunnel rule, and deletes the tunnel rule first, so no packet of WireGuard, the controller link or the
   * announcements is ever routed into the tunnel. Throws DeviceError when `ip` or the device fails; the next
   * sync starts again from what the kernel holds.
   */
  async sync (plan: ExitPlan | null): Promise<void> {
    const key = JSON.stringify(plan)
    if (key === this.applied) return
    this.applied = undefined
    if (plan !== null) {
      await this.setMark(plan.table)
      await this.validMark()
    }
    const changes = { added: 0, removed: 0 }
    for (const family of await this.families()) {
      const c = await this.syncFamily(plan, family)
      changes.added += c.added
      changes.removed += c.removed
    }
    if (plan === null && this.mark !== 0) await this.setMark(0)
    if (changes.added + changes.removed > 0 || plan === null) {
      const fields = { ifname: this.o.ifname, table: plan?.table ?? null, ...changes, allowLan: plan?.allowLan ?? null }
      this.o.log.info({ event: 'routes.exit.rules', ...fields }, plan === null
        ? 'no exit node: policy rules removed'
        : `default route through ${this.o.ifname} (table ${plan.table}), ${changes.added} rules added, ${changes.removed} removed`)
    }
    this.applied = key
  }

  /** One family's table route and rules; returns how many rules it added and removed. */
  private async syncFamily (plan: ExitPlan | null, family: Family): Promise<{ added: number, removed: number }> {
    const ip = (...args: string[]): string[] => ipCmd(this.o.netns, `-${family}`, ...args)
    const proto = ['proto', String(WEFT_ROUTE_PROTO)]
    if (plan !== null) {
      await run(ip('route', 'replace', 'default', 'dev', this.o.ifname, 'table', String(plan.table), ...proto))
    }
    const want = plan === null ? [] : policyRules(plan, family)
    const out = (await run(ip('-j', 'rule', 'show'))).stdout
    const have = new Map((JSON.parse(out === '' ? '[]' : out) as JsonRule[])
      .filter(j => PREFS.has(j.priority)).map(fromJson).flatMap(r => r === null ? [] : [[ruleKey(r), r] as const]))
    const wantKeys = new Set(want.map(ruleKey))
    const add = want.filter(r => !have.has(ruleKey(r)))
    const del = [...have].filter(([k]) => !wantKeys.has(k)).map(([, r]) => r).sort((a, b) => b.pref - a.pref)
    const lines = [
      ...add.map(r => `rule add ${ruleArgs(r).join(' ')}`),
      ...del.map(r => `rule del ${ruleArgs(r).join(' ')}`)
    ]
    if (lines.length > 0) await run(ip('-batch', '-'), { input: lines.join('\n') + '\n' })
    if (plan === null) {
      const tables = new Set([...have.values()].flatMap(r => typeof r.table === 'number' ? [r.table] : []))
      for (const t of tables) await run(ip('route', 'flush', 'table', String(t), ...proto)).catch(() => {})
    }
    return { added: add.length, removed: del.length }
  }

  /** IPv4, and IPv6 unless the host has it off (then there is nothing to leak by it, and `ip -6` would fail). */
  private async families (): Promise<Family[]> {
    if (this.o.netns !== undefined) return [4, 6]
    const off = await readFile('/proc/sys/net/ipv6/conf/all/disable_ipv6', 'utf8').then(v => v.trim() === '1', () => true)
    return off ? [4] : [4, 6]
  }

  private async setMark (mark: number): Promise<void> {
    if (this.mark === mark) return
    await this.o.device.setFwmark(mark)
    this.mark = mark
  }

  /** Lets reverse-path filtering see the fwmark (wg-quick sets the same), so WireGuard's answers pass rp_filter. */
  private async validMark (): Promise<void> {
    if (this.o.netns === undefined) await writeFile('/proc/sys/net/ipv4/conf/all/src_valid_mark', '1\n')
    else await run(inNetns(this.o.netns, ['sysctl', '-qw', 'net.ipv4.conf.all.src_valid_mark=1']))
  }
}
