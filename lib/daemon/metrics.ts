import type { Clock } from '../clock.js'
import { Registry, scrapedCounter, scrapedGauge, type Sample } from '../prom.js'
import { registerProcessMetrics } from '../process-metrics.js'
import { MEMBER_STATES } from '../swim/state.js'
import type { ControlState } from './control-link.js'
import type { DaemonStatus, PeerStatus } from './status.js'

/** Destination ports with the most drops that get a series of their own; the rest count under proto="other". */
const MAX_DROP_PORTS = 32

/** Every ControlState, for the one-hot link gauge. */
const CONTROL_STATES: readonly ControlState[] = ['connecting', 'connected', 'lost', 'revoked']

/** A counter family: its name and help; the status counters it is read from are in COUNTERS. */
interface Family { name: string, help: string, label?: string }

const F = {
  swimPacketsIn: { name: 'weft_swim_packets_received_total', help: 'SWIM packets received on the mesh IP.' },
  swimPacketsOut: { name: 'weft_swim_packets_sent_total', help: 'SWIM packets sent.' },
  swimBytesIn: { name: 'weft_swim_received_bytes_total', help: 'SWIM bytes received.' },
  swimBytesOut: { name: 'weft_swim_sent_bytes_total', help: 'SWIM bytes sent.' },
  swimDropped: {
    name: 'weft_swim_packets_dropped_total',
    help: 'SWIM packets dropped without effect, by reason (malformed, unknown-sender, spoofed, ...).',
    label: 'reason'
  },
  swimSendErrors: { name: 'weft_swim_send_errors_total', help: 'SWIM sends the socket refused (a peer without a tunnel).' },
  swimProbes: { name: 'weft_swim_probes_total', help: 'Direct probes this node started.' },
  swimProbeFailures: { name: 'weft_swim_probe_failures_total', help: 'Probes that got no ack, direct or relayed, within the probe interval.' },
  swimIndirect: { name: 'weft_swim_indirect_probes_total', help: 'Probes that needed relays (the direct ack timed out).' },
  swimRelays: { name: 'weft_swim_relays_served_total', help: 'Indirect probes this node relayed for others.' },
  swimNacks: { name: 'weft_swim_nacks_received_total', help: 'Nacks received from relays (Lifeguard).' },
  swimSuspicions: { name: 'weft_swim_suspicions_total', help: 'Suspicions this node started holding, its own or learned.' },
  swimConfirmations: { name: 'weft_swim_suspicion_confirmations_total', help: 'Independent confirmations that shortened a suspicion.' },
  swimDeaths: { name: 'weft_swim_deaths_total', help: 'Members this node came to hold dead.' },
  swimLastCalls: { name: 'weft_swim_last_calls_total', help: 'Suspicions that ran out here and got a direct ping before the declaration of death.' },
  swimDeathsDoubted: { name: 'weft_swim_deaths_doubted_total', help: 'Deaths declared by others held as suspicions here (the member was heard since).' },
  swimDeathChecks: { name: 'weft_swim_death_checks_total', help: 'Deaths declared by others checked with a ping of our own first.' },
  swimUnprovenChecks: { name: 'weft_swim_unproven_checks_total', help: 'Claims at an incarnation the member never proved here, checked with a ping.' },
  swimDeathsDisproved: { name: 'weft_swim_deaths_disproved_total', help: 'Checks of either kind the member disproved.' },
  swimLate: { name: 'weft_swim_late_wakeups_total', help: 'Probe or ack deadlines handled more than a probe timeout late (this process was starved).' },
  swimGrace: { name: 'weft_swim_grace_spared_total', help: 'Failed probes of members in their join grace (no accusation).' },
  swimRefutations: { name: 'weft_swim_refutations_total', help: 'Claims about this node it refuted.' },
  swimStale: { name: 'weft_swim_stale_claims_answered_total', help: 'Old suspicions or deaths of this node answered by gossiping its incarnation again.' },
  swimDeadProbes: { name: 'weft_swim_dead_probes_total', help: 'Re-probes of members held dead.' },
  swimSyncs: { name: 'weft_swim_syncs_total', help: 'Anti-entropy exchanges started.' },
  swimClaimsIgnored: {
    name: 'weft_swim_claims_ignored_total',
    help: 'Claims ignored for want of proof, by reason (unproven, unsigned, bad-signature).',
    label: 'reason'
  },
  swimUpdates: { name: 'weft_swim_updates_total', help: 'Gossip updates received, by result (applied, ignored, unknown-member).', label: 'result' },
  announceSent: { name: 'weft_announce_sent_total', help: 'Underlay announcements sent (ping, ack, dead).' },
  announceReceived: { name: 'weft_announce_received_total', help: 'Underlay announcement datagrams received.' },
  announceAccepted: { name: 'weft_announce_accepted_total', help: 'Underlay announcements that verified and were acted on.' },
  announceDropped: {
    name: 'weft_announce_dropped_total',
    help: 'Underlay announcements dropped, by reason (layout, unknown-sender, bad-mac, stale, not-open).',
    label: 'reason'
  },
  reconciles: { name: 'weft_reconciles_total', help: 'Reconciles of the WireGuard device with the desired peer set, no-op ones included.' },
  reconcileErrors: {
    name: 'weft_reconcile_errors_total',
    help: 'Reconciles that ended incomplete (device unreadable, a change refused); the next one retries.'
  },
  peerChanges: { name: 'weft_wireguard_peer_changes_total', help: 'Peer changes applied to the WireGuard device, by op (add, remove, update).', label: 'op' },
  peerChangeErrors: { name: 'weft_wireguard_peer_change_errors_total', help: 'Peer changes the WireGuard device refused.' },
  handshakeResets: { name: 'weft_wireguard_handshake_resets_total', help: 'Peers re-created because their first handshake did not complete.' },
  controlConnects: { name: 'weft_control_connects_total', help: 'Update channels opened to the controller.' },
  controlResyncs: { name: 'weft_control_resyncs_total', help: 'Reconnects asking the controller for a full netmap.' },
  heartbeats: { name: 'weft_control_heartbeats_total', help: 'Heartbeats sent to the controller.' },
  heartbeatFailures: { name: 'weft_control_heartbeat_failures_total', help: 'Heartbeats that failed.' },
  netmapUpdates: { name: 'weft_netmap_updates_total', help: 'Netmaps accepted from the controller, by how they came (full, delta).', label: 'how' },
  netmapRejects: { name: 'weft_netmap_rejects_total', help: 'Netmap messages from the controller refused by validation.' },
  routePrimaryChanges: {
    name: 'weft_route_primary_changes_total',
    help: 'Changes of the router carrying a subnet route here (failovers, returns, new and withdrawn routes).'
  },
  routeAdvertisements: {
    name: 'weft_route_advertisements_total',
    help: 'This node\'s route advertisements sent to the controller, by result (ok, failed).',
    label: 'result'
  },
  routeKernelErrors: { name: 'weft_route_kernel_errors_total', help: 'Failed updates of the kernel routes for subnet routes; the next reconcile retries.' }
} satisfies Record<string, Family>

