import t, { type Test } from 'tap'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { generateKeyPair } from '../../lib/wire/keys.js'
import { ManualClock } from '../../lib/clock.js'
import { DeviceTimeoutError, PeerApplyError } from '../../lib/errors.js'
import { silentLogger, type Logger } from '../../lib/log.js'
import type { DevicePeer, DeviceState, PeerOp, WireGuardDevice } from '../../lib/daemon/wg/device.js'
import type { DesiredPeer } from '../../lib/daemon/desired.js'
import { Reconciler } from '../../lib/daemon/reconciler.js'
import { desiredPeer } from './records.js'

/** In-memory device for the reconciler's logic only; real devices are exercised in test/e2e/wg-device.test.ts. */
class FakeDevice implements WireGuardDevice {
  readonly ifname = 'fake0'
  readonly driver = 'userspace' as const
  readonly adopted = false
  peers = new Map<string, DevicePeer>()
  gets = 0
  applies: PeerOp[] = []
  /** Sizes of the batches sent. */
  batches: number[] = []
  failOp: ((op: PeerOp) => boolean) | null = null
  failGet = false
  /** Like a starved wireguard-go: the call runs out of time, and the device carries it out later (land()). */
  timeOut = false
  late: PeerOp[][] = []

  async get (): Promise<DeviceState> {
    this.gets++
    if (this.failGet) throw new Error('socket gone')
    return { publicKey: null, listenPort: 51820, peers: [...this.peers.values()].map(p => ({ ...p, allowedIps: [...p.allowedIps] })) }
  }

  async apply (ops: readonly PeerOp[]): Promise<void> {
    if (this.timeOut) {
      this.late.push([...ops])
      throw new PeerApplyError('set on fake0: no reply', 0, ops.length, { cause: new DeviceTimeoutError('UAPI fake0: no reply within 5000 ms') })
    }
    for (const [i, op] of ops.entries()) {
      if (this.failOp?.(op) === true) throw new PeerApplyError('errno=-22', i, ops.length)
      this.applies.push(op)
      if (op.kind === 'remove') { this.peers.delete(op.publicKey); continue }
      const prev = this.peers.get(op.peer.publicKey)
      const base: DevicePeer = prev ?? {
        publicKey: op.peer.publicKey,
        endpoint: null,
        allowedIps: [],
        keepaliveSeconds: 0,
        lastHandshakeAt: 0,
        rxBytes: 0,
        txBytes: 0
      }
      const fields = op.kind === 'add' ? ['endpoint', 'allowedIps', 'keepaliveSeconds'] : op.fields
      if (fields.includes('endpoint') && op.peer.endpoint !== null) base.endpoint = op.peer.endpoint
      if (fields.includes('allowedIps')) base.allowedIps = [...op.peer.allowedIps]
      if (fields.includes('keepaliveSeconds')) base.keepaliveSeconds = op.peer.keepaliveSeconds
      this.peers.set(base.publicKey, base)
    }
  }

  /** Like wireguard-go's multi-peer set: in order, stopping at the first failure with the prefix applied. */
  async applyBatch (ops: readonly PeerOp[]): Promise<void> {
    this.batches.push(ops.length)
    await this.apply(ops)
  }

  /** The calls that ran out of time go through now. */
  async land (): Promise<void> {
    const late = this.late
    this.late = []
    for (const ops of late) await this.apply(ops)
  }

  async configure (): Promise<void> {}
  async setFwmark (): Promise<void> {}
  async destroy (): Promise<void> {}
  calls (): number { return this.gets + this.applies.length }
}

const keys = Array.from({ length: 8 }, () => generateKeyPair().publicKey).sort() // sorted: index order = apply order
const peer = (i: number, over: Partial<DesiredPeer> = {}): DesiredPeer => desiredPeer(i, keys[i]!, over)

function capture (): { log: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({ write (chunk, _enc, cb) { lines.push(JSON.parse(String(chunk))); cb() } })
  return { log: pino({ level: 'info' }, stream), lines }
}

