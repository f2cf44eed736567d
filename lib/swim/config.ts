import { durationMs, intInRange, withDefaults, type ConfigFail } from '../config-check.js'
import { SwimConfigError } from '../errors.js'

/**
 * The one SWIM config. Every duration is in milliseconds and scaled at run time by the Lifeguard local-health
 * multiplier (health score + 1) where noted. Presets below justify each default; `resolve` fills a partial
 * config from DEFAULTS and rejects values and combinations that cannot work.
 */
export interface SwimConfig {
  /**
   * Time between two probes of this node (one member per interval, round-robin). Scaled by local health.
   * Detection time and per-member traffic are both proportional to it.
   */
  probeIntervalMs: number
  /**
   * How long a direct ping waits for its ack before asking relays (ping-req). Scaled by local health.
   * Must exceed the overlay round trip at the 99th percentile, and leave room in the interval for the relays.
   */
  probeTimeoutMs: number
  /** Relays asked to ping a target that did not answer a direct ping (SWIM's k). */
  indirectChecks: number
  /**
   * Lifeguard suspicion scale: min suspicion timeout = suspicionMult * max(1, log10(n)) * probeIntervalMs;
   * the number of independent confirmations that shrink a suspicion to that minimum is suspicionMult - 2.
   */
  suspicionMult: number
  /** Max suspicion timeout (no confirmations) = suspicionMaxTimeoutMult * min suspicion timeout. */
  suspicionMaxTimeoutMult: number
  /** Each update is piggybacked on about retransmitMult * ceil(log10(n + 1)) packets (SWIM's lambda). */
  retransmitMult: number
  /** Time between two gossip rounds that push queued updates to `gossipNodes` random members; 0 disables. */
  gossipIntervalMs: number
  /** Members each gossip round sends to. */
  gossipNodes: number
  /** Lifeguard local-health ceiling: the score runs 0..awarenessMaxMultiplier-1 and timeouts scale by score+1. */
  awarenessMaxMultiplier: number
  /** Time between two re-probes of one member held dead, so a healed partition or a restarted node rejoins. */
  deadProbeIntervalMs: number
  /** Time between two anti-entropy exchanges (a state chunk pushed to one random member, which answers with its own). */
  syncIntervalMs: number
  /**
   * How long after a member appears (setMembers) a failed probe of it accuses no one, unless it acked one of
   * our pings first (lib/swim/grace.ts). Covers the time its tunnel to us takes to come up. 0 disables.
   */
  joinGraceMs: number
  /** Largest SWIM payload sent or accepted, in bytes; 1200 fits one WireGuard packet (MTU 1420 - 20 IPv4 - 8 UDP, with margin for IPv6 - 40). */
  maxPacketBytes: number
}

/**
 * Weft's default: a WireGuard mesh of cloud VMs in one region (overlay RTT well under 50 ms).
 * Tuned with `weft sim virtual` so that at 1000 members a crash is agreed by every live member within 5 s
 * at p99 and 5% packet loss gives no false death (docs/swim.md has the figures).
 */
export function meshConfig (): SwimConfig {
  return {
    // Default: 200 ms. Five probes a second keep the minimum suspicion time (4 * log10(1000) * 200 ms = 2.4 s)
    // well inside the 5 s agreement target at n = 1000 (250 ms measured p99 4.2-4.7 s at 5% loss: too close);
    // a ping and its ack are ~30-60 bytes, so this costs about 1 KiB/s per member.
    probeIntervalMs: 200,
    // Default: 100 ms. Above an in-region RTT with head-room for a busy host, and leaves 100 ms of the
    // interval for the relays' round trips (two hops each way).
    probeTimeoutMs: 100,
    // Default: 3 (memberlist and the SWIM paper). With 10% loss a relay path fails 34% of the time, so three
    // relays all fail in 4% of failed direct pings: a false suspicion per ~1/0.008 probes, each easily refuted.
    indirectChecks: 3,
    // Default: 4 (memberlist). Two confirmations reach the minimum; fewer makes one slow node enough to kill.
    suspicionMult: 4,
    // Default: 6 (memberlist). A lone suspicion waits 14.4 s at n=1000, ample for a refutation to spread.
    suspicionMaxTimeoutMult: 6,
    // Default: 4 (memberlist). 12 sends per update at n=1000: epidemic spread reaches everyone w.h.p.
    retransmitMult: 4,
    // Default: 200 ms, 3 nodes (memberlist LAN). Push gossip is what spreads a death in about a second;
    // piggybacking on probes alone would take one probe interval per hop.
    gossipIntervalMs: 200,
    gossipNodes: 3,
    // Default: 8 (memberlist). A node that misses every ack stretches its timeouts up to 8x before accusing.
    awarenessMaxMultiplier: 8,
    // Default: 5 s. Low rate (one ping per 5 s) yet a healed partition is noticed within seconds.
    deadProbeIntervalMs: 5000,
    // Default: 10 s. Repairs what loss made gossip miss; one chunk (<= 1200 bytes) per 10 s is negligible.
    syncIntervalMs: 10_000,
    // Default: 10 s. A new member's tunnel needs both ends' netmap deltas (well under a second) and a
    // handshake (one round trip, or WireGuard's 5 s retry when the first initiation was lost or crossed):
    // two attempts fit. Without it, each joining node drew a suspicion storm (10,128 swim.suspect events in a
    // 50-node join on one host). Ends at the member's first ack, so detection after that is unchanged.
    joinGraceMs: 10_000,
    // Default: 1200 bytes; see the field.
    maxPacketBytes: 1200
  }
}

