/**
 * Keeps this node's nftables access filter matching the netmap's policy (docs/policy.md, "Enforcement"): compiles
 * it (lib/policy/compile.ts) when the policy or what it names changes, and applies it in one nft transaction, so
 * no packet ever meets half a filter. The daemon syncs before every reconcile, and before the interface comes up
 * from a saved netmap, so a policy is in force before the peers it governs are.
 *
 * A netmap without a policy removes the filter: every flow is allowed, as before any policy was set. A policy
 * this daemon cannot read keeps the filter in force as it is, or, when none is, puts up one that lets only SWIM
 * through: a node never carries traffic unfiltered because its policy was unreadable.
 *
 * The table stays when the daemon stops (it goes with the interface, on `weft leave`): the last policy holds
 * while no daemon runs.
 */
import { createHash } from 'node:crypto'
import type { Clock } from '../clock.js'
import type { Logger } from '../log.js'
import type { Netmap, NetmapPolicy } from '../wire/netmap.js'
import { compileFilter, DROPPED_COUNTER, DROPS_SET, filterTable, removeScript, replaceScript, updateScript, type CompiledFilter } from '../policy/compile.js'
import { parsePolicy, type Policy } from '../policy/document.js'
import { inNetns, run, type Netns } from './wg/exec.js'

/** Options of PolicyFilter. */
export interface PolicyFilterOptions {
  selfId: string
  ifname: string
  meshCidr: string
  swimPort: number
  clock: Clock
  log: Logger
  netns?: Netns
}

/** Packets the filter dropped: all of them, and TCP and UDP by destination port. */
export interface PolicyDrops {
  total: number
  byPort: Array<{ proto: 'tcp' | 'udp', port: number, packets: number }>
}

/** What `weft status` shows of the filter. */
export interface PolicyFilterState {
  /** Version of the policy enforced; null when none is (every flow allowed), 0 for the SWIM-only filter. */
  version: number | null
  /** Version of the newest policy the netmap carries, when it is not the one enforced. */
  pending: number | null
  rules: number
  sets: number
  elements: number
  appliedAt: number | null
  error: string | null
}

/** The nft table of the filter, its rules from the policy, and when it last changed; see the file comment. */
export class PolicyFilter {
  private key: string | null = null
  /** The filter this process loaded, as it is in the kernel; null before the first load or after a removal. */
  private loaded: CompiledFilter | null = null
  /** The netmap the filter follows now (sync). */
  private synced: Netmap | null = null
  private parsed: { version: number, policy: Policy } | null = null
  private st: PolicyFilterState = { version: null, pending: null, rules: 0, sets: 0, elements: 0, appliedAt: null, error: null }

  constructor (private readonly o: PolicyFilterOptions) {}

  get state (): Readonly<PolicyFilterState> { return this.st }

  /**
   * Makes the filter follow `map`: compiles and applies it when the policy or any node's name, address, tags or
   * routes changed since the last sync. Throws DeviceError when nft fails; the next sync tries again. The daemon
   * syncs before every reconcile, most of them SWIM's, on the netmap it already followed: a netmap is never
   * changed in place, so the same object needs no digest of its nodes.
   */
  async sync (map: Netmap): Promise<void> {
    if (map === this.synced) return
    await this.follow(map)
    this.synced = map
  }

  private async follow (map: Netmap): Promise<void> {
    const key = map.policy === undefined ? 'none' : `${map.policy.version}:${inputsDigest(map)}`
    if (key === this.key) return
    if (map.policy === undefined) {
      await this.remove()
      this.key = key
      return
    }
    const self = map.nodes.find(n => n.id === this.o.selfId)
    if (self === undefined) return
    const policy = this.read(map.policy)
    if (policy === null && this.st.version !== null) { this.key = key; return }
    const started = this.o.clock.monotonic()
    const compiled = compileFilter({
      policy: policy ?? DENY_ALL,
      nodes: map.nodes,
      self,
      ifname: this.o.ifname,
      meshCidr: this.o.meshCidr,
      swimPort: this.o.swimPort
    })
    const compileMs = this.o.clock.monotonic() - started
    const version = policy === null ? 0 : map.policy.version
    await this.load(compiled)
    const from = this.st.version
    this.key = key
    const { rules, elements } = compiled
    const sets = compiled.sets.size
    this.st = { ...this.st, version, pending: policy === null ? map.policy.version : null, rules, sets, elements, appliedAt: this.o.clock.now() }
    if (from !== version) {
      this.o.log.info({
        event: 'policy.apply',
        from,
        to: version,
        rules,
        sets,
        elements,
        compileMs: Math.round(compileMs * 10) / 10,
        applyMs: Math.round((this.o.clock.monotonic() - started - compileMs) * 10) / 10
      }, version === 0
        ? 'access policy unreadable: only SWIM is let in'
        : `access policy v${version} enforced (${compiled.rules} rules)`)
    }
  }

