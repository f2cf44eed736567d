/**
 * A netns world: an underlay bridge namespace, N node namespaces each wired to the bridge by a veth pair with
 * an address from 198.18.0.0/15, and optionally a controller namespace. Set-up is batched (`ip -batch`) so
 * that hundreds of namespaces come up in seconds. Used by test/e2e and `weft sim`.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, writeFileSync } from 'node:fs'
import type { Logger } from '../../lib/log.js'
import { inNetns, ipCmd, run, type RunOptions, type RunResult } from '../../lib/daemon/wg/exec.js'
import { openDevice, type DriverChoice } from '../../lib/daemon/wg/open.js'
import type { WireGuardDevice } from '../../lib/daemon/wg/device.js'
import { MAX_NODES, NETNS_ETC, NETNS_RE, RUN_ROOT, UNDERLAY_PREFIX_LEN, WorldNames, newPrefix } from './names.js'
import { recordOf, writeRecord } from './procs.js'
import { cleanupStale, destroyRun, destroyRunSync } from './cleanup.js'
import { flattenScheduling, type AutogroupState } from './autogroup.js'
import { setCuts, setLoss, type Cut } from './nft.js'
import { pool } from '../pool.js'

/** Options of NetnsWorld.create. */
export interface WorldOptions {
  /** Number of node namespaces, 1..MAX_NODES. */
  nodes: number
  /** Also make a controller namespace at 198.18.0.1. Default: false. */
  controller?: boolean
  /** Remove leftovers of crashed runs first. Default: true, so debris never accumulates. */
  cleanStale?: boolean
  /**
   * Remove the world on SIGINT/SIGTERM (then re-raise the signal) and, best effort, at process exit.
   * Default: true; tap and `weft sim` both want it.
   */
  handleSignals?: boolean
  /**
   * Turn the kernel's autogroup off while this world lives, so that niceness alone orders its processes
   * against each other (sim/netns/autogroup.ts), as processes on machines of their own would not compete at
   * all. `weft sim run` asks for it; tests leave the machine alone. Default: false.
   */
  flatScheduling?: boolean
  /** Parallel `ip`/`nft` processes when configuring many nodes. Default: 4, twice the cores here, since each mostly waits on the kernel. */
  concurrency?: number
  log: Logger
}

