import t from 'tap'
import { renderDns, renderStatus } from '../../cmd/status.js'
import { buildStatus } from '../../lib/daemon/status-build.js'
import { PeerHistory } from '../../lib/daemon/peer-history.js'
import { devicePeer, dnsStatus, node, statusInputs } from '../daemon/status-fixture.js'

const NOW = 1_700_000_100_000
const self = node('n9', 'alpha', 0)
const [a, b] = [node('n2', 'able', 1), node('n1', 'bravo', 2)]

t.test('weft status: rows by hostname; a peer off the device shows its last known figures in parentheses, with a legend', async (t) => {
  const history = new PeerHistory()
  history.note([devicePeer(b!, { lastHandshakeAt: NOW - 60_000, rxBytes: 2048, txBytes: 4096 })], NOW - 30_000)
  const s = buildStatus(statusInputs(self, [b!, a!, self], [devicePeer(a!, { lastHandshakeAt: NOW - 5000, rxBytes: 100, txBytes: 200 })], { history }))
  const out = renderStatus(s, NOW)
  const rows = out.split('\n').filter(l => /^(able|bravo)\s/.test(l))
  t.equal(rows.length, 2)
  t.match(rows[0], /^able\s+able\.weft\.internal\s+n2\s+100\.64\.0\.2\s+198\.18\.1\.2:51820\s+5s ago\s+100 B\s+200 B\s+-\s+online\s+yes$/)
  t.match(rows[1], /^bravo\s+bravo\.weft\.internal\s+n1\s+100\.64\.0\.3\s+\(198\.18\.1\.3:51820\)\s+\(60s ago\)\s+\(2\.0 KiB\)\s+\(4\.0 KiB\)\s+-\s+online\s+no$/)
  t.match(out, /\n\(\.\.\.\) last known: the peer is not on the WireGuard device/)
})

t.test('weft status: no legend when every figure is live; a peer never handshaken says never', async (t) => {
  const s = buildStatus(statusInputs(self, [a!, self], [devicePeer(a!, { lastHandshakeAt: 0, rxBytes: 0, txBytes: 148 })]))
  const out = renderStatus(s, NOW)
  t.match(out, /\nable\s+\S+\s+n2\s+\S+\s+\S+\s+never\s+0 B\s+148 B/)
  t.notMatch(out, /last known/)
})

t.test('weft status: what this node advertises, and which router carries each route, with none alive said plainly', async (t) => {
  const r1 = { ...a!, routes: ['192.0.2.0/24'] }
  const r2 = { ...b!, routes: ['192.0.2.0/24', '203.0.113.0/24'] }
  const me = { ...self, routes: ['198.51.100.0/24'] }
  const s = buildStatus(statusInputs(me, [r1, r2, me], [], {
    prefs: { advertiseRoutes: ['198.51.100.0/24', '198.51.100.128/25'] },
    routes: { primaries: new Map([['192.0.2.0/24', r1.id]]), kernel: ['192.0.2.0/24', '203.0.113.0/24'] }
  }))
  const out = renderStatus(s, NOW)
  t.match(out, /\nadvertises {2}198\.51\.100\.0\/24 \(enabled\), 198\.51\.100\.128\/25 \(awaiting approval: weft routes approve\)\n/)
  t.match(out, /\nROUTE\s+VIA\s+ROUTERS\s+KERNEL\n192\.0\.2\.0\/24\s+able\s+able,bravo\s+yes\n203\.0\.113\.0\/24\s+none alive: dropped\s+bravo\s+yes\n/)
  const off = renderStatus(buildStatus(statusInputs(self, [r1, self], [], { prefs: { acceptRoutes: false } })), NOW)
  t.match(off, /\nroutes {6}1 offered by other nodes, not used \(--accept-routes=false\)\n/)
})

t.test('weft status: the mesh resolver, and how the host asks it or how to ask it by hand', async (t) => {
  t.same(renderDns(dnsStatus()), [
    'dns         100.64.0.1:53 answers *.weft.internal (3 names); other names forwarded to 198.18.0.1',
    'dns host    resolved: systemd-resolved runs'
  ])
  const none = renderDns(dnsStatus({
    forward: false,
    upstreams: [],
    host: { mode: 'none', reason: 'systemd-resolved is not running', applied: null, lastError: null, hint: 'dig @100.64.0.1 <name>.weft.internal' }
  }))
  t.equal(none[0], 'dns         100.64.0.1:53 answers *.weft.internal (3 names); other names refused')
  t.equal(none[1], 'dns host    none: systemd-resolved is not running; ask it: dig @100.64.0.1 <name>.weft.internal')
  const taken = renderDns(dnsStatus({ listen: null, error: 'cannot listen on 100.64.0.1:53: address in use; retrying every 5 s' }))
  t.match(taken[0], /^dns {9}not answering: cannot listen on 100\.64\.0\.1:53/)
  t.same(renderDns(dnsStatus({ enabled: false })), ['dns         off (--accept-dns=false)'])
  const out = renderStatus(buildStatus({ ...statusInputs(self, [a!, self], []), dns: dnsStatus() }), NOW)
  t.match(out, /\ndns {9}100\.64\.0\.1:53 answers/)
  t.match(out, /\nHOSTNAME\s+NAME\s+ID\s+MESH IP/)
})
