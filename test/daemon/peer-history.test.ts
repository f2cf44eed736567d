import t from 'tap'
import { PeerHistory } from '../../lib/daemon/peer-history.js'
import { devicePeer, node } from './status-fixture.js'

t.test('keeps the latest reading per peer and forgets peers that left the netmap', async (t) => {
  const [a, b] = [node('n1', 'a', 1), node('n2', 'b', 2)]
  const h = new PeerHistory()
  h.note([devicePeer(a, { lastHandshakeAt: 10, rxBytes: 1, txBytes: 2 }), devicePeer(b, { lastHandshakeAt: 0, rxBytes: 0, txBytes: 0 })], 100)
  h.note([devicePeer(a, { lastHandshakeAt: 20, rxBytes: 5, txBytes: 6 })], 200)
  t.same(h.get(a.publicKey), { endpoint: a.endpoints[0], lastHandshakeAt: 20, rxBytes: 5, txBytes: 6, readAt: 200 })
  t.equal(h.get(b.publicKey)?.readAt, 100)
  h.prune(new Set([a.publicKey]))
  t.equal(h.get(b.publicKey), undefined)
  t.equal(h.size, 1)
})
