import t from 'tap'
import { buildStatus } from '../../lib/daemon/status-build.js'
import { PeerHistory } from '../../lib/daemon/peer-history.js'
import { devicePeer, node, statusInputs } from './status-fixture.js'

// Ids in the reverse order of hostnames, as random ids often are.
const self = node('n9', 'alpha', 0)
const [c, b, a] = [node('n1', 'charlie', 1), node('n2', 'bravo', 2), node('n3', 'able', 3)]
const nodes = [c!, b!, a!, self]

t.test('peers are sorted by hostname, not by id', async (t) => {
  const s = buildStatus(statusInputs(self, nodes, []))
  t.same(s.peers.map(p => p.hostname), ['able', 'bravo', 'charlie'])
})

t.test('lastHandshakeAt is the handshake time (ms since epoch), null when there was none', async (t) => {
  const s = buildStatus(statusInputs(self, nodes, [
    devicePeer(a!, { lastHandshakeAt: 1_700_000_000_500, rxBytes: 380, txBytes: 436 }),
    devicePeer(b!, { lastHandshakeAt: 0, rxBytes: 0, txBytes: 148 })
  ]))
  const by = new Map(s.peers.map(p => [p.hostname, p]))
  t.match(by.get('able'), { lastHandshakeAt: 1_700_000_000_500, rxBytes: 380, txBytes: 436, inWireGuard: true, figures: 'live', figuresReadAt: null })
  t.match(by.get('bravo'), { lastHandshakeAt: null, txBytes: 148, figures: 'live' })
  t.notOk('lastHandshakeMs' in by.get('able')!, 'no age-named timestamp')
})

t.test('a peer off the device keeps its last known handshake, traffic and endpoint, marked as such', async (t) => {
  const history = new PeerHistory()
  history.note([devicePeer(a!, { lastHandshakeAt: 1_700_000_000_000, rxBytes: 9000, txBytes: 7000 })], 1_700_000_050_000)
  const s = buildStatus(statusInputs(self, nodes, [devicePeer(b!, { lastHandshakeAt: 1_700_000_040_000, rxBytes: 1, txBytes: 2 })], { history }))
  const by = new Map(s.peers.map(p => [p.hostname, p]))
  t.match(by.get('able'), {
    inWireGuard: false,
    endpoint: a!.endpoints[0],
    lastHandshakeAt: 1_700_000_000_000,
    rxBytes: 9000,
    txBytes: 7000,
    figures: 'last-known',
    figuresReadAt: 1_700_000_050_000
  })
  t.match(by.get('bravo'), { inWireGuard: true, figures: 'live', rxBytes: 1 })
  t.match(by.get('charlie'), { inWireGuard: false, figures: 'none', lastHandshakeAt: null, rxBytes: 0, txBytes: 0, endpoint: null })
})

t.test('routes: what this node advertises, and which router carries each route it uses', async (t) => {
  const self = { ...node('n0', 'self', 0), routes: ['198.51.100.0/24'] }
  const r1 = { ...node('n1', 'router-b', 1), routes: ['192.0.2.0/24'] }
  const r2 = { ...node('n2', 'router-a', 2), routes: ['192.0.2.0/24', '203.0.113.0/24'] }
  const s = buildStatus(statusInputs(self, [self, r1, r2], [], {
    prefs: { advertiseRoutes: ['198.51.100.0/24', '198.51.100.128/25'] },
    routes: { primaries: new Map([['192.0.2.0/24', r2.id]]), kernel: ['192.0.2.0/24', '203.0.113.0/24'] }
  }))
  t.same(s.routes, {
    advertised: [{ route: '198.51.100.0/24', enabled: true }, { route: '198.51.100.128/25', enabled: false }],
    advertisedExit: null,
    accept: true,
    exit: { mode: 'none', via: null, reason: null, allowLan: true },
    used: [
      { route: '192.0.2.0/24', routers: [r1.hostname, r2.hostname].sort(), primary: r2.hostname, kernel: true },
      { route: '203.0.113.0/24', routers: [r2.hostname], primary: null, kernel: true }
    ]
  })
})