/** Status counter key (`weft status --json`, swim.counters) → the counter family it feeds and its label value. */
const COUNTERS: Record<string, [Family, string?]> = {
  packetsIn: [F.swimPacketsIn],
  packetsOut: [F.swimPacketsOut],
  bytesIn: [F.swimBytesIn],
  bytesOut: [F.swimBytesOut],
  sendErrors: [F.swimSendErrors],
  probes: [F.swimProbes],
  probeFailures: [F.swimProbeFailures],
  indirectProbes: [F.swimIndirect],
  relaysServed: [F.swimRelays],
  nacksReceived: [F.swimNacks],
  suspicions: [F.swimSuspicions],
  confirmations: [F.swimConfirmations],
  deaths: [F.swimDeaths],
  lastCalls: [F.swimLastCalls],
  deathsDoubted: [F.swimDeathsDoubted],
  deathChecks: [F.swimDeathChecks],
  unprovenChecks: [F.swimUnprovenChecks],
  deathsDisproved: [F.swimDeathsDisproved],
  lateWakeups: [F.swimLate],
  graceSpared: [F.swimGrace],
  refutations: [F.swimRefutations],
  staleClaimsAnswered: [F.swimStale],
  deadProbes: [F.swimDeadProbes],
  syncs: [F.swimSyncs],
  claimsUnproven: [F.swimClaimsIgnored, 'unproven'],
  claimsUnsigned: [F.swimClaimsIgnored, 'unsigned'],
  claimsBadSignature: [F.swimClaimsIgnored, 'bad-signature'],
  updatesApplied: [F.swimUpdates, 'applied'],
  updatesIgnored: [F.swimUpdates, 'ignored'],
  updatesUnknownMember: [F.swimUpdates, 'unknown-member'],
  'announce.sent': [F.announceSent],
  'announce.received': [F.announceReceived],
  'announce.accepted': [F.announceAccepted],
  'announce.droppedLayout': [F.announceDropped, 'layout'],
  'announce.droppedUnknownSender': [F.announceDropped, 'unknown-sender'],
  'announce.droppedBadMac': [F.announceDropped, 'bad-mac'],
  'announce.droppedStale': [F.announceDropped, 'stale'],
  'announce.droppedNotOpen': [F.announceDropped, 'not-open'],
  'wg.reconciles': [F.reconciles],
  'wg.reconcileErrors': [F.reconcileErrors],
  'wg.peersAdded': [F.peerChanges, 'add'],
  'wg.peersRemoved': [F.peerChanges, 'remove'],
  'wg.peersUpdated': [F.peerChanges, 'update'],
  'wg.peerChangeErrors': [F.peerChangeErrors],
  'wg.handshakeResets': [F.handshakeResets],
  'control.connects': [F.controlConnects],
  'control.resyncs': [F.controlResyncs],
  'control.heartbeatsSent': [F.heartbeats],
  'control.heartbeatFailures': [F.heartbeatFailures],
  'control.netmapsFull': [F.netmapUpdates, 'full'],
  'control.netmapsDelta': [F.netmapUpdates, 'delta'],
  'control.netmapRejects': [F.netmapRejects],
  'routes.primaryChanges': [F.routePrimaryChanges],
  'routes.advertisements': [F.routeAdvertisements, 'ok'],
  'routes.advertiseFailures': [F.routeAdvertisements, 'failed'],
  'routes.kernelErrors': [F.routeKernelErrors]
}

