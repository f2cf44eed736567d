/**
 * How the sim's daemons are tuned for the host they share. A real fleet gives every node its own CPU; here
 * all of them share this machine's cores, and two per-node costs grow with the number of nodes on one host:
 *
 * - SWIM probes: Weft's `mesh` preset sends 5 probes a second. Measured idle at N=20 (`node
 *   dist/bench/mesh-up.js 20 --idle 30`): daemon 0.77 % + wireguard-go 0.83 % of a core per node with
 *   `mesh`, 0.30 % + 0.23 % with `lan` (1 probe a second). 200 nodes at 1.6 % need 3.2 cores.
 * - WireGuard keepalives: every node sends one per peer per keepalive period when the tunnel is otherwise
 *   quiet, N(N-1)/25 packets a second at the default 25 s: 1600 a second at N=200, each costing two
 *   wireguard-go wake-ups. Nothing here needs a NAT mapping kept open.
 *
 * - wireguard-go's Go scheduler: with GOMAXPROCS = cores, an idle wireguard-go spins a second thread looking
 *   for work at every wake-up. Measured idle at N=50 with lan and 120 s: 0.27 % per wireguard-go, 0.10 %
 *   with GOMAXPROCS=1 (daemon 0.30 % and 0.27 %). One core is plenty for a tunnel's worth of SWIM traffic.
 *
 * Above DENSE_NODES_PER_CORE nodes per core, the sim therefore runs its daemons with `--swim-preset lan
 * --keepalive 120`, GOMAXPROCS=1 in their environment and at nice DENSE_NICE (both inherited by the
 * wireguard-go they start), and the report says so (params.daemonArgs, params.daemonEnv, params.daemonNice).
 * Figures from such runs are `lan`-preset figures: detection takes about 5x longer than with `mesh`
 * (docs/swim.md).
 */

import { DEFAULTS } from '../../lib/daemon/config.js'

/** Nodes per core up to which the daemons run Weft's defaults. At 25 (N=50 here) the mesh idles at about 0.8 of a core. */
export const DENSE_NODES_PER_CORE = 25

/** SWIM preset of the daemons on a dense host: one probe a second instead of five (see above). */
export const DENSE_SWIM_PRESET = 'lan'

/** WireGuard keepalive of the daemons on a dense host, in seconds: N(N-1)/120 idle packets a second instead of N(N-1)/25. */
export const DENSE_KEEPALIVE_SECONDS = 120

/** Daemon tuning for one run. */
export interface DaemonProfile {
  swimPreset: string
  keepaliveSeconds: number
  /** Environment for every daemon (and its wireguard-go). */
  env: Record<string, string>
  /** CPU niceness of every daemon and its wireguard-go (0 = the controller's and the harness's). */
  nice: number
  /** Whether the dense-host values were chosen (rather than Weft's defaults). */
  dense: boolean
}

/** The profile for `nodes` daemons on `cores` cores; `override` fields win. */
export function densityProfile (nodes: number, cores: number, override: Partial<Pick<DaemonProfile, 'swimPreset' | 'keepaliveSeconds'>> = {}): DaemonProfile {
  const dense = nodes > DENSE_NODES_PER_CORE * Math.max(1, cores)
  return {
    swimPreset: override.swimPreset ?? (dense ? DENSE_SWIM_PRESET : DEFAULTS.swimPreset),
    keepaliveSeconds: override.keepaliveSeconds ?? (dense ? DENSE_KEEPALIVE_SECONDS : DEFAULTS.keepaliveSeconds),
    env: dense ? { GOMAXPROCS: '1' } : {},
    nice: dense ? DENSE_NICE : 0,
    dense
  }
}

/**
 * Niceness of the daemons on a dense host. In a fleet the controller has a machine of its own; here it is one
 * process among N daemons and N wireguard-go under the kernel's fair scheduler, so at N=200 it got about 1/400
 * of the CPU and stopped answering: in one N=200 join (seed 1) 70 daemons never registered (4121 timed-out
 * `GET /v1/info`) and the controller's late view of heartbeats flipped nodes between online and control-lost
 * 2743 times, each flip a netmap version for every daemon. At nice 10 a daemon weighs about 1/9 of a nice-0
 * process, so the controller and the harness (observer, pings) get the CPU they ask for; the daemons share the rest
 * as nodes of one fleet would share a data centre. These weights hold only because the run turns the kernel's
 * autogroup off (sim/netns/autogroup.ts); with it on, each wireguard-go is a group of its own.
 */
export const DENSE_NICE = 10

/**
 * Niceness of a daemon while it starts (a join batch, a restart, a rejoin), until the mesh has it everywhere:
 * the harness's own. A node of a fleet starts on a machine of its own; here, at nice 10 among a hundred busy
 * nice-10 daemons, a new or restarted daemon takes tens of seconds to configure its peers, during which the mesh
 * cannot reach it (docs/sim.md, "Many nodes on few cores").
 */
export const JOIN_NICE = 0

/** Daemon flags, environment and niceness as one line for people: `--swim-preset lan --keepalive 120 GOMAXPROCS=1 nice 10`. */
export function describeDaemonRun (args: readonly string[], env: Readonly<Record<string, string>>, nice = 0): string {
  return [...args, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...(nice !== 0 ? [`nice ${nice}`] : [])].join(' ')
}

/** The `weft daemon` flags of a profile. */
export function profileArgs (p: DaemonProfile): string[] {
  return ['--swim-preset', p.swimPreset, '--keepalive', String(p.keepaliveSeconds)]
}

/**
 * Niceness of the controller on a dense host. Nice 10 for the daemons was not enough once all of them were
 * busy at once: in an N=200 controller-outage run, the restarted controller got 2 % of a core as one nice-0
 * process among 200 runnable nice-10 daemons (weights 1024 against 200 x 110), left 364 connections in its
 * accept queue and did not answer the harness within 120 s. In a fleet the controller has a machine of its
 * own; at -10 (weight 9548) it gets about a third of the CPU when every daemon wants some.
 */
export const DENSE_CONTROLLER_NICE = -10