function deviceMatches (t: Test, dev: FakeDevice, want: DesiredPeer[]): void {
  t.same([...dev.peers.values()].map(p => [p.publicKey, p.endpoint, p.allowedIps, p.keepaliveSeconds]).sort(),
    want.map(p => [p.publicKey, p.endpoint, p.allowedIps, p.keepaliveSeconds]).sort(), 'device holds exactly the desired peers')
}

t.test('first reconcile reads the device once and adds; the same input again makes no device call', async (t) => {
  const dev = new FakeDevice()
  const r = new Reconciler({ device: dev, log: silentLogger() })
  const want = [peer(0), peer(1), peer(2)]
  const first = await r.reconcile(want)
  t.ok(first.ok)
  t.equal(first.readDevice, true)
  t.equal(first.applied.length, 3)
  deviceMatches(t, dev, want)
  const before = dev.calls()
  const second = await r.reconcile(want.map(p => ({ ...p })))
  t.equal(dev.calls(), before, 'zero device calls (no get, no apply)')
  t.same(second, { ok: true, applied: [], failed: [], notApplied: [], readDevice: false })
})

t.test('unchanged peers are never touched: one endpoint change = one device call for that peer', async (t) => {
  const dev = new FakeDevice()
  const r = new Reconciler({ device: dev, log: silentLogger() })
  await r.reconcile([peer(0), peer(1), peer(2)])
  dev.applies = []
  const res = await r.reconcile([peer(0), peer(1, { endpoint: '198.18.9.9:4000' }), peer(2)])
  t.equal(dev.applies.length, 1)
  t.same(dev.applies[0], {
    kind: 'update',
    peer: { publicKey: keys[1], endpoint: '198.18.9.9:4000', allowedIps: ['100.64.0.2/32'], keepaliveSeconds: 25 },
    fields: ['endpoint']
  })
  t.equal(res.applied[0]!.reason, 'endpoint-changed')
})

t.test('a failure mid-diff is reported, later independent changes still go in, and the next reconcile converges', async (t) => {
  const dev = new FakeDevice()
  const r = new Reconciler({ device: dev, log: silentLogger() })
  const want = [peer(0), peer(1), peer(2), peer(3)]
  dev.failOp = (op) => op.kind === 'add' && op.peer.publicKey === keys[1]
  const res = await r.reconcile(want)
  t.equal(res.ok, false)
  t.same(res.failed.map(f => f.change.nodeId), ['n1'])
  t.same(res.applied.map(c => c.nodeId).sort(), ['n0', 'n2', 'n3'])
  t.same(res.notApplied, [])
  t.equal(res.failed[0]!.error.constructor.name, 'PeerApplyError')
  t.notOk(dev.peers.has(keys[1]!), 'the failed peer is not half-applied')
  dev.failOp = null
  const gets = dev.gets
  const again = await r.reconcile(want)
  t.ok(again.ok)
  t.equal(again.readDevice, true, 're-reads the device after a failure')
  t.equal(dev.gets, gets + 1)
  t.same(again.applied.map(c => c.nodeId), ['n1'], 'only the missing peer is applied')
  deviceMatches(t, dev, want)
})

t.test('consecutive failures stop the reconcile; the untried rest is reported and applied next time', async (t) => {
  const dev = new FakeDevice()
  const r = new Reconciler({ device: dev, log: silentLogger(), maxConsecutiveFailures: 2 })
  const want = [0, 1, 2, 3, 4].map(i => peer(i))
  dev.failOp = () => true
  const res = await r.reconcile(want)
  t.equal(res.failed.length, 2)
  t.equal(res.notApplied.length, 3)
  t.equal(res.applied.length, 0)
  t.equal(dev.peers.size, 0)
  dev.failOp = null
  const again = await r.reconcile(want)
  t.ok(again.ok)
  t.equal(again.applied.length, 5)
  deviceMatches(t, dev, want)
})

