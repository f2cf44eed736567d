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
