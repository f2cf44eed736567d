import t from 'tap'
import { ManualClock } from '../../lib/clock.js'
import { silentLogger } from '../../lib/log.js'
import { generateKeyPair } from '../../lib/wire/keys.js'
import { flattenStats, buildStatus } from '../../lib/daemon/status-build.js'
import { counterFor, DaemonMetrics } from '../../lib/daemon/metrics.js'
import { PeerHistory } from '../../lib/daemon/peer-history.js'
import { Announcer } from '../../lib/daemon/announcer.js'
import { Reconciler } from '../../lib/daemon/reconciler.js'
import { ControlLink } from '../../lib/daemon/control-link.js'
import { ControlClient } from '../../lib/daemon/control-client.js'
import { zeroStats } from '../../lib/swim/types.js'
import type { WireGuardDevice } from '../../lib/daemon/wg/device.js'
import { PROCESS_METRIC_NAMES } from '../../lib/process-metrics.js'
import { namingProblems, parseProm, sampleValue } from '../prom-text.js'
import { devicePeer, dnsStatus, node, statusInputs } from './status-fixture.js'

const NOW = 1_700_000_100_000

/** Every counter a running daemon puts in its status, from the real components (made, not started). */
function liveCounterKeys (): string[] {
  const clock = new ManualClock(NOW)
  const announcer = new Announcer({
    selfId: 'a',
    privateKey: generateKeyPair().privateKey,
    port: 1,
    lookup: () => null,
    alive: () => ({ incarnation: 1, sig: new Uint8Array(64) }),
    onAlive: () => {},
    onDeadNotice: () => {},
    clock,
    log: silentLogger()
  })
  const reconciler = new Reconciler({ device: {} as WireGuardDevice, log: silentLogger() })
  const link = new ControlLink({
    client: new ControlClient('http://127.0.0.1:1'),
    credential: 'c',
    netmap: () => null,
    onNetmap: () => {},
    onRevoked: () => {},
    onForgotten: () => {},
    heartbeat: () => ({ endpoints: [], listenPort: 1 }),
    clock,
    log: silentLogger()
  })
  return [
    ...Object.keys(flattenStats(zeroStats())), 'sendErrors', 'wg.handshakeResets',
    ...Object.keys(announcer.counters).map(k => `announce.${k}`),
    ...Object.keys(reconciler.counters).map(k => `wg.${k}`),
    ...Object.keys(link.counters).map(k => `control.${k}`)
  ]
}

t.test('every counter in weft status --json has a metric', async (t) => {
  const unmapped = liveCounterKeys().filter(k => counterFor(k) === undefined)
  t.same(unmapped, [])
})

t.test('a scrape renders the status: node info, per-peer SWIM state, WireGuard presence, handshake age and traffic', async (t) => {
  const clock = new ManualClock(NOW)
  const self = node('n9', 'alpha', 0)
  const [a, b, c] = [node('n1', 'bravo', 1), node('n2', 'charlie', 2), node('n3', 'delta', 3)]
  const history = new PeerHistory()
  history.note([devicePeer(b!, { lastHandshakeAt: NOW - 100_000, rxBytes: 5000, txBytes: 6000 })], NOW - 20_000)
  const input = statusInputs(self, [a!, b!, c!, self], [devicePeer(a!, { lastHandshakeAt: NOW - 12_500, rxBytes: 1234, txBytes: 5678 })], {
    history,
    members: [
      { id: 'n1', addr: '', state: 'alive', incarnation: 1, since: 0 },
      { id: 'n2', addr: '', state: 'dead', incarnation: 1, since: 0 },
      { id: 'n3', addr: '', state: 'suspect', incarnation: 1, since: 0 }
    ]
  })
  input.counters = { 'wg.reconciles': 7, 'wg.peersAdded': 3, 'announce.droppedBadMac': 2, 'control.netmapsDelta': 4 }
  const status = buildStatus(input)
  status.controller.state = 'lost'
  status.controller.lastContactAt = NOW - 30_000
  const m = new DaemonMetrics({ status: async () => status, clock })
  const fam = parseProm(await m.scrape())
  const bravo = { peer_id: 'n1', peer_hostname: 'bravo' }
  const charlie = { peer_id: 'n2', peer_hostname: 'charlie' }
  t.equal(sampleValue(fam, 'weft_node_info', { node_id: 'n9', hostname: 'alpha', mesh_ip: '100.64.0.1', interface: 'wg0' }), 1)
  const started = sampleValue(fam, 'process_start_time_seconds') ?? 0
  t.ok(Math.abs(started - (NOW / 1000 - process.uptime())) <= 1, 'the process start is dated by the daemon\'s clock')
  t.equal(sampleValue(fam, 'weft_peer_in_wireguard', bravo), 1)
  t.equal(sampleValue(fam, 'weft_peer_in_wireguard', charlie), 0)
  t.equal(sampleValue(fam, 'weft_peer_last_handshake_age_seconds', bravo), 12.5)
  t.equal(sampleValue(fam, 'weft_peer_last_handshake_age_seconds', charlie), 100, 'last known, for a peer off the device')
  t.equal(sampleValue(fam, 'weft_peer_last_handshake_age_seconds', { peer_hostname: 'delta' }), undefined, 'absent without a handshake')
  t.equal(sampleValue(fam, 'weft_peer_receive_bytes_total', bravo), 1234)
  t.equal(sampleValue(fam, 'weft_peer_transmit_bytes_total', charlie), 6000)
  t.equal(fam.get('weft_peer_receive_bytes_total')?.type, 'counter')
  t.equal(sampleValue(fam, 'weft_peer_swim_state', { ...charlie, state: 'dead' }), 1)
  t.equal(sampleValue(fam, 'weft_peer_swim_state', { ...charlie, state: 'alive' }), undefined)
  t.same(['alive', 'suspect', 'dead', 'left'].map(state => sampleValue(fam, 'weft_swim_members', { state })), [1, 1, 1, 0])
  t.same(['connecting', 'connected', 'lost', 'revoked'].map(state => sampleValue(fam, 'weft_control_link_state', { state })), [0, 0, 1, 0])
  t.equal(sampleValue(fam, 'weft_control_last_contact_age_seconds'), 30)
  t.equal(sampleValue(fam, 'weft_netmap_applied_version'), 7)
  t.equal(sampleValue(fam, 'weft_netmap_nodes'), 4)
  t.equal(sampleValue(fam, 'weft_reconciles_total'), 7)
  t.equal(sampleValue(fam, 'weft_wireguard_peer_changes_total', { op: 'add' }), 3)
  t.equal(sampleValue(fam, 'weft_announce_dropped_total', { reason: 'bad-mac' }), 2)
  t.equal(sampleValue(fam, 'weft_netmap_updates_total', { how: 'delta' }), 4)
  t.equal(sampleValue(fam, 'weft_swim_packets_dropped_total', { reason: 'malformed' }), 0)
  for (const name of PROCESS_METRIC_NAMES) t.ok(fam.has(name), `${name} exported`)
  t.same(namingProblems(fam.values()), [], 'Prometheus naming conventions')
})