t.test('changes go to the device in batches of batchSize, in diff order, each still logged on its own', async (t) => {
  const many = Array.from({ length: 7 }, () => generateKeyPair().publicKey).sort()
  const want = many.map((k, i): DesiredPeer => ({ ...peer(0), nodeId: `m${i}`, publicKey: k }))
  const dev = new FakeDevice()
  const { log, lines } = capture()
  const r = new Reconciler({ device: dev, log, batchSize: 3 })
  const res = await r.reconcile(want)
  t.ok(res.ok)
  t.same(dev.batches, [3, 3], 'two full batches')
  t.equal(dev.applies.length, 7, 'and the last change alone')
  t.same(dev.applies.map(op => op.kind === 'remove' ? op.publicKey : op.peer.publicKey), many, 'in diff order')
  t.same(lines.filter(l => l.event === 'wg.peer.add').map(l => l.nodeId), want.map(p => p.nodeId), 'one log line per peer')
  deviceMatches(t, dev, want)

  const single = new FakeDevice()
  await new Reconciler({ device: single, log: silentLogger(), batchSize: 1 }).reconcile(want)
  t.same(single.batches, [], 'batchSize 1: every change on its own')
})

t.test('a failed batch is retried change by change: the culprit fails alone, the rest goes in', async (t) => {
  const dev = new FakeDevice()
  const { log, lines } = capture()
  const r = new Reconciler({ device: dev, log })
  const want = [0, 1, 2, 3, 4].map(i => peer(i))
  dev.failOp = (op) => op.kind === 'add' && op.peer.publicKey === keys[3]
  const res = await r.reconcile(want)
  t.same(dev.batches, [5], 'the batch was tried first')
  t.same(res.failed.map(f => f.change.nodeId), ['n3'])
  t.same(res.applied.map(c => c.nodeId), ['n0', 'n1', 'n2', 'n4'], 'everything else applied once each in the results')
  t.equal(lines.filter(l => l.event === 'wg.batch.error').length, 1, 'the fallback is logged')
  t.equal(lines.filter(l => l.event === 'wg.peer.add').length, 4)
  t.notOk(dev.peers.has(keys[3]!))
  dev.failOp = null
  t.same((await r.reconcile(want)).applied.map(c => c.nodeId), ['n3'])
  deviceMatches(t, dev, want)
})

t.test('an unreadable device applies nothing and reports it; the next reconcile converges', async (t) => {
  const dev = new FakeDevice()
  const r = new Reconciler({ device: dev, log: silentLogger() })
  dev.failGet = true
  const res = await r.reconcile([peer(0)])
  t.equal(res.ok, false)
  t.match(res.readError?.message, /socket gone/)
  t.equal(dev.applies.length, 0)
  dev.failGet = false
  t.ok((await r.reconcile([peer(0)])).ok)
  deviceMatches(t, dev, [peer(0)])
})

t.test('adoption: existing peers are kept, strangers removed, a freshly roamed endpoint left alone', async (t) => {
  const clock = new ManualClock(1_700_000_000_000)
  const dev = new FakeDevice()
  const base = (i: number, endpoint: string, hs: number): DevicePeer =>
    ({ publicKey: keys[i]!, endpoint, allowedIps: [`100.64.0.${i + 1}/32`], keepaliveSeconds: 25, lastHandshakeAt: hs, rxBytes: 1, txBytes: 1 })
  dev.peers.set(keys[0]!, base(0, '198.18.1.1:51820', clock.now() - 5000)) // as in the netmap
  dev.peers.set(keys[1]!, base(1, '198.18.77.7:40000', clock.now() - 5000)) // roamed, session alive
  dev.peers.set(keys[2]!, base(2, '198.18.77.8:40000', clock.now() - 600_000)) // roamed, session long dead
  dev.peers.set(keys[5]!, base(5, '198.18.1.6:51820', 0)) // not in the netmap any more
  const r = new Reconciler({ device: dev, log: silentLogger(), clock })
  const res = await r.reconcile([peer(0), peer(1), peer(2)])
  t.same(res.applied.map(c => `${c.op.kind} ${String(c.nodeId)}`), ['remove null', 'update n2'])
  t.equal(dev.peers.get(keys[1]!)!.endpoint, '198.18.77.7:40000', 'live roamed endpoint kept')
  t.equal(dev.peers.get(keys[2]!)!.endpoint, '198.18.1.3:51820', 'dead session pointed back at the netmap endpoint')
  t.equal((await r.reconcile([peer(0), peer(1), peer(2)])).applied.length, 0)
  const moved = await r.reconcile([peer(0), peer(1, { endpoint: '198.18.1.22:51820' }), peer(2)])
  t.same(moved.applied.map(c => c.reason), ['endpoint-changed'], 'a real netmap change still updates the roamed peer')
})