/** inotify instances open on the machine now (every fd that is an inotify instance, all users; we run as root). */
export function inotifyInUse (): number {
  let count = 0
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    let fds: string[]
    try { fds = readdirSync(`/proc/${pid}/fd`) } catch { continue }
    for (const fd of fds) {
      try { if (readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:inotify') count++ } catch { /* closed meanwhile */ }
    }
  }
  return count
}

/**
 * Makes room for `more` new inotify instances (each wireguard-go takes one; past the limit new ones exit
 * silently): raises fs.inotify.max_user_instances to in-use + more + 64 spare when it is lower, and logs it.
 */
export function ensureInotifyInstances (more: number, log: Logger): void {
  const path = '/proc/sys/fs/inotify/max_user_instances'
  const current = Number(readFileSync(path, 'utf8').trim())
  const needed = inotifyInUse() + more + 64
  if (current >= needed) return
  writeFileSync(path, `${needed}\n`)
  log.warn({ event: 'sim.sysctl', key: 'fs.inotify.max_user_instances', from: current, to: needed },
    `raised fs.inotify.max_user_instances from ${current} to ${needed} so that ${more} more wireguard-go can start`)
}

/** Entries in the kernel's (machine-wide) ARP table now, from /proc/net/stat/arp_cache; 0 when unreadable. */
function arpEntriesInUse (): number {
  try {
    const line = readFileSync('/proc/net/stat/arp_cache', 'utf8').split('\n')[1] ?? ''
    const n = parseInt(line.trim().split(/\s+/)[0] ?? '', 16)
    return Number.isFinite(n) ? n : 0
  } catch {
    return 0
  }
}

/**
 * Makes room in the kernel's ARP table for a world of `nodes`: the table is shared by every namespace on the
 * machine (gc_thresh3 = 1024 entries by default), and a full mesh over the underlay fills it with one entry per
 * ordered pair of hosts, (nodes + 1)^2 in all. Past the limit new neighbours fail with ENOBUFS ("neighbor
 * table overflow"), which looks like a dead network. Raises the three thresholds when they are lower, and logs it.
 */
export function ensureNeighbourTable (nodes: number, log: Logger): void {
  const pairs = (nodes + 1) ** 2 + arpEntriesInUse()
  const want = { gc_thresh1: pairs, gc_thresh2: 2 * pairs + 1024, gc_thresh3: 4 * pairs + 2048 }
  for (const [key, value] of Object.entries(want)) {
    const path = `/proc/sys/net/ipv4/neigh/default/${key}`
    let current: number
    try { current = Number(readFileSync(path, 'utf8').trim()) } catch { continue }
    if (current >= value) continue
    writeFileSync(path, `${value}\n`)
    log.warn({ event: 'sim.sysctl', key: `net.ipv4.neigh.default.${key}`, from: current, to: value },
      `raised net.ipv4.neigh.default.${key} from ${current} to ${value}: the ARP table is shared by all namespaces`)
  }
}

/** A running world. Create with NetnsWorld.create; always `destroy()` it (signals and exit are covered too). */
export class NetnsWorld {
  readonly names: WorldNames
  readonly nodes: number
  readonly hasController: boolean
  /** What became of the kernel's autogroup setting for this world. */
  autogroup: AutogroupState = 'on'
  private readonly log: Logger
  private readonly concurrency: number
  private readonly unhook: () => void
  private destroyed = false
  /** The cuts in place (partition). */
  private cuts: Cut[] = []

  private constructor (names: WorldNames, opts: WorldOptions, unhook: () => void) {
    this.names = names
    this.nodes = opts.nodes
    this.hasController = opts.controller === true
    this.log = opts.log
    this.concurrency = opts.concurrency ?? 4
    this.unhook = unhook
  }

  /** Builds a world with a fresh prefix. On failure half-way, removes what it made and rethrows. */
  static async create (opts: WorldOptions): Promise<NetnsWorld> {
    if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > MAX_NODES) throw new Error(`nodes must be 1..${MAX_NODES}`)
    const log = opts.log.child({ component: 'netns' })
    // One wireguard-go per node is what worlds are for; make sure they can all start.
    ensureInotifyInstances(opts.nodes + (opts.controller === true ? 1 : 0), log)
    ensureNeighbourTable(opts.nodes, log)
    const names = new WorldNames(newPrefix())
    if (opts.cleanStale !== false) await cleanupStale(log, names.prefix)
    // Owner record first, made atomically, so a concurrent stale cleanup never mistakes this run for debris.
    const tmp = `${RUN_ROOT}/.tmp-${names.prefix}`
    mkdirSync(`${tmp}/pids`, { recursive: true })
    writeRecord(`${tmp}/owner`, recordOf(process.pid)!)
    renameSync(tmp, names.runDir)
    const unhook = opts.handleSignals === false ? () => {} : hookSignals(names.prefix, log)
    const world = new NetnsWorld(names, opts, unhook)
    if (opts.flatScheduling === true) world.autogroup = flattenScheduling(names.runDir, log)
    const t0 = Date.now()
    try {
      await world.build()
    } catch (err) {
      await world.destroy()
      throw err
    }
    log.info({ event: 'sim.netns.up', prefix: names.prefix, nodes: opts.nodes, ms: Date.now() - t0 }, 'netns world up')
    return world
  }

  private async build (): Promise<void> {
    const n = this.names
    const idx = Array.from({ length: this.nodes }, (_, i) => i)
    const all = [n.bridgeNs, ...(this.hasController ? [n.controllerNs] : []), ...idx.map(i => n.nodeNs(i))]
    // Batches scale with the node count; allow far more than the ~20 ms per namespace measured under load.
    const timeoutMs = 30_000 + 100 * this.nodes
    await run(['ip', '-batch', '-'], { input: all.map(ns => `netns add ${ns}\n`).join(''), timeoutMs })
    // Both veth ends are created from the bridge namespace, the node end straight into its namespace.
    const br = [`link add ${n.bridge} type bridge`, `link set ${n.bridge} up`, 'link set lo up']
    const wire = (port: string, eth: string, ns: string): void => {
      br.push(`link add ${port} type veth peer name ${eth} netns ${ns}`, `link set ${port} master ${n.bridge}`, `link set ${port} up`)
    }
    if (this.hasController) wire(n.controllerPort, n.controllerEth, n.controllerNs)
    for (const i of idx) wire(n.nodePort(i), n.nodeEth(i), n.nodeNs(i))
    await run(ipCmd(n.bridgeNs, '-batch', '-'), { input: br.join('\n') + '\n', timeoutMs })
    const configure = async (ns: string, eth: string, addr: string): Promise<void> => {
      await run(ipCmd(ns, '-batch', '-'), { input: `link set lo up\naddr add ${addr}/${UNDERLAY_PREFIX_LEN} dev ${eth}\nlink set ${eth} up\n` })
    }
    if (this.hasController) await configure(n.controllerNs, n.controllerEth, n.controllerAddr)
    await pool(idx, this.concurrency, async i => await configure(n.nodeNs(i), n.nodeEth(i), n.nodeAddr(i)))
    // A node's "host resolver" is the controller's address (where a test may run an upstream), or its own
    // loopback: whatever a daemon forwards stays inside the world, never the machine's own resolvers.
    const resolver = `nameserver ${this.hasController ? n.controllerAddr : '127.0.0.1'}\n`
    for (const i of idx) this.writeEtc(n.nodeNs(i), 'resolv.conf', resolver)
  }

  /**
   * Writes what namespace `ns` of this world sees as /etc/`name`: `ip netns exec` bind-mounts /etc/netns/NS/NAME
   * over it, so code inside can write that file for real without touching the host's. Removed with the world
   * (cleanup.ts), also after a crash. Returns the path on the host.
   */
  writeEtc (ns: string, name: string, text: string): string {
    if (NETNS_RE.exec(ns)?.[1] !== this.names.prefix) throw new Error(`namespace "${ns}" is not this world's`)
    mkdirSync(`${NETNS_ETC}/${ns}`, { recursive: true })
    const path = `${NETNS_ETC}/${ns}/${name}`
    writeFileSync(path, text, { mode: 0o644 })
    return path
  }

  /**
   * Adds LAN `k`: a namespace with a bridge holding `host` (e.g. 192.0.2.10/24, the LAN's one host, which answers
   * pings), and a leg into it from each of `routers`, which gets `routerAddr(i)` on the LAN. The LAN has no
   * route to anything else: what reaches it from the mesh comes through a router.
   */
  async addLan (k: number, host: string, routers: ReadonlyArray<{ node: number, addr: string }>): Promise<void> {
    const n = this.names
    const ns = n.lanNs(k)
    await run(['ip', 'netns', 'add', ns])
    const lan = ['link set lo up', `link add ${n.lanBridge(k)} type bridge`, `addr add ${host} dev ${n.lanBridge(k)}`, `link set ${n.lanBridge(k)} up`]
    for (const r of routers) {
      lan.push(`link add ${n.lanPort(r.node)} type veth peer name ${n.nodeLan(r.node)} netns ${n.nodeNs(r.node)}`,
        `link set ${n.lanPort(r.node)} master ${n.lanBridge(k)}`, `link set ${n.lanPort(r.node)} up`)
    }
    await run(ipCmd(ns, '-batch', '-'), { input: lan.join('\n') + '\n' })
    for (const r of routers) {
      await run(ipCmd(n.nodeNs(r.node), '-batch', '-'), { input: `addr add ${r.addr} dev ${n.nodeLan(r.node)}\nlink set ${n.nodeLan(r.node)} up\n` })
    }
  }

  /** Runs `argv` to completion inside namespace `ns`. */
  async exec (ns: string, argv: readonly string[], opts?: RunOptions): Promise<RunResult> {
    return await run(inNetns(ns, argv), opts)
  }

  /**
   * Starts a long-running `argv` inside `ns` and records its pid, so that destroy() (or a later run's stale
   * cleanup) ends it. `ip netns exec` execs the command, so the pid is the command's own.
   */
  spawn (ns: string, argv: readonly string[], opts: { env?: NodeJS.ProcessEnv, stdio?: StdioOptions, name?: string } = {}): ChildProcess {
    const full = inNetns(ns, argv)
    const child = spawn(full[0]!, full.slice(1), { env: opts.env ?? process.env, stdio: opts.stdio ?? 'ignore' })
    if (child.pid !== undefined) {
      const rec = recordOf(child.pid)
      if (rec !== null) writeRecord(`${this.names.pidDir}/${opts.name ?? 'proc'}-${child.pid}.json`, rec)
    }
    return child
  }

  /** Opens node `i`'s WireGuard interface (name from WorldNames.nodeWg) inside its namespace, recording wireguard-go's pid. */
  async openWireguard (i: number, cfg: { privateKey: string, listenPort: number, driver?: DriverChoice }): Promise<WireGuardDevice> {
    const ifname = this.names.nodeWg(i)
    return await openDevice({
      driver: cfg.driver ?? 'userspace',
      ifname,
      privateKey: cfg.privateKey,
      listenPort: cfg.listenPort,
      netns: this.names.nodeNs(i),
      pidFile: `${this.names.pidDir}/wg-${ifname}.pid`,
      log: this.log
    })
  }

  /** Sets `percent`% loss on several nodes, a few at a time (see partition). */
  async setLossOn (nodes: readonly number[], percent: number): Promise<void> {
    await pool(nodes, this.concurrency, async i => await this.setLoss(i, percent))
  }

  /** Drops `percent`% of node `i`'s underlay packets, in and out, at random; 0 undoes it. */
  async setLoss (i: number, percent: number): Promise<void> {
    await setLoss(this.names.nodeNs(i), this.names.nodeEth(i), percent)
  }

  /**
   * Cuts the underlay between node groups `a` and `b`, both ways, at one instant (nft.ts, cutScript); cuts
   * already in place stay.
   */
  async partition (a: readonly number[], b: readonly number[]): Promise<void> {
    const addrs = (g: readonly number[]): string[] => g.map(i => this.names.nodeAddr(i))
    const cuts: Cut[] = [...this.cuts, [addrs(a), addrs(b)]]
    await setCuts(this.names.bridgeNs, cuts)
    this.cuts = cuts
  }

  /** Removes every cut at one instant (loss rules stay). */
  async heal (): Promise<void> {
    await setCuts(this.names.bridgeNs, [])
    this.cuts = []
  }

  /** Removes the whole world; idempotent. */
  async destroy (): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    this.unhook()
    await destroyRun(this.names.prefix, this.log)
  }
}

/** Installs SIGINT/SIGTERM/exit handlers that remove run `prefix`; returns the function that removes them. */
function hookSignals (prefix: string, log: Logger): () => void {
  const onExit = (): void => destroyRunSync(prefix, log)
  const onSignal = (signal: NodeJS.Signals): void => {
    unhook()
    destroyRun(prefix, log).catch(() => destroyRunSync(prefix, log)).finally(() => {
      // Re-raise so the process ends the way the signal meant, with no handler of ours in the way.
      process.kill(process.pid, signal)
    })
  }
  const unhook = (): void => {
    process.off('exit', onExit)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  process.on('exit', onExit)
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return unhook
}
