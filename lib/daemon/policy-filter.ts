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
import { compileFilter, DEFAULT_DROP, DROPS_SET, filterTable, removeScript } from '../policy/compile.js'
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
  private script: string | null = null
  private parsed: { version: number, policy: Policy } | null = null
  private st: PolicyFilterState = { version: null, pending: null, rules: 0, sets: 0, elements: 0, appliedAt: null, error: null }
  /** Drops counted by tables this process replaced (nft counters start again with each table). */
  private base: PolicyDrops = { total: 0, byPort: [] }

  constructor (private readonly o: PolicyFilterOptions) {}

  get state (): Readonly<PolicyFilterState> { return this.st }

  /**
   * Makes the filter follow `map`: compiles and applies it when the policy or any node's name, address, tags or
   * routes changed since the last sync. Throws DeviceError when nft fails; the next sync tries again.
   */
  async sync (map: Netmap): Promise<void> {
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
    if (compiled.script !== this.script) {
      if (this.script !== null) this.base = addDrops(this.base, await this.readDrops().catch(() => EMPTY_DROPS))
      await this.nft(compiled.script)
      this.script = compiled.script
    }
    const from = this.st.version
    this.key = key
    const { rules, sets, elements } = compiled
    this.st = { ...this.st, version, pending: policy === null ? map.policy.version : null, rules, sets, elements, appliedAt: this.o.clock.now() }
    if (from !== version) {
      this.o.log.info({
        event: 'policy.apply',
        from,
        to: version,
        rules: compiled.rules,
        sets: compiled.sets,
        elements: compiled.elements,
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
    const ours = this.script !== null
    try {
      await this.nft(removeScript(this.o.ifname))
    } catch (err) {
      if (ours) throw err
      this.o.log.debug({ event: 'policy.remove.failed', reason: (err as Error).message }, 'could not remove an access filter left by an earlier run')
    }
    this.script = null
    this.key = null
    this.st = { version: null, pending: null, rules: 0, sets: 0, elements: 0, appliedAt: this.o.clock.now(), error: null }
    if (had !== null) this.o.log.info({ event: 'policy.apply', from: had, to: null }, 'no access policy: every flow is allowed')
  }

  /** Packets dropped since this daemon started (with the counts of the table it found, when it found one). */
  async drops (): Promise<PolicyDrops> {
    if (this.script === null) return this.base
    return addDrops(this.base, await this.readDrops())
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
const DENY_ALL: Policy = { groups: new Map(), tagOwners: new Map(), hosts: new Map(), acls: [], tests: [] }

const EMPTY_DROPS: PolicyDrops = { total: 0, byPort: [] }

/** A digest of what the filter depends on besides the policy: every node's name, address, tags and routes. */
function inputsDigest (map: Netmap): string {
  const h = createHash('sha256')
  for (const n of map.nodes) {
    h.update(`${n.id}\0${n.hostname}\0${n.meshIp}\0${(n.tags ?? []).join(',')}\0${(n.routes ?? []).join(',')}\0${n.exitNode === true ? 1 : 0}\n`)
  }
  return h.digest('base64')
}

/** The drops in `nft -j list table` output: the default-drop counters and the elements of the drops set. */
export function parseDrops (json: string): PolicyDrops {
  let total = 0
  const ports: PolicyDrops['byPort'] = []
  const items = (JSON.parse(json) as { nftables?: unknown }).nftables
  for (const item of Array.isArray(items) ? items as Array<{ rule?: NftRule, set?: NftSet }> : []) {
    if (item.rule?.comment === DEFAULT_DROP) for (const e of item.rule.expr ?? []) total += e.counter?.packets ?? 0
    if (item.set?.name !== DROPS_SET) continue
    for (const el of item.set.elem ?? []) {
      const [proto, port] = el.elem?.val?.concat ?? []
      const packets = el.elem?.counter?.packets
      if ((proto === 'tcp' || proto === 'udp') && typeof port === 'number' && typeof packets === 'number') ports.push({ proto, port, packets })
    }
  }
  return { total, byPort: mergePorts(ports) }
}

/** What parseDrops reads of nft's JSON. */
interface NftRule { comment?: string, expr?: Array<{ counter?: { packets?: number } }> }
interface NftSet { name?: string, elem?: Array<{ elem?: { val?: { concat?: unknown[] }, counter?: { packets?: number } } }> }

function addDrops (a: PolicyDrops, b: PolicyDrops): PolicyDrops {
  return { total: a.total + b.total, byPort: mergePorts([...a.byPort, ...b.byPort]) }
}

/** One entry per protocol and port, the packets summed. */
function mergePorts (list: PolicyDrops['byPort']): PolicyDrops['byPort'] {
  const m = new Map<string, PolicyDrops['byPort'][number]>()
  for (const d of list) {
    const k = `${d.proto}/${d.port}`
    const cur = m.get(k)
    m.set(k, { ...d, packets: (cur?.packets ?? 0) + d.packets })
  }
  return [...m.values()]
}