t.test('logs carry event, node id, mesh IP, incarnation, key, endpoint and reason', async (t) => {
  const dev = new FakeDevice()
  const { log, lines } = capture()
  const r = new Reconciler({ device: dev, log, incarnationOf: id => id === 'n1' ? 1795000000 : undefined })
  await r.reconcile([peer(0), peer(1)])
  await r.reconcile({
    peers: [peer(0, { endpoint: '198.18.3.3:1' })],
    excluded: [{ nodeId: 'n1', publicKey: keys[1]!, meshIp: '100.64.0.2', reason: 'swim-dead' }]
  })
  const ev = lines.filter(l => typeof l.event === 'string' && (l.event as string).startsWith('wg.peer.'))
  t.same(ev.map(l => [l.event, l.nodeId, l.reason]), [
    ['wg.peer.add', 'n0', 'in-netmap'], ['wg.peer.add', 'n1', 'in-netmap'],
    ['wg.peer.remove', 'n1', 'swim-dead'], ['wg.peer.update', 'n0', 'endpoint-changed']
  ])
  t.match(ev[0], { meshIp: '100.64.0.1', publicKey: keys[0], endpoint: '198.18.1.1:51820', component: 'reconciler' })
  t.match(ev[2], { meshIp: '100.64.0.2', publicKey: keys[1], incarnation: 1795000000 })
})

t.test('wg.peer.* lines name the peer by hostname, in a field and in the message, removals included', async (t) => {
  const dev = new FakeDevice()
  const { log, lines } = capture()
  const r = new Reconciler({ device: dev, log })
  await r.reconcile([peer(1), peer(2)])
  await r.reset(keys[1]!, 'no-handshake')
  await r.reconcile({
    peers: [peer(1, { endpoint: '198.18.3.3:1' })],
    excluded: [{ nodeId: 'n2', publicKey: keys[2]!, meshIp: '100.64.0.3', reason: 'swim-dead' }]
  })
  const ev = lines.filter(l => typeof l.event === 'string' && (l.event as string).startsWith('wg.peer.'))
  t.same(ev.map(l => [l.event, l.hostname]), [
    ['wg.peer.add', 'host-1'], ['wg.peer.add', 'host-2'], ['wg.peer.reset', 'host-1'],
    ['wg.peer.remove', 'host-2'], ['wg.peer.update', 'host-1']
  ])
  for (const l of ev) t.match(l.msg, new RegExp(`: ${String(l.hostname)}$`), `${String(l.event)} message names ${String(l.hostname)}`)
})

t.test('beforeRemove sees the keys about to be removed while they are still on the device', async (t) => {
  const dev = new FakeDevice()
  const seen: Array<{ keys: string[], onDevice: boolean[] }> = []
  const r = new Reconciler({
    device: dev,
    log: silentLogger(),
    beforeRemove: async k => { seen.push({ keys: [...k], onDevice: k.map(x => dev.peers.has(x)) }) }
  })
  await r.reconcile([peer(0), peer(1), peer(2)])
  t.same(seen, [], 'not called when nothing is removed')
  await r.reconcile([peer(1)])
  t.same(seen, [{ keys: [keys[0], keys[2]], onDevice: [true, true] }])
  t.notOk(dev.peers.has(keys[0]!), 'then removed')
  const failing = new Reconciler({ device: new FakeDevice(), log: silentLogger(), beforeRemove: async () => { throw new Error('read failed') } })
  await failing.reconcile([peer(0)])
  t.ok((await failing.reconcile([])).ok, 'a failing hook does not stop the removal')
})

