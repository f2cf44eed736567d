import t from 'tap'
import { DataPlaneWatch } from '../../lib/daemon/dataplane-watch.js'
import type { DevicePeer } from '../../lib/daemon/wg/device.js'

const peer = (publicKey: string, rxBytes: number): DevicePeer => ({ publicKey, endpoint: null, allowedIps: [], keepaliveSeconds: 0, lastHandshakeMs: 0, rxBytes, txBytes: 0 })

t.test('fresh only after rx grew, and only within the window', async (t) => {
  const w = new DataPlaneWatch(1500)
  w.observe(1000, [peer('a', 100), peer('b', 100)])
  t.notOk(w.fresh('a', 1000), 'a first sample is a baseline, not evidence')
  w.observe(1200, [peer('a', 164), peer('b', 100)])
  t.ok(w.fresh('a', 1200), 'rx grew: the data plane answers')
  t.notOk(w.fresh('b', 1200), 'rx flat: no evidence')
  t.ok(w.fresh('a', 2700), 'still fresh at the edge of the window')
  t.notOk(w.fresh('a', 2701), 'stale after the window')
  t.notOk(w.fresh('unknown', 1200))
})

t.test('peers gone from the device are forgotten', async (t) => {
  const w = new DataPlaneWatch()
  w.observe(0, [peer('a', 1)])
  w.observe(100, [peer('a', 2)])
  w.retain(new Set())
  t.notOk(w.fresh('a', 100))
  w.observe(200, [peer('a', 3)])
  t.notOk(w.fresh('a', 200), 'a re-added peer starts from a new baseline')
})
