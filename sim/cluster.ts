/**
 * A real mesh on one machine, for end-to-end tests and `weft sim run`: a NetnsWorld (underlay bridge, controller namespace, node
 * namespaces), a real `weft controller` in the controller namespace, and real `weft daemon` processes in the
 * node namespaces, each starting its own wireguard-go. Everything it starts is recorded and removed by
 * `destroy()` (and by the world's signal and exit hooks).
 */
import { openSync, closeSync, readFileSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { setPriority, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { BurstResult } from './register-burst.js'
import { NetnsWorld } from './netns/world.js'
import { leadsCluster, STATUS_PATH } from './etcd.js'
import { systemClock } from '../lib/clock.js'
import { askLocal, SOCKET_NAME } from '../lib/daemon/control-socket.js'
import type { DaemonStatus } from '../lib/daemon/status.js'
import { silentLogger, type Logger } from '../lib/log.js'
import { wireguardPidsByIface } from './run/procscan.js'
import { waitFor } from './wait.js'

/** The compiled CLI, run with this Node. */
export const WEFT = fileURLToPath(new URL('../cmd/weft.js', import.meta.url))
const BURST = fileURLToPath(new URL('./register-burst.js', import.meta.url))
const CONTROLLER_PORT = 8080
/** etcd's client port on the controller namespace's loopback (its peer port is the next one). */
const ETCD_PORT = 2379
/**
 * Bound on one admin CLI call (lib/daemon/wg/exec.ts's default is 10 s). In an N=200 controller-outage run the
 * restarted controller was listening with an empty accept queue, but `weft nodes list` needed 16 s on the
 * saturated host, so every readiness check was killed at 10 s and the run failed after 120 s.
 */
const ADMIN_TIMEOUT_MS = 60_000

export { waitFor }

/** Options of Mesh.create; every field is optional so e2e tests can call `Mesh.create(n)`. */
export interface MeshOptions {
  /** Logger for the netns world (sysctl changes, teardown). Default: silent, as tests only read process logs. */
  log?: Logger
  /** V8 flags put before the CLI for every daemon process (e.g. heap limits). Default: none. */
  daemonNodeFlags?: string[]
  /** Extra `weft daemon` flags for every start (e.g. --swim-preset lan). Default: none. */
  daemonArgs?: string[]
  /** Extra environment for every daemon, inherited by the wireguard-go it starts (e.g. GOMAXPROCS). Default: none. */
  daemonEnv?: Record<string, string>
  /**
   * CPU niceness of every daemon, inherited by the wireguard-go it starts. Default: 0. The sim raises it on a
   * dense host so that the controller and the harness, which in a real fleet have machines of their own, are
   * not starved by hundreds of nodes (sim/run/density.ts).
   */
  daemonNice?: number
  /**
   * Turn the kernel's autogroup off while the mesh lives (sim/netns/autogroup.ts): with it on, each
   * wireguard-go (in a session of its own) weighs as much as all daemons together, and the niceness above
   * does not order them. Default: false.
   */
  flatScheduling?: boolean
  /** CPU niceness of the controller (negative = ahead of the harness too). Default: 0. */
  controllerNice?: number
  /** Daemons' --log-level. Default: 'debug', so tests can read every event. */
  daemonLogLevel?: string
  /** Controller's --log-level. Default: 'debug'. */
  controllerLogLevel?: string
  /**
   * Keep the controllers' store in an etcd cluster of this many members, run in the controller namespace (on its
   * loopback, client ports 2379, 2381, ...); every controller runs with `--store etcd`. Default: 0 (LevelDB in
   * the controller's data directory).
   */
  etcdMembers?: number
  /**
   * Controllers in the controller namespace, on ports 8080, 8081, ...; more than one needs `etcd`, and all of
   * them serve (docs/store.md, "etcd"). Controller 0 starts with the mesh; the others with startController(k).
   * Daemon i is given them all, starting at controller i mod K (controllerUrlsFor), so the daemons spread
   * over the controllers. Default: 1.
   */
  controllers?: number
  /** Prefix of the temp directory holding logs, state and controller data. Default: 'weft-e2e-'. */
  tempPrefix?: string
  /** How long (re)starting the controller may take before it counts as failed, in ms. Default: 20 s, ample on a quiet machine. */
  controllerStartTimeoutMs?: number
}

/** A running mesh: controller and daemons as real processes in their namespaces. */
export class Mesh {
  readonly daemons = new Map<number, ChildProcess>()
  /** Running controllers by index (controller 0 is `controller`). */
  readonly controllers = new Map<number, ChildProcess>()
  /** Running etcd members by index. */
  private readonly etcd = new Map<number, ChildProcess>()
  private tokenValue: string | null = null

  private constructor (readonly world: NetnsWorld, readonly dir: string, private readonly opts: MeshOptions = {}) {}

  /** Builds the namespaces and starts the controller. */
  static async create (nodes: number, opts: MeshOptions = {}): Promise<Mesh> {
    const dir = await mkdtemp(join(tmpdir(), opts.tempPrefix ?? 'weft-e2e-'))
    const world = await NetnsWorld.create({ nodes, controller: true, flatScheduling: opts.flatScheduling, log: opts.log ?? silentLogger() })
    const mesh = new Mesh(world, dir, opts)
    try {
      for (let m = 0; m < (opts.etcdMembers ?? 0); m++) mesh.startEtcdMember(m)
      for (let m = 0; m < (opts.etcdMembers ?? 0); m++) await mesh.etcdHealthy(m)
      await mesh.startController()
    } catch (err) {
      await mesh.destroy()
      throw err
    }
    return mesh
  }

  get controllerUrl (): string { return this.controllerUrlOf(0) }
  /** Every controller's URL, as daemons are given them. */
  get controllerUrls (): string[] { return Array.from({ length: this.opts.controllers ?? 1 }, (_, k) => this.controllerUrlOf(k)) }
  /** Daemon i's `--controller` list: every controller, starting at controller i mod K, so daemons spread over them. */
  controllerUrlsFor (i: number): string[] {
    const all = this.controllerUrls
    const k = i % all.length
    return [...all.slice(k), ...all.slice(0, k)]
  }

  /** Controller k's URL on the underlay. */
  controllerUrlOf (k: number): string { return `http://${this.world.names.controllerAddr}:${CONTROLLER_PORT + k}` }
  /** The controller's data directory (`--data`): its keys and database, what an operator backs up and restores. */
  get controllerDataDir (): string { return this.controllerDataDirOf(0) }
  controllerDataDirOf (k: number): string { return join(this.dir, k === 0 ? 'controller' : `controller-${k}`) }
  /** Controller 0's process, or null while it is stopped. */
  get controller (): ChildProcess | null { return this.controllers.get(0) ?? null }
  stateDir (i: number): string { return join(this.dir, `n${i}`) }
  logFile (name: string): string { return join(this.dir, `${name}.log`) }
  ifname (i: number): string { return this.world.names.nodeWg(i) }
  ns (i: number): string { return this.world.names.nodeNs(i) }

  /**
   * Runs the CLI inside the controller namespace with the admin key; returns stdout. An operator runs it from a
   * machine of their own: here it runs at the controller's niceness and may take up to ADMIN_TIMEOUT_MS, since
   * on a saturated dense host loading Node alone took 16 s of wall time for 0.5 s of CPU.
   */
  async admin (...args: string[]): Promise<string> {
    return await this.adminOf(0, ...args)
  }

  /** `admin`, through controller `k`. */
  async adminOf (k: number, ...args: string[]): Promise<string> {
    const nice = this.opts.controllerNice ?? 0
    const r = await this.world.exec(this.world.names.controllerNs, [...(nice === 0 ? [] : ['nice', '-n', String(nice)]), process.execPath, WEFT, ...args,
      '--controller', `http://127.0.0.1:${CONTROLLER_PORT + k}`, '--admin-key', join(this.controllerDataDirOf(k), 'admin.key')], { timeoutMs: ADMIN_TIMEOUT_MS })
    return r.stdout
  }

  /** Runs a node-local command of the CLI (`weft set`, `weft status`) against node `i`'s daemon, from its namespace; returns stdout. */
  async local (i: number, ...args: string[]): Promise<string> {
    const r = await this.world.exec(this.ns(i), [process.execPath, WEFT, ...args, '--state', this.stateDir(i)], { timeoutMs: ADMIN_TIMEOUT_MS })
    return r.stdout
  }

  /**
   * Starts (or restarts) controller `k` on its data directory and, unless `wait` is false, waits until it
   * answers. A controller other than 0 gets controller 0's keys first. `etcdEndpoints` gives it only some of
   * the members (a controller that can reach only one of them, to cut it off by stopping that one).
   */
  async startController (k = 0, opts: { wait?: boolean, etcdEndpoints?: string[] } = {}): Promise<void> {
    if (k > 0) {
      await mkdir(this.controllerDataDirOf(k), { recursive: true, mode: 0o700 })
      for (const f of ['controller.key', 'admin.key']) await copyFile(join(this.controllerDataDir, f), join(this.controllerDataDirOf(k), f))
    }
    const endpoints = opts.etcdEndpoints ?? this.etcdEndpoints
    const store = (this.opts.etcdMembers ?? 0) > 0 ? ['--store', 'etcd', '--etcd-endpoints', endpoints.join(',')] : []
    const c = this.spawnLogged(this.world.names.controllerNs, k === 0 ? 'controller' : `controller-${k}`,
      ['controller', '--data', this.controllerDataDirOf(k), '--listen', `0.0.0.0:${CONTROLLER_PORT + k}`, ...store,
        '--log-level', this.opts.controllerLogLevel ?? 'debug'])
    this.controllers.set(k, c)
    if ((this.opts.controllerNice ?? 0) !== 0 && c.pid !== undefined) {
      try { setPriority(c.pid, this.opts.controllerNice!) } catch { /* it already exited; the wait below reports it */ }
    }
    if (opts.wait === false) return
    await waitFor(`controller ${k} to answer`, async () => {
      try {
        await this.world.exec(this.world.names.controllerNs, ['ping', '-c1', '-W1', '127.0.0.1'])
        await this.adminOf(k, 'nodes', 'list', '--json')
        return true
      } catch { return false }
    }, this.opts.controllerStartTimeoutMs ?? 20_000, 200)
  }

  /** Stops controller `k` with `signal` and waits for it to exit. */
  async stopController (signal: NodeJS.Signals = 'SIGTERM', k = 0): Promise<void> {
    const c = this.controllers.get(k)
    if (c === undefined) return
    this.controllers.delete(k)
    await this.stop(c, signal)
  }

  /** Client URLs of the etcd members (on the controller namespace's loopback). */
  get etcdEndpoints (): string[] {
    return Array.from({ length: this.opts.etcdMembers ?? 0 }, (_, m) => `http://127.0.0.1:${ETCD_PORT + 2 * m}`)
  }

  /** Starts (or restarts, on its data directory) etcd member `m` of the cluster; etcdHealthy waits for it. */
  startEtcdMember (m: number): void {
    const peer = (k: number): string => `http://127.0.0.1:${ETCD_PORT + 2 * k + 1}`
    const members = this.opts.etcdMembers ?? 0
    const fd = openSync(this.logFile(`etcd-${m}`), 'a')
    try {
      this.etcd.set(m, this.world.spawn(this.world.names.controllerNs, ['etcd', '--name', `m${m}`, '--data-dir', join(this.dir, `etcd-${m}`),
        '--listen-client-urls', this.etcdEndpoints[m]!, '--advertise-client-urls', this.etcdEndpoints[m]!,
        '--listen-peer-urls', peer(m), '--initial-advertise-peer-urls', peer(m),
        '--initial-cluster', Array.from({ length: members }, (_, k) => `m${k}=${peer(k)}`).join(','), '--initial-cluster-token', this.world.names.prefix,
        '--logger', 'zap', '--log-level', 'warn'], { stdio: ['ignore', fd, fd], name: `etcd-${m}` }))
    } finally {
      closeSync(fd)
    }
  }

  /** Waits (bounded) until etcd member `m` reports itself healthy. */
  async etcdHealthy (m: number): Promise<void> {
    await waitFor(`etcd member ${m} to be healthy`, async () => {
      try { return JSON.parse(await this.httpGet(`${this.etcdEndpoints[m]!}/health`)).health === 'true' } catch { return false }
    }, 30_000, 200)
  }

  /** Kills etcd member `m` (SIGKILL: a crash). */
  async killEtcdMember (m: number): Promise<void> {
    const c = this.etcd.get(m)
    this.etcd.delete(m)
    if (c !== undefined) await this.stop(c, 'SIGKILL')
  }

  /** The index of the etcd member that leads the cluster now, or null when none answers. */
  async etcdLeader (): Promise<number | null> {
    const script = 'fetch(process.argv[1], { method: "POST", body: "{}" }).then(r => r.json()).then(j => process.stdout.write(JSON.stringify(j)))'
    for (const m of this.etcd.keys()) {
      try {
        const status = (await this.world.exec(this.world.names.controllerNs, [process.execPath, '-e', script,
          `${this.etcdEndpoints[m]!}${STATUS_PATH}`], { timeoutMs: 10_000 })).stdout
        if (leadsCluster(JSON.parse(status))) return m
      } catch { /* not answering */ }
    }
    return null
  }

  /** A reusable join token (made once per mesh). */
  async token (): Promise<string> {
    this.tokenValue ??= (await this.admin('token', 'create', '--reusable', '--ttl', '1h')).trim()
    return this.tokenValue
  }

  /**
   * A burst of `count` registrations of fresh keys through controllers `via` (indexes), `concurrency` at a
   * time (default 8), with the mesh's reusable token or `token`, run in the controller namespace
   * (sim/register-burst.ts); resolves with each key's outcome. `onAck` sees the count of acknowledged ones as
   * each comes, e.g. to kill something mid-burst.
   */
  async registerBurst (via: number[], count: number,
    o: { concurrency?: number, token?: string, onAck?: (n: number) => void } = {}): Promise<BurstResult[]> {
    const argv = [process.execPath, BURST, '--controllers', via.map(k => this.controllerUrlOf(k)).join(','),
      '--token', o.token ?? await this.token(), '--count', String(count), '--concurrency', String(o.concurrency ?? 8)]
    const child = this.world.spawn(this.world.names.controllerNs, argv, { stdio: ['ignore', 'pipe', 'pipe'], name: 'burst' })
    const out: BurstResult[] = []
    let buf = ''
    let err = ''
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString('utf8')
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        const r = JSON.parse(buf.slice(0, i)) as BurstResult
        buf = buf.slice(i + 1)
        out.push(r)
        if (r.ok) o.onAck?.(out.filter(x => x.ok).length)
      }
    })
    child.stderr!.on('data', (d: Buffer) => { err += d.toString('utf8') })
    const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
    if (code !== 0) throw new Error(`register-burst exited with ${String(code)}: ${err.trim()}`)
    return out
  }

  /**
   * Starts node `i`'s daemon, with the mesh's join token unless `join` is false (a service unit passes it on every start),
   * from this build or from `weft` (the weft.js of another build: an installed package, say).
   */
  async startDaemon (i: number, opts: { join?: boolean, extra?: string[], nice?: number, weft?: string } = {}): Promise<ChildProcess> {
    const args = ['daemon', '--controller', this.controllerUrlsFor(i).join(','), '--state', this.stateDir(i), '--interface', this.ifname(i),
      '--hostname', `node-${i}`, '--log-level', this.opts.daemonLogLevel ?? 'debug', ...(this.opts.daemonArgs ?? []), ...(opts.extra ?? [])]
    if (opts.join !== false) args.push('--join-token', await this.token())
    const child = this.spawnLogged(this.ns(i), `n${i}`, args, this.opts.daemonNodeFlags, this.opts.daemonEnv, opts.weft)
    // Set before the daemon gets far enough to start its wireguard-go, which inherits it.
    const nice = opts.nice ?? this.opts.daemonNice ?? 0
    if (nice !== 0 && child.pid !== undefined) {
      try { setPriority(child.pid, nice) } catch { /* it already exited; its exit is what the caller sees */ }
    }
    this.daemons.set(i, child)
    return child
  }

  /** Sets the niceness of the daemons of `nodes` and of their wireguard-go (those running now), with one /proc scan. */
  renice (nodes: readonly number[], nice: number): void {
    const wg = wireguardPidsByIface(new Set(nodes.map(i => this.ifname(i))))
    for (const i of nodes) {
      const pid = this.daemons.get(i)?.pid
      for (const p of [...(pid === undefined ? [] : [pid]), ...(wg.get(this.ifname(i)) ?? [])]) {
        try { setPriority(p, nice) } catch { /* gone */ }
      }
    }
  }

  /** Stops node `i`'s daemon with `signal` (SIGKILL = crash) and waits for it to exit. */
  async stopDaemon (i: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const c = this.daemons.get(i)
    if (c === undefined) return
    this.daemons.delete(i)
    await this.stop(c, signal)
  }

  /** Pids of the wireguard-go serving node `i`'s interface (empty when none runs; sim/run/procscan.ts). */
  wireguardPids (i: number): number[] {
    return wireguardPidsByIface(new Set([this.ifname(i)])).get(this.ifname(i)) ?? []
  }

  /** Pids of every running daemon. */
  daemonPids (): number[] {
    return [...this.daemons.values()].map(c => c.pid).filter((p): p is number => p !== undefined)
  }

  /** Pids of every wireguard-go serving one of this mesh's interfaces (a synchronous /proc scan, sim/run/procscan.ts). */
  allWireguardPids (): number[] {
    const names = new Set(Array.from({ length: this.world.nodes }, (_, i) => this.ifname(i)))
    return [...wireguardPidsByIface(names).values()].flat()
  }

  /** Crashes node `i`: SIGKILL to its daemon and its wireguard-go, as if the host lost power. */
  async crash (i: number): Promise<void> {
    const pids = this.wireguardPids(i)
    await this.stopDaemon(i, 'SIGKILL')
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ } }
  }

  /** Node `i` leaves gracefully (`weft leave`: tells SWIM and the controller, removes its interface) and its daemon exits. */
  async leave (i: number): Promise<void> {
    const c = this.daemons.get(i)
    await this.world.exec(this.ns(i), [process.execPath, WEFT, 'leave', '--state', this.stateDir(i)], { timeoutMs: 40_000 })
    if (c !== undefined) {
      this.daemons.delete(i)
      await this.stop(c, 'SIGTERM')
    }
  }

  /** Node `i`'s status through its local socket (the socket file is reachable from any namespace). */
  async status (i: number): Promise<DaemonStatus> {
    return await askLocal<DaemonStatus>(join(this.stateDir(i), SOCKET_NAME), { cmd: 'status' }, systemClock, 5000)
  }

  /** Node `i`'s status, or null while its daemon is not answering yet. */
  async tryStatus (i: number): Promise<DaemonStatus | null> {
    try { return await this.status(i) } catch { return null }
  }

  /** Public keys of node `i`'s WireGuard peers, read with `wg` from outside the daemon. */
  async wgPeers (i: number): Promise<string[]> {
    try {
      const out = (await this.world.exec(this.ns(i), ['wg', 'show', this.ifname(i), 'peers'])).stdout
      return out.split('\n').filter(l => l.trim() !== '')
    } catch { return [] }
  }

  /** True when one ICMP echo from node `i` to `ip` comes back within a second. */
  async ping (i: number, ip: string): Promise<boolean> {
    try {
      await this.world.exec(this.ns(i), ['ping', '-c1', '-W1', '-q', ip])
      return true
    } catch { return false }
  }

  /**
   * GETs `url` from inside namespace `ns` (default: the controller's, on the underlay, where a monitoring host
   * would scrape from) and returns the body; rejects on a refused connection or a non-2xx answer.
   */
  async httpGet (url: string, ns = this.world.names.controllerNs): Promise<string> {
    const script = 'fetch(process.argv[1]).then(async r => { process.stdout.write(await r.text()); if (!r.ok) process.exitCode = 1 }, e => { ' +
      'process.stderr.write(String(e.cause ?? e)); process.exitCode = 1 })'
    return (await this.world.exec(ns, [process.execPath, '-e', script, url], { timeoutMs: 20_000 })).stdout
  }

  /** Lines of a process's JSON log that carry `event`. */
  events (name: string, event: string): Array<Record<string, unknown>> {
    let text = ''
    try { text = readFileSync(this.logFile(name), 'utf8') } catch { return [] }
    const out: Array<Record<string, unknown>> = []
    for (const line of text.split('\n')) {
      if (!line.includes(event)) continue
      try {
        const v = JSON.parse(line) as Record<string, unknown>
        if (v.event === event) out.push(v)
      } catch { /* a partly written last line */ }
    }
    return out
  }

  /**
   * What each node thinks and the last lines of its log that matter, for a failing test to print: controller
   * link, peers with SWIM state and WireGuard presence, and the recent swim/wg/control events.
   */
  async diagnose (lines = 25): Promise<string> {
    const out: string[] = []
    const names = [...this.daemons.keys()].sort((a, b) => a - b)
    for (const i of names) {
      const s = await this.tryStatus(i)
      out.push(s === null
        ? `node ${i}: not answering`
        : `node ${i} ${s.node.id} ${s.node.meshIp} controller=${s.controller.state} netmap=${s.netmap?.version ?? '-'} error=${s.lastError ?? '-'} peers=` +
          s.peers.map(p => `${p.meshIp}:${p.swim ?? '-'}/${p.inWireGuard ? 'wg' : 'no-wg'}`).join(','))
      let text = ''
      try { text = readFileSync(this.logFile(`n${i}`), 'utf8') } catch { /* no log yet */ }
      const picked = text.split('\n').filter(l => /"event":"(swim\.|wg\.|control\.|netmap\.|daemon\.)/.test(l)).slice(-lines)
      for (const l of picked) out.push(`  ${l}`)
    }
    return out.join('\n')
  }

  /** Stops every process and removes the world, and the temp directory unless `keepDir` (logs kept for reading). */
  async destroy (opts: { keepDir?: boolean } = {}): Promise<void> {
    await Promise.all([...this.daemons.keys()].map(async i => await this.stopDaemon(i, 'SIGKILL')))
    for (const k of [...this.controllers.keys()]) await this.stopController('SIGKILL', k)
    for (const m of [...this.etcd.keys()]) await this.killEtcdMember(m)
    await this.world.destroy()
    if (opts.keepDir !== true) await rm(this.dir, { recursive: true, force: true })
  }

  private spawnLogged (ns: string, name: string, args: string[], nodeFlags: string[] = [], env?: Record<string, string>, weft = WEFT): ChildProcess {
    const fd = openSync(this.logFile(name), 'a')
    try {
      return this.world.spawn(ns, [process.execPath, ...nodeFlags, weft, ...args], {
        stdio: ['ignore', fd, fd],
        name,
        env: env === undefined ? undefined : { ...process.env, ...env }
      })
    } finally {
      closeSync(fd)
    }
  }

  private async stop (c: ChildProcess, signal: NodeJS.Signals): Promise<void> {
    if (c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise<void>(resolve => c.once('exit', () => resolve()))
    c.kill(signal)
    await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 10_000))])
    if (c.exitCode === null && c.signalCode === null) { c.kill('SIGKILL'); await exited }
  }
}