t.test('concurrent reconciles are serialised and the later input wins', async (t) => {
  const dev = new FakeDevice()
  const r = new Reconciler({ device: dev, log: silentLogger() })
  const [a, b] = await Promise.all([r.reconcile([peer(0), peer(1)]), r.reconcile([peer(1), peer(2)])])
  t.ok(a.ok && b.ok)
  t.same(b.applied.map(c => `${c.op.kind} ${String(c.nodeId)}`).sort(), ['add n2', 'remove n0'])
  deviceMatches(t, dev, [peer(1), peer(2)])
})

t.test('held desired peers (the other end initiates) are added with the keepalive off; arm sets it once', async (t) => {
  const dev = new FakeDevice()
  const r = new Reconciler({ device: dev, log: silentLogger() })
  const want = [0, 1, 2, 3, 5, 6, 7].map(i => peer(i, { held: i < 4 }))
  t.ok((await r.reconcile(want)).ok)
  for (const i of [0, 1, 2, 3]) {
    t.match(dev.peers.get(keys[i]!), {
      endpoint: `198.18.1.${i + 1}:51820`,
      keepaliveSeconds: 0
    }, `n${i} (smaller key) initiates: keepalive held`)
  }
  for (const i of [5, 6, 7]) t.match(dev.peers.get(keys[i]!), { keepaliveSeconds: 25 }, `n${i} (larger key): we initiate at once`)
  const before = dev.calls()
  t.equal((await r.reconcile(want)).applied.length, 0, 'a held keepalive is not a difference to reconcile')
  t.equal(dev.calls(), before, 'no device call')
  dev.applies = []
  await r.arm([keys[1]!, keys[6]!])
  t.same(dev.applies, [{
    kind: 'update',
    peer: { publicKey: keys[1], endpoint: '198.18.1.2:51820', allowedIps: ['100.64.0.2/32'], keepaliveSeconds: 25 },
    fields: ['keepaliveSeconds']
  }],
  'only the held peer is touched')
  await r.arm([keys[1]!])
  t.equal(dev.applies.length, 1, 'a second arm makes no call')
  t.ok((await r.reconcile(want.filter(p => p.nodeId !== 'n3'))).ok)
  await r.arm([keys[3]!])
  t.notOk(dev.peers.has(keys[3]!), 'a removed peer is not brought back by its arm')
  dev.applies = []
  t.equal(await r.reset(keys[2]!, 'dark-receive'), true)
  t.match(dev.applies, [{ kind: 'remove' }, { kind: 'add', peer: { keepaliveSeconds: 25 } }], 'a reset adds the whole config, so the fresh peer initiates')
  await r.arm([keys[2]!])
  t.equal(dev.applies.length, 2, 'nothing left to arm after a reset')
})

t.test('arming many held peers is one device transaction per batch', async (t) => {
  const dev = new FakeDevice()
  const r = new Reconciler({ device: dev, log: silentLogger(), batchSize: 4 })
  const want = [0, 1, 2, 3, 4, 5, 6].map(i => peer(i, { held: true }))
  t.ok((await r.reconcile(want)).ok)
  t.ok([0, 1, 2, 3, 4, 5, 6].every(i => dev.peers.get(keys[i]!)!.keepaliveSeconds === 0), 'all seven held')
  dev.batches = []
  dev.applies = []
  await r.arm(want.map(p => p.publicKey))
  t.same(dev.batches, [4, 3], 'a full batch, then the last three')
  t.equal(dev.applies.length, 4 + 3)
  t.ok([0, 1, 2, 3, 4, 5, 6].every(i => dev.peers.get(keys[i]!)!.keepaliveSeconds === 25), 'every keepalive armed')
})