  /**
   * Removes the filter (no policy, or `weft leave`): every flow is allowed. A table this process did not put up
   * (one an earlier run left, or none) is removed too, but a failure to remove it is only logged: a host without
   * nft that never had a policy must not fail here.
   */
  async remove (): Promise<void> {
    const had = this.st.version
    const ours = this.loaded !== null
    try {
      await this.nft(removeScript(this.o.ifname))
    } catch (err) {
      if (ours) throw err
      this.o.log.debug({ event: 'policy.remove.failed', reason: (err as Error).message }, 'could not remove an access filter left by an earlier run')
    }
    this.loaded = null
    this.key = null
    this.synced = null
    this.st = { version: null, pending: null, rules: 0, sets: 0, elements: 0, appliedAt: this.o.clock.now(), error: null }
    if (had !== null) this.o.log.info({ event: 'policy.apply', from: had, to: null }, 'no access policy: every flow is allowed')
  }

  /**
   * Makes the kernel's filter `c`: in place when this process loaded the one there (the drop counts go on), else
   * by replacing the table whole. One nft transaction either way; nothing when `c` is what is loaded.
   */
  private async load (c: CompiledFilter): Promise<void> {
    const prev = this.loaded
    if (prev !== null && sameFilter(prev, c)) return
    this.loaded = null
    if (prev === null) {
      await this.nft(replaceScript(this.o.ifname, c))
    } else {
      // The table is not what this process left (removed by hand, say): replace it whole.
      await this.nft(updateScript(this.o.ifname, prev, c)).catch(async () => await this.nft(replaceScript(this.o.ifname, c)))
    }
    this.loaded = c
  }

  /** Packets the filter in the kernel dropped since it was loaded whole (zero without one). */
  async drops (): Promise<PolicyDrops> {
    if (this.loaded === null) return { total: 0, byPort: [] }
    return await this.readDrops()
  }

  /** The policy of `p`, parsed once per version; null (and the reason in the state) when it cannot be read. */
  private read (p: NetmapPolicy): Policy | null {
    if (this.parsed?.version === p.version) return this.parsed.policy
    try {
      this.parsed = { version: p.version, policy: parsePolicy(p.text) }
      this.st = { ...this.st, error: null }
      return this.parsed.policy
    } catch (err) {
      const reason = (err as Error).message
      this.st = { ...this.st, pending: p.version, error: `cannot read access policy v${p.version}: ${reason}` }
      this.o.log.error({ event: 'policy.invalid', version: p.version, enforced: this.st.version, reason },
        this.st.version === null ? 'cannot read the access policy; letting only SWIM in' : 'cannot read the access policy; the last one stays in force')
      return null
    }
  }

  private async readDrops (): Promise<PolicyDrops> {
    const { stdout } = await run(inNetns(this.o.netns, ['nft', '-j', 'list', 'table', 'inet', filterTable(this.o.ifname)]))
    return parseDrops(stdout)
  }

  private async nft (script: string): Promise<void> {
    await run(inNetns(this.o.netns, ['nft', '-f', '-']), { input: script })
  }
}

/** A policy with no rules: only what the filter always lets in (SWIM, replies) passes. */
const DENY_ALL: Policy = { groups: new Map(), tagOwners: new Map(), hosts: new Map(), acls: [], tests: [], nodeNames: [] }

function sameFilter (a: CompiledFilter, b: CompiledFilter): boolean {
  return a.chains.input.join('\n') === b.chains.input.join('\n') && a.chains.forward.join('\n') === b.chains.forward.join('\n') &&
    a.sets.size === b.sets.size && [...a.sets.keys()].every(k => b.sets.has(k))
}

/** A digest of what the filter depends on besides the policy: every node's name, address, tags and routes. */
function inputsDigest (map: Netmap): string {
  const h = createHash('sha256')
  for (const n of map.nodes) {
    h.update(`${n.id}\0${n.hostname}\0${n.meshIp}\0${(n.tags ?? []).join(',')}\0${(n.routes ?? []).join(',')}\0${n.exitNode === true ? 1 : 0}\n`)
  }
  return h.digest('base64')
}

/** The drops in `nft -j list table` output: the drop counter and the elements of the drops set. */
export function parseDrops (json: string): PolicyDrops {
  let total = 0
  const byPort: PolicyDrops['byPort'] = []
  const items = (JSON.parse(json) as { nftables?: unknown }).nftables
  for (const item of Array.isArray(items) ? items as Array<{ counter?: NftCounter, set?: NftSet }> : []) {
    if (item.counter?.name === DROPPED_COUNTER) total += item.counter.packets ?? 0
    if (item.set?.name !== DROPS_SET) continue
    for (const el of item.set.elem ?? []) {
      const [proto, port] = el.elem?.val?.concat ?? []
      const packets = el.elem?.counter?.packets
      if ((proto === 'tcp' || proto === 'udp') && typeof port === 'number' && typeof packets === 'number') byPort.push({ proto, port, packets })
    }
  }
  return { total, byPort }
}

/** What parseDrops reads of nft's JSON. */
interface NftCounter { name?: string, packets?: number }
interface NftSet { name?: string, elem?: Array<{ elem?: { val?: { concat?: unknown[] }, counter?: { packets?: number } } }> }
