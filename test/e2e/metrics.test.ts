/**
 * The daemon's Prometheus endpoint and what an operator reads about a peer on a live N=5 mesh of real daemons
 * on real wireguard-go: scraped over the underlay from the controller's namespace, as a monitoring host would;
 * refused on an address every peer could reach; a crashed peer keeps its last known handshake and traffic in
 * the metrics and in `weft status`; swim.* and wg.peer.* log lines name it by hostname.
 */
import t from 'tap'
import { Mesh, WEFT, waitFor } from '../../sim/cluster.js'
import { counterFor } from '../../lib/daemon/metrics.js'
import { PROCESS_METRIC_NAMES } from '../../lib/process-metrics.js'
import { namingProblems, parseProm, sampleValue, type PromFamily } from '../prom-text.js'

const N = 5
const PORT = 9586
const all = Array.from({ length: N }, (_, i) => i)
const mesh = await Mesh.create(N)
t.teardown(async () => {
  if (!t.passing()) process.stderr.write(`--- mesh state at failure ---\n${await mesh.diagnose()}\n`)
  await mesh.destroy()
})

const addr = (i: number): string => mesh.world.names.nodeAddr(i)
const url = (i: number): string => `http://${addr(i)}:${PORT}/metrics`
const scrape = async (i: number): Promise<Map<string, PromFamily>> => parseProm(await mesh.httpGet(url(i)))
const metricsFlags = (i: number): string[] => ['--metrics-listen', `${addr(i)}:${PORT}`]

t.test('a metrics address that includes the mesh IP is refused at start, before the device is touched', async (t) => {
  const child = await mesh.startDaemon(0, { extra: ['--metrics-listen', `0.0.0.0:${PORT}`] })
  const code = await new Promise<number | null>(resolve => child.once('exit', c => resolve(c)))
  mesh.daemons.delete(0)
  t.equal(code, 2, 'exit code 2: a configuration error')
  const { readFileSync } = await import('node:fs')
  t.match(
    readFileSync(mesh.logFile('n0'), 'utf8'),
    /--metrics-listen 0\.0\.0\.0:9586: 0\.0\.0\.0 listens on every address, this node's mesh IP included, so every peer could scrape/
  )
  await t.rejects(mesh.world.exec(mesh.ns(0), ['ip', 'link', 'show', mesh.ifname(0)]), 'no WireGuard interface was made')
})

t.test('five daemons with --metrics-listen on their underlay address: every scrape has the key series', async (t) => {
  for (const i of all) await mesh.startDaemon(i, { extra: metricsFlags(i) })
  await waitFor('five daemons', async () => (await Promise.all(all.map(async i => await mesh.tryStatus(i)))).every(s => s !== null), 60_000)
  await waitFor('SWIM to see everyone alive', async () => (await Promise.all(all.map(async i => {
    const s = await mesh.status(i)
    return s.peers.length === N - 1 && s.peers.every(p => p.swim === 'alive' && p.inWireGuard && p.lastHandshakeAt !== null)
  }))).every(Boolean), 60_000, 200)
  for (const i of all) {
    const s = await mesh.status(i)
    const fam = await scrape(i)
    t.equal(sampleValue(fam, 'weft_node_info', { node_id: s.node.id, hostname: `node-${i}`, mesh_ip: s.node.meshIp }), 1, `node ${i}: weft_node_info`)
    t.equal(sampleValue(fam, 'weft_swim_members', { state: 'alive' }), N - 1, `node ${i}: four members alive`)
    t.equal(sampleValue(fam, 'weft_control_link_state', { state: 'connected' }), 1, `node ${i}: controller connected`)
    for (const p of s.peers) {
      const peer = { peer_id: p.id, peer_hostname: p.hostname }
      t.equal(sampleValue(fam, 'weft_peer_in_wireguard', peer), 1, `node ${i}: ${p.hostname} in WireGuard`)
      t.equal(sampleValue(fam, 'weft_peer_swim_state', { ...peer, state: 'alive' }), 1)
      const age = sampleValue(fam, 'weft_peer_last_handshake_age_seconds', peer)
      t.ok(age !== undefined && age >= 0 && age < 180, `node ${i}: handshake with ${p.hostname} ${age ?? '-'} s ago`)
      t.ok((sampleValue(fam, 'weft_peer_receive_bytes_total', peer) ?? 0) > 0, `node ${i}: bytes from ${p.hostname}`)
      t.ok((sampleValue(fam, 'weft_peer_transmit_bytes_total', peer) ?? 0) > 0, `node ${i}: bytes to ${p.hostname}`)
    }
    t.ok((sampleValue(fam, 'weft_swim_probes_total') ?? 0) > 0, `node ${i}: SWIM probes counted`)
    t.ok((sampleValue(fam, 'weft_reconciles_total') ?? 0) >= 1, `node ${i}: reconciles counted`)
    t.ok((sampleValue(fam, 'weft_wireguard_peer_changes_total', { op: 'add' }) ?? 0) >= N - 1, `node ${i}: peer adds counted`)
    t.ok((sampleValue(fam, 'weft_netmap_updates_total', { how: 'full' }) ?? 0) >= 1, `node ${i}: netmaps counted`)
    t.equal(sampleValue(fam, 'weft_netmap_applied_version'), s.netmap?.version)
    t.ok(fam.has('weft_announce_sent_total') && fam.has('weft_announce_dropped_total'), `node ${i}: underlay announcement counters`)
    for (const name of PROCESS_METRIC_NAMES) t.ok(fam.has(name), `node ${i}: ${name}`)
    const missing = Object.keys(s.swim?.counters ?? {}).filter(k => { const c = counterFor(k); return c === undefined || !fam.has(c[0].name) })
    t.same(missing, [], `node ${i}: every weft status counter is a metric`)
    t.same(namingProblems(fam.values()), [], `node ${i}: Prometheus naming`)
  }
  t.comment(`one full scrape of node 0 (${url(0)}):\n${await mesh.httpGet(url(0))}`)
})