t.test('after a device re-read, a held keepalive shows as a difference and the next reconcile sets it', async (t) => {
  const dev = new FakeDevice()
  const r = new Reconciler({ device: dev, log: silentLogger() })
  await r.reconcile([peer(0, { held: true })])
  t.equal(dev.peers.get(keys[0]!)!.keepaliveSeconds, 0)
  r.invalidate()
  const res = await r.reconcile([peer(0, { held: true })])
  t.same(res.applied.map(c => c.reason), ['keepalive-changed'])
  t.equal(dev.peers.get(keys[0]!)!.keepaliveSeconds, 25)
})

t.test('reset re-creates one applied peer with the same config and logs wg.peer.reset', async (t) => {
  const dev = new FakeDevice()
  const { log, lines } = capture()
  const r = new Reconciler({ device: dev, log })
  await r.reconcile([peer(1), peer(2)])
  dev.applies = []
  t.equal(await r.reset(keys[1]!, 'no-handshake'), true)
  t.same(dev.applies.map(op => op.kind), ['remove', 'add'])
  deviceMatches(t, dev, [peer(1), peer(2)])
  t.match(lines.find(l => l.event === 'wg.peer.reset'), { nodeId: 'n1', meshIp: '100.64.0.2', reason: 'no-handshake' })
  t.equal(await r.reset(keys[5]!, 'no-handshake'), false, 'a peer that is not applied is left alone')
  dev.failOp = op => op.kind === 'add'
  t.equal(await r.reset(keys[2]!, 'no-handshake'), false, 'a failed reset reports false')
  dev.failOp = null
  t.ok((await r.reconcile([peer(1), peer(2)])).ok)
  deviceMatches(t, dev, [peer(1), peer(2)])
})

t.test('a call that ran out of time leaves the reconciler stale until a read made after it had time to land', async (t) => {
  const dev = new FakeDevice()
  const clock = new ManualClock()
  const r = new Reconciler({ device: dev, log: silentLogger(), clock, timeoutSettleMs: 10_000 })
  const want = [peer(1), peer(2)]
  await r.reconcile(want)
  t.equal(r.stale, false)
  // A reset whose remove and add both time out; wireguard-go will carry out only the remove, later.
  dev.timeOut = true
  t.equal(await r.reset(keys[1]!, 'no-handshake'), false)
  dev.timeOut = false
  dev.late = [[dev.late[0]![0]!]]
  t.equal(r.stale, true, 'the device is unknown after the timeout')

  let res = await r.reconcile(want)
  t.ok(res.ok && res.readDevice)
  t.same(res.applied, [], 'the re-read still shows the peer: nothing to do yet')
  t.equal(r.stale, true, 'a read inside the settle time is not trusted')

  await dev.land()
  t.notOk(dev.peers.has(keys[1]!), 'the late remove went through')
  clock.advance(10_000)
  res = await r.reconcile(want)
  t.ok(res.readDevice)
  t.same(res.applied.map(c => c.op.kind), ['add'], 'the next read, after the settle time, finds the peer missing and adds it')
  deviceMatches(t, dev, want)
  t.equal(r.stale, false)
  res = await r.reconcile(want)
  t.equal(res.readDevice, false, 'trusted again: no more reads')
})

t.test('a failed reset or arm leaves the reconciler stale, so its owner knows to reconcile', async (t) => {
  const dev = new FakeDevice()
  const r = new Reconciler({ device: dev, log: silentLogger() })
  const want = [peer(1, { held: true }), peer(2, { held: true })]
  await r.reconcile(want)
  dev.failOp = () => true
  await r.arm([keys[1]!])
  t.equal(r.stale, true, 'after a failed arm')
  dev.failOp = null
  await r.reconcile(want)
  t.equal(r.stale, false)
  dev.failOp = op => op.kind === 'add'
  await r.reset(keys[2]!, 'no-handshake')
  t.equal(r.stale, true, 'after a failed reset')
  t.notOk(dev.peers.has(keys[2]!), 'the reset took the peer out')
  dev.failOp = null
  await r.reconcile(want)
  t.ok(dev.peers.has(keys[2]!), 'the next reconcile puts it back (held: this end does not initiate)')
  t.equal(r.stale, false)
})