/** The counter family and label value a status counter key feeds (`dropped.<reason>` included); undefined when none. */
export function counterFor (key: string): [Family, string?] | undefined {
  if (key.startsWith('dropped.')) return [F.swimDropped, key.slice('dropped.'.length)]
  return Object.hasOwn(COUNTERS, key) ? COUNTERS[key] : undefined
}

/** What DaemonMetrics reads: the daemon's status, as `weft status --json` shows it. */
export type StatusSource = () => Promise<DaemonStatus>

/**
 * The daemon's Prometheus metrics, on a Registry of its own. Every scrape takes one status snapshot (one device
 * read, as `weft status` makes) and renders it, so the metrics and `weft status --json` always agree. Per-peer
 * series carry `peer_id` and `peer_hostname`; a peer off the device keeps its last known figures
 * (weft_peer_in_wireguard says which).
 */
export class DaemonMetrics {
  readonly registry = new Registry()
  private snap: DaemonStatus | null = null
  private queue: Promise<unknown> = Promise.resolve()
  /** Drop ports (`proto/port`) with a series of their own (weft_policy_dropped_packets_total). */
  private readonly dropPorts = new Set<string>()

  constructor (private readonly o: { status: StatusSource, clock: Clock }) {
    const registry = this.registry
    const s = (): DaemonStatus | null => this.snap
    const peers = (): PeerStatus[] => s()?.peers ?? []
    const peerLabels = (p: PeerStatus): Record<string, string> => ({ peer_id: p.id, peer_hostname: p.hostname })
    const counters = (): Record<string, number> => s()?.swim?.counters ?? {}
    const ageSeconds = (at: number): number => Math.max(0, (this.o.clock.now() - at) / 1000)
    registerProcessMetrics(registry, this.o.clock)

    scrapedGauge({
      name: 'weft_node_info',
      help: 'Always 1; labels: this node\'s id, hostname, mesh IP and WireGuard interface.',
      labelNames: ['node_id', 'hostname', 'mesh_ip', 'interface'],
      registry,
      read: () => {
        const n = s()?.node
        return n === undefined ? [] : [{ labels: { node_id: n.id, hostname: n.hostname, mesh_ip: n.meshIp, interface: n.interface }, value: 1 }]
      }
    })
    // Counter families from the status counters.
    const families = new Map<string, Family>()
    for (const [f] of [...Object.values(COUNTERS), [F.swimDropped] as [Family]]) families.set(f.name, f)
    for (const f of families.values()) {
      scrapedCounter({
        name: f.name,
        help: f.help,
        labelNames: f.label === undefined ? [] : [f.label],
        registry,
        read: () => {
          const out: Sample[] = []
          for (const [key, value] of Object.entries(counters())) {
            const c = counterFor(key)
            if (c === undefined || c[0].name !== f.name) continue
            out.push(f.label === undefined ? { value } : { labels: { [f.label]: c[1]! }, value })
          }
          return out
        }
      })
    }
    scrapedGauge({
      name: 'weft_swim_incarnation',
      help: 'This node\'s SWIM incarnation.',
      registry,
      read: () => { const w = s()?.swim; return w == null ? [] : [{ value: w.incarnation }] }
    })
    scrapedGauge({
      name: 'weft_swim_local_health_score',
      help: 'Lifeguard local-health score: 0 is healthy, up to 7; probing slows by score + 1.',
      registry,
      read: () => { const w = s()?.swim; return w == null ? [] : [{ value: w.healthScore }] }
    })
    scrapedGauge({
      name: 'weft_swim_members',
      help: 'Peers by the state this node\'s SWIM holds them in.',
      labelNames: ['state'],
      registry,
      read: () => MEMBER_STATES.map(state => ({ labels: { state }, value: peers().filter(p => p.swim === state).length }))
    })
    scrapedGauge({
      name: 'weft_peer_swim_state',
      help: 'Always 1, for the state SWIM holds the peer in (alive, suspect, dead, left); absent while SWIM does not know it.',
      labelNames: ['peer_id', 'peer_hostname', 'state'],
      registry,
      read: () => peers().flatMap(p => p.swim === null ? [] : [{ labels: { ...peerLabels(p), state: p.swim }, value: 1 }])
    })
    scrapedGauge({
      name: 'weft_peer_in_wireguard',
      help: '1 when the peer is on the WireGuard device, 0 when not (SWIM dead, left, not yet added).',
      labelNames: ['peer_id', 'peer_hostname'],
      registry,
      read: () => peers().map(p => ({ labels: peerLabels(p), value: p.inWireGuard ? 1 : 0 }))
    })
    scrapedGauge({
      name: 'weft_peer_last_handshake_age_seconds',
      help: 'Seconds since the last completed WireGuard handshake with the peer (last known, for a peer off the device); absent when there was none.',
      labelNames: ['peer_id', 'peer_hostname'],
      registry,
      read: () => peers().flatMap(p => p.lastHandshakeAt === null ? [] : [{ labels: peerLabels(p), value: ageSeconds(p.lastHandshakeAt) }])
    })
    scrapedCounter({
      name: 'weft_peer_receive_bytes_total',
      help: 'Bytes received from the peer through WireGuard (restarts at 0 when the peer is re-added).',
      labelNames: ['peer_id', 'peer_hostname'],
      registry,
      read: () => peers().flatMap(p => p.figures === 'none' ? [] : [{ labels: peerLabels(p), value: p.rxBytes }])
    })
    scrapedCounter({
      name: 'weft_peer_transmit_bytes_total',
      help: 'Bytes sent to the peer through WireGuard (restarts at 0 when the peer is re-added).',
      labelNames: ['peer_id', 'peer_hostname'],
      registry,
      read: () => peers().flatMap(p => p.figures === 'none' ? [] : [{ labels: peerLabels(p), value: p.txBytes }])
    })
    scrapedGauge({
      name: 'weft_control_link_state',
      help: 'Always 1 for the state of the link to the controller (connecting, connected, lost, revoked), 0 for the others.',
      labelNames: ['state'],
      registry,
      read: () => {
        const st = s()?.controller.state
        return st === undefined ? [] : CONTROL_STATES.map(state => ({ labels: { state }, value: state === st ? 1 : 0 }))
      }
    })
    scrapedGauge({
      name: 'weft_control_last_contact_age_seconds',
      help: 'Seconds since the controller was last heard (a stream line or a heartbeat answer); absent before the first.',
      registry,
      read: () => { const at = s()?.controller.lastContactAt; return at == null ? [] : [{ value: ageSeconds(at) }] }
    })
    scrapedGauge({
      name: 'weft_control_consecutive_heartbeat_failures',
      help: 'Heartbeats failed in a row (0 after a success).',
      registry,
      read: () => { const c = s()?.controller; return c === undefined ? [] : [{ value: c.heartbeatsFailed }] }
    })
    scrapedGauge({
      name: 'weft_netmap_applied_version',
      help: 'Version of the netmap this node applied (restarts with the controller\'s epoch).',
      registry,
      read: () => { const m = s()?.netmap; return m == null ? [] : [{ value: m.version }] }
    })
    scrapedGauge({
      name: 'weft_netmap_nodes',
      help: 'Nodes in the applied netmap, this one included.',
      registry,
      read: () => { const m = s()?.netmap; return m == null ? [] : [{ value: m.nodes }] }
    })
    scrapedGauge({
      name: 'weft_policy_enforced_version',
      help: 'Version of the access policy this node enforces; 0 while its policy cannot be read (only SWIM is let in); absent with no policy.',
      registry,
      read: () => { const v = s()?.policy.version; return v == null ? [] : [{ value: v }] }
    })
    scrapedGauge({
      name: 'weft_policy_rules',
      help: 'nft rules the access policy compiled to on this node (the fixed ones, such as SWIM\'s, not counted).',
      registry,
      read: () => { const p = s()?.policy; return p == null || p.version === null ? [] : [{ value: p.rules }] }
    })
    scrapedCounter({
      name: 'weft_policy_dropped_packets_total',
      help: 'Packets the access filter dropped on the Weft interface, TCP and UDP by destination port (proto="other": the rest, ICMP included).',
      labelNames: ['proto', 'port'],
      registry,
      read: () => {
        const d = s()?.policy.drops
        if (d == null) return []
        // A port keeps its series once it has one, so that "other" only ever grows.
        for (const x of [...d.byPort].sort((a, b) => b.packets - a.packets)) {
          if (this.dropPorts.size < MAX_DROP_PORTS) this.dropPorts.add(`${x.proto}/${x.port}`)
        }
        const shown = d.byPort.filter(x => this.dropPorts.has(`${x.proto}/${x.port}`))
        const rest = d.total - shown.reduce((sum, x) => sum + x.packets, 0)
        const other = { labels: { proto: 'other', port: '' }, value: Math.max(0, rest) }
        return [...shown.map(x => ({ labels: { proto: x.proto, port: String(x.port) }, value: x.packets })), other]
      }
    })
    const dns = (): DaemonStatus['dns'] | null => { const d = s()?.dns; return d === undefined || !d.enabled ? null : d }
    scrapedGauge({
      name: 'weft_dns_listening',
      help: '1 while the mesh resolver answers on the mesh IP, port 53; 0 while it does not (it cannot listen, or --accept-dns=false).',
      registry,
      read: () => [{ value: dns()?.listen == null ? 0 : 1 }]
    })
    scrapedGauge({
      name: 'weft_dns_names',
      help: 'Names the mesh resolver answers for (nodes, and single-address hosts of the access policy).',
      registry,
      read: () => { const d = dns(); return d === null ? [] : [{ value: d.names }] }
    })
    scrapedCounter({
      name: 'weft_dns_queries_total',
      help: 'DNS messages the mesh resolver received, by transport (udp, tcp), malformed ones included.',
      labelNames: ['transport'],
      registry,
      read: () => {
        const d = dns()
        if (d === null) return []
        return [{ labels: { transport: 'udp' }, value: d.counters.udpQueries }, { labels: { transport: 'tcp' }, value: d.counters.tcpQueries }]
      }
    })
    scrapedCounter({
      name: 'weft_dns_responses_total',
      help: 'How the mesh resolver answered, by result (answer, nodata, nxdomain, forwarded, forward-failed, refused, formerr, notimp).',
      labelNames: ['result'],
      registry,
      read: () => {
        const d = dns()
        if (d === null) return []
        const c = d.counters
        const by: Array<[string, number]> = [['answer', c.answered], ['nodata', c.nodata], ['nxdomain', c.nxdomain], ['forwarded', c.forwarded],
          ['forward-failed', c.forwardFailures], ['refused', c.refused], ['formerr', c.formErrors], ['notimp', c.notImplemented]]
        return by.map(([result, value]) => ({ labels: { result }, value }))
      }
    })
    scrapedCounter({
      name: 'weft_dns_malformed_total',
      help: 'DNS messages the mesh resolver dropped unanswered: not a decodable query (fuzz, garbage, a response sent to it).',
      registry,
      read: () => { const d = dns(); return d === null ? [] : [{ value: d.counters.malformed }] }
    })
    scrapedGauge({
      name: 'weft_daemon_error',
      help: '1 while the daemon reports an error worth an operator\'s attention (weft status: error), else 0.',
      registry,
      read: () => { const st = s(); return st === null ? [] : [{ value: st.lastError === null ? 0 : 1 }] }
    })
  }

  /** One scrape: a fresh status snapshot rendered in the text format. Scrapes are serialised. */
  async scrape (): Promise<string> {
    const next = this.queue.then(async () => {
      this.snap = await this.o.status()
      try { return await this.registry.metrics() } finally { this.snap = null }
    })
    this.queue = next.catch(() => {})
    return await next
  }

  get contentType (): string { return this.registry.contentType }
}