t.test('access filter drops: a series per port, kept once given, and the rest under proto="other"', async (t) => {
  const self = node('n9', 'alpha', 0)
  const input = statusInputs(self, [self], [])
  const byPort = (n: number, packets: (port: number) => number): Array<{ proto: 'tcp', port: number, packets: number }> =>
    Array.from({ length: n }, (_, k) => ({ proto: 'tcp', port: 1000 + k, packets: packets(1000 + k) }))
  input.policy = { version: 3, pending: null, rules: 4, sets: 2, elements: 9, appliedAt: NOW, error: null, drops: { total: 0, byPort: [] } }
  let drops = { total: 50 * 10 + 7, byPort: byPort(50, () => 10) }
  const m = new DaemonMetrics({ status: async () => buildStatus({ ...input, policy: { ...input.policy, drops } }), clock: new ManualClock(NOW) })
  let fam = parseProm(await m.scrape())
  t.equal(sampleValue(fam, 'weft_policy_enforced_version'), 3)
  t.equal(sampleValue(fam, 'weft_policy_rules'), 4)
  const series = (): string[] => (fam.get('weft_policy_dropped_packets_total')?.samples ?? []).map(s => `${s.labels.proto}/${s.labels.port}`)
  t.equal(series().length, 33, '32 ports and "other"')
  t.equal(sampleValue(fam, 'weft_policy_dropped_packets_total', { proto: 'other', port: '' }), 18 * 10 + 7)
  const first = series()
  // Port 1049 (no series) now drops the most: the ports with series keep them, and "other" only grows.
  drops = { total: drops.total + 1000, byPort: byPort(50, p => p === 1049 ? 1010 : 10) }
  fam = parseProm(await m.scrape())
  t.same(series(), first)
  t.equal(sampleValue(fam, 'weft_policy_dropped_packets_total', { proto: 'other', port: '' }), 18 * 10 + 7 + 1000)
  t.equal(fam.get('weft_policy_dropped_packets_total')?.type, 'counter')
})

t.test('the mesh resolver: listening, names, queries by transport, responses by result; nothing with --accept-dns=false', async (t) => {
  const self = node('n9', 'alpha', 0)
  const input = statusInputs(self, [self], [])
  const counters = { ...dnsStatus().counters, udpQueries: 10, tcpQueries: 2, answered: 6, nxdomain: 3, forwarded: 1, forwardFailures: 1, malformed: 2 }
  let dns = dnsStatus({ names: 12, counters })
  const m = new DaemonMetrics({ status: async () => buildStatus({ ...input, dns }), clock: new ManualClock(NOW) })
  let fam = parseProm(await m.scrape())
  t.equal(sampleValue(fam, 'weft_dns_listening'), 1)
  t.equal(sampleValue(fam, 'weft_dns_names'), 12)
  t.equal(sampleValue(fam, 'weft_dns_queries_total', { transport: 'udp' }), 10)
  t.equal(sampleValue(fam, 'weft_dns_queries_total', { transport: 'tcp' }), 2)
  t.equal(sampleValue(fam, 'weft_dns_responses_total', { result: 'answer' }), 6)
  t.equal(sampleValue(fam, 'weft_dns_responses_total', { result: 'nxdomain' }), 3)
  t.equal(sampleValue(fam, 'weft_dns_responses_total', { result: 'forward-failed' }), 1)
  t.equal(sampleValue(fam, 'weft_dns_malformed_total'), 2)
  dns = dnsStatus({ listen: null, error: 'cannot listen' })
  fam = parseProm(await m.scrape())
  t.equal(sampleValue(fam, 'weft_dns_listening'), 0)
  dns = dnsStatus({ enabled: false })
  fam = parseProm(await m.scrape())
  t.equal(sampleValue(fam, 'weft_dns_listening'), 0)
  t.equal(fam.get('weft_dns_queries_total')?.samples.length ?? 0, 0)
})