t.test('the endpoint is not reachable over the mesh: a peer cannot scrape it', async (t) => {
  const mesh0 = (await mesh.status(0)).node.meshIp
  await t.rejects(mesh.httpGet(`http://${mesh0}:${PORT}/metrics`, mesh.ns(1)), /ECONNREFUSED|fetch failed|Command failed/)
})

t.test('a crashed peer: metrics and weft status keep its last handshake and traffic, logs name it by hostname', async (t) => {
  const victim = 4
  const rest = all.filter(i => i !== victim)
  const before = (await mesh.status(0)).peers.find(p => p.hostname === `node-${victim}`)!
  await mesh.crash(victim)
  const removed = async (i: number): Promise<boolean> => (await mesh.status(i)).peers.find(p => p.hostname === `node-${victim}`)?.inWireGuard === false
  await waitFor('every live node to remove node-4 from WireGuard', async () => (await Promise.all(rest.map(removed))).every(Boolean), 30_000, 200)

  const s = await mesh.status(0)
  const row = s.peers.find(p => p.hostname === `node-${victim}`)!
  t.match(row, { inWireGuard: false, swim: 'dead', figures: 'last-known' })
  t.ok(row.rxBytes >= before.rxBytes && row.rxBytes > 0, `last known rx ${row.rxBytes} B (was ${before.rxBytes} B before the crash)`)
  t.ok(row.lastHandshakeAt !== null && row.lastHandshakeAt >= (before.lastHandshakeAt ?? 0), 'last known handshake kept')
  t.ok(row.figuresReadAt !== null, 'with the time it was read')

  const table = (await mesh.world.exec(mesh.ns(0), [process.execPath, WEFT, 'status', '--state', mesh.stateDir(0)])).stdout
  t.match(table, new RegExp(`\\nnode-${victim}\\s+node-${victim}\\.weft\\.internal\\s+${row.id}\\s+\\S+\\s+\\(\\S+\\)\\s+\\(\\d+s ago\\)\\s+` +
    '\\([\\d.]+ \\S+\\)\\s+\\([\\d.]+ \\S+\\)\\s+dead\\s+\\S+\\s+no\\n'))
  t.match(table, /\(\.\.\.\) last known: the peer is not on the WireGuard device/)
  t.match(table, /\nnode-1\s+node-1\.weft\.internal\s+\S+\s+\S+\s+198\.18\.1\.2:51820\s+\d+s ago/, 'live peers unmarked')

  const fam = await scrape(0)
  const peer = { peer_id: row.id, peer_hostname: `node-${victim}` }
  t.equal(sampleValue(fam, 'weft_peer_in_wireguard', peer), 0)
  t.equal(sampleValue(fam, 'weft_peer_swim_state', { ...peer, state: 'dead' }), 1)
  t.equal(sampleValue(fam, 'weft_peer_receive_bytes_total', peer), row.rxBytes, 'last known bytes in the metrics')
  t.ok((sampleValue(fam, 'weft_peer_last_handshake_age_seconds', peer) ?? -1) >= 0)
  t.equal(sampleValue(fam, 'weft_swim_members', { state: 'dead' }), 1)
  t.ok((sampleValue(fam, 'weft_swim_deaths_total') ?? 0) >= 1)
  t.ok((sampleValue(fam, 'weft_wireguard_peer_changes_total', { op: 'remove' }) ?? 0) >= 1)

  for (const i of rest) {
    for (const event of ['swim.dead', 'wg.peer.remove']) {
      const line = mesh.events(`n${i}`, event).find(e => e.nodeId === row.id)
      t.match(line, { hostname: `node-${victim}`, msg: new RegExp(`node-${victim}`) }, `node ${i}: ${event} names node-${victim}`)
    }
  }
})

t.test('the controller stops: every daemon\'s metrics say the link is lost', async (t) => {
  await mesh.stopController('SIGKILL')
  const live = [0, 1, 2, 3]
  await waitFor('every daemon to report the link lost', async () =>
    (await Promise.all(live.map(async i => sampleValue(await scrape(i), 'weft_control_link_state', { state: 'lost' }) === 1))).every(Boolean), 60_000, 500)
  const fam = await scrape(0)
  t.equal(sampleValue(fam, 'weft_control_link_state', { state: 'connected' }), 0)
  t.ok((sampleValue(fam, 'weft_control_last_contact_age_seconds') ?? -1) >= 0)
})
