import t from 'tap'
import { renderStatus } from '../../cmd/status.js'
import { buildStatus } from '../../lib/daemon/status-build.js'
import { PeerHistory } from '../../lib/daemon/peer-history.js'
import { devicePeer, node, statusInputs } from '../daemon/status-fixture.js'

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
  t.match(rows[0], /^able\s+n2\s+100\.64\.0\.2\s+198\.18\.1\.2:51820\s+5s ago\s+100 B\s+200 B\s+-\s+online\s+yes$/)
  t.match(rows[1], /^bravo\s+n1\s+100\.64\.0\.3\s+\(198\.18\.1\.3:51820\)\s+\(60s ago\)\s+\(2\.0 KiB\)\s+\(4\.0 KiB\)\s+-\s+online\s+no$/)
  t.match(out, /\n\(\.\.\.\) last known: the peer is not on the WireGuard device/)
})

t.test('weft status: no legend when every figure is live; a peer never handshaken says never', async (t) => {
  const s = buildStatus(statusInputs(self, [a!, self], [devicePeer(a!, { lastHandshakeAt: 0, rxBytes: 0, txBytes: 148 })]))
  const out = renderStatus(s, NOW)
  t.match(out, /\nable\s+n2\s+\S+\s+\S+\s+never\s+0 B\s+148 B/)
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