/** memberlist-like LAN settings: 1 s probes, for meshes that span regions (RTT up to ~300 ms). */
export function lanConfig (): SwimConfig {
  return {
    ...meshConfig(),
    // Default: 1 s / 500 ms (memberlist DefaultLANConfig): tolerates cross-region round trips; detection
    // then takes ~4x longer (min suspicion 12 s at n = 1000).
    probeIntervalMs: 1000,
    probeTimeoutMs: 500,
    // Default: 30 s: state is exchanged less often because probes are slower too.
    syncIntervalMs: 30_000,
    // Default: 10 s dead re-probe: matches the slower pace.
    deadProbeIntervalMs: 10_000,
    // Default: 30 s. Tunnels across regions, or on a host whose cores many nodes share, take longer to come
    // up: with 200 daemons starting on two cores a new member first answered 13-20 s after it registered.
    joinGraceMs: 30_000
  }
}

/** Loopback or one host (tests, namespaces on one machine): short timeouts, since RTT is microseconds. */
export function localConfig (): SwimConfig {
  return {
    ...meshConfig(),
    // Default: 200 ms / 50 ms: loopback RTT is far below a millisecond even under load.
    probeIntervalMs: 200,
    probeTimeoutMs: 50,
    // Default: 3 (memberlist DefaultLocalConfig): one confirmation reaches the minimum; fast tests.
    suspicionMult: 3,
    gossipIntervalMs: 100,
    deadProbeIntervalMs: 2000,
    syncIntervalMs: 5000
  }
}

/** The name of each preset. */
export type PresetName = 'mesh' | 'lan' | 'local'

/** The presets by name, for `--swim-preset` and `--config` flags. */
export const PRESETS: Readonly<Record<string, () => SwimConfig>> = Object.freeze({ mesh: meshConfig, lan: lanConfig, local: localConfig })

/** Every preset name, in the order flags list them. */
export const PRESET_NAMES: readonly PresetName[] = Object.freeze(['mesh', 'lan', 'local'] as const)

/** The preset a daemon and a simulation run unless told otherwise: `mesh`, one region (see meshConfig). */
export const DEFAULT_PRESET: PresetName = 'mesh'

/** The default of every field: the DEFAULT_PRESET preset. */
export const DEFAULTS: Readonly<SwimConfig> = Object.freeze(meshConfig())

const fail: ConfigFail = message => new SwimConfigError(message)

/**
 * Fills the fields `input` leaves out from DEFAULTS (spread a preset into `input` to start from it), checks
 * each, and returns the complete config, frozen. Throws SwimConfigError naming the first field that cannot
 * work and the range it must be in.
 */
export function resolve (input: Partial<SwimConfig> = {}): Readonly<SwimConfig> {
  const c = withDefaults<SwimConfig>(DEFAULTS, input)
  const ms = (name: keyof SwimConfig, min: number, max: number): void => { durationMs(`swim config ${name}`, c[name], min, max, fail) }
  const int = (name: keyof SwimConfig, min: number, max: number): void => { intInRange(`swim config ${name}`, c[name], min, max, '', fail) }
  ms('probeIntervalMs', 10, 600_000)
  ms('probeTimeoutMs', 1, 600_000)
  int('indirectChecks', 0, 16)
  int('suspicionMult', 2, 100)
  int('suspicionMaxTimeoutMult', 1, 100)
  int('retransmitMult', 1, 100)
  ms('gossipIntervalMs', 0, 600_000)
  int('gossipNodes', 0, 64)
  int('awarenessMaxMultiplier', 1, 64)
  ms('deadProbeIntervalMs', 100, 3_600_000)
  ms('syncIntervalMs', 100, 3_600_000)
  ms('joinGraceMs', 0, 3_600_000)
  intInRange('swim config maxPacketBytes', c.maxPacketBytes, 256, 65_000, 'bytes', fail)
  if (c.probeTimeoutMs >= c.probeIntervalMs) {
    throw new SwimConfigError(`swim config probeTimeoutMs (${c.probeTimeoutMs}) must be shorter than probeIntervalMs (${c.probeIntervalMs}): ` +
      'relays need the rest of the interval')
  }
  if (c.gossipIntervalMs > 0 && c.gossipNodes === 0) {
    throw new SwimConfigError('swim config gossipNodes must be at least 1 when gossipIntervalMs is set; set gossipIntervalMs to 0 to disable push gossip')
  }
  return Object.freeze(c)
}
