import t, { type Test } from 'tap'
import dnsPacket, { type DecodedPacket } from 'dns-packet'
import { ManualClock, systemClock } from '../../lib/clock.js'
import { ConfigError } from '../../lib/errors.js'
import { Forwarder, type ForwardRequest, type ForwardResult } from '../../lib/dns/forwarder.js'
import { Rcode } from '../../lib/dns/message.js'
import { upstreamOf, type Upstream } from '../../lib/dns/upstreams.js'
import { silentLogger } from '../../lib/log.js'
import { FakeUpstream, queryBytes, rcode, until, upstreamA, type UpstreamScript } from './helpers.js'
import { freePort } from '../daemon/udp.js'

const at = (port: number): Upstream => ({ ...upstreamOf('127.0.0.1')!, port })

function request (name = 'example.com', transport: 'udp' | 'tcp' = 'udp', udpLimit = 512): ForwardRequest {
  const bytes = queryBytes(name, 'A')
  return { bytes, question: { name, type: 'A', class: 'IN' }, transport, udpLimit }
}

async function upstream (t: Test, script: UpstreamScript): Promise<FakeUpstream> {
  const u = await new FakeUpstream(script).start()
  t.teardown(() => u.stop())
  return u
}

const answers = (ip: string): UpstreamScript => q => upstreamA(q, ip)
const silent: UpstreamScript = () => null

function decoded (r: ForwardResult): DecodedPacket {
  if (!r.ok) throw new Error(`forward failed: ${r.reason}`)
  return dnsPacket.decode(r.bytes)
}

t.test('relays the upstream answer under the client id; the upstream sees a random one', async t => {
  const seen: number[] = []
  const u = await upstream(t, q => { seen.push(q.id!); return upstreamA(q, '192.0.2.7') })
  const f = new Forwarder({ upstreams: [at(u.port)], clock: systemClock, log: silentLogger(), randomId: () => 777 })
  const r = decoded(await f.forward(request()))
  t.equal(r.id, 4242)
  t.same(seen, [777])
  t.equal(r.answers?.[0]?.type === 'A' && r.answers[0].data, '192.0.2.7')
  t.equal(f.inFlight, 0)
})

t.test('a silent upstream times out on the injected clock, and the next one answers', async t => {
  const quiet = await upstream(t, silent)
  const good = await upstream(t, answers('192.0.2.8'))
  const clock = new ManualClock()
  const f = new Forwarder({ upstreams: [at(quiet.port), at(good.port)], clock, log: silentLogger() })
  const pending = f.forward(request())
  await until('the first upstream to be asked', () => quiet.asked.udp === 1)
  t.equal(good.asked.udp, 0, 'the second waits for the first to time out')
  clock.advance(1999)
  t.equal(good.asked.udp, 0, 'not before 2 s')
  clock.advance(1)
  const r = decoded(await pending)
  t.equal(r.answers?.[0]?.type === 'A' && r.answers[0].data, '192.0.2.8')
  t.equal(f.counters.timeouts, 1)
  t.equal(clock.timers, 0, 'no timer left behind')
})

t.test('every upstream silent: failed, after one timeout each', async t => {
  const a = await upstream(t, silent)
  const b = await upstream(t, silent)
  const clock = new ManualClock()
  const f = new Forwarder({ upstreams: [at(a.port), at(b.port)], clock, log: silentLogger(), timeoutMs: 500 })
  const pending = f.forward(request())
  await until('a asked', () => a.asked.udp === 1)
  clock.advance(500)
  await until('b asked', () => b.asked.udp === 1)
  clock.advance(500)
  t.same(await pending, { ok: false, reason: 'failed' })
  t.equal(f.counters.timeouts, 2)
})

t.test('an upstream with nothing listening fails at once (ICMP), without waiting for the timeout', async t => {
  const good = await upstream(t, answers('192.0.2.9'))
  const f = new Forwarder({ upstreams: [at(await freePort()), at(good.port)], clock: new ManualClock(), log: silentLogger() })
  const r = decoded(await f.forward(request()))
  t.equal(r.answers?.[0]?.type === 'A' && r.answers[0].data, '192.0.2.9')
  t.equal(f.counters.errors, 1)
})

t.test('answers to another id or another question are not taken', async t => {
  const u = await upstream(t, q => ({ ...upstreamA(q, '192.0.2.66'), questions: [{ name: 'other.example', type: 'A', class: 'IN' }] }))
  const clock = new ManualClock()
  const f = new Forwarder({ upstreams: [at(u.port)], clock, log: silentLogger() })
  const pending = f.forward(request())
  await until('asked', () => u.asked.udp === 1)
  clock.advance(2000)
  t.same(await pending, { ok: false, reason: 'failed' })
})

t.test('a truncated UDP answer is fetched again over TCP', async t => {
  const u = await upstream(t, (q, transport) => transport === 'udp'
    ? { ...upstreamA(q, '192.0.2.1'), answers: [], flags: dnsPacket.TRUNCATED_RESPONSE }
    : upstreamA(q, '192.0.2.10'))
  const f = new Forwarder({ upstreams: [at(u.port)], clock: systemClock, log: silentLogger() })
  const r = decoded(await f.forward(request()))
  t.equal(r.flag_tc, false)
  t.equal(r.answers?.[0]?.type === 'A' && r.answers[0].data, '192.0.2.10')
  t.same(u.asked, { udp: 1, tcp: 1 })
  t.equal(f.counters.tcpRetries, 1)
})

t.test('a TCP answer too long for the client over UDP is relayed truncated, as UDP gave it', async t => {
  const many = (q: DecodedPacket): dnsPacket.Packet => ({
    ...upstreamA(q, '192.0.2.1'),
    answers: Array.from({ length: 60 }, (_, i) => ({ name: 'example.com', type: 'A' as const, ttl: 5, data: `192.0.2.${i}` }))
  })
  const u = await upstream(t, (q, transport) => transport === 'udp'
    ? { ...upstreamA(q, '192.0.2.1'), answers: [], flags: dnsPacket.TRUNCATED_RESPONSE }
    : many(q))
  const f = new Forwarder({ upstreams: [at(u.port)], clock: systemClock, log: silentLogger() })
  const r = decoded(await f.forward(request('example.com', 'udp', 512)))
  t.equal(r.flag_tc, true)
  const whole = decoded(await f.forward(request('example.com', 'tcp')))
  t.equal(whole.answers?.length, 60, 'a TCP client gets all of it')
})

t.test('a TCP query goes over TCP only', async t => {
  const u = await upstream(t, answers('192.0.2.11'))
  const f = new Forwarder({ upstreams: [at(u.port)], clock: systemClock, log: silentLogger() })
  const r = decoded(await f.forward(request('example.com', 'tcp')))
  t.equal(r.answers?.[0]?.type === 'A' && r.answers[0].data, '192.0.2.11')
  t.same(u.asked, { udp: 0, tcp: 1 })
})

t.test('SERVFAIL moves on to the next upstream; when every one says so, the last is relayed', async t => {
  const sick = await upstream(t, q => ({ ...upstreamA(q, '0.0.0.0'), answers: [], flags: Rcode.SERVFAIL }))
  const good = await upstream(t, answers('192.0.2.12'))
  const f = new Forwarder({ upstreams: [at(sick.port), at(good.port)], clock: systemClock, log: silentLogger() })
  t.equal(decoded(await f.forward(request())).answers?.length, 1)
  f.setUpstreams([at(sick.port)])
  t.equal(rcode(decoded(await f.forward(request()))), Rcode.SERVFAIL)
})

t.test('past maxInFlight a forward fails at once as busy', async t => {
  const u = await upstream(t, silent)
  const clock = new ManualClock()
  const f = new Forwarder({ upstreams: [at(u.port)], clock, log: silentLogger(), maxInFlight: 1 })
  const first = f.forward(request())
  t.same(await f.forward(request()), { ok: false, reason: 'busy' })
  t.equal(f.counters.busy, 1)
  await until('asked', () => u.asked.udp === 1)
  clock.advance(2000)
  t.same(await first, { ok: false, reason: 'failed' })
})

t.test('no upstreams, and close(), end forwards at once', async t => {
  const none = new Forwarder({ upstreams: [], clock: systemClock, log: silentLogger() })
  t.same(await none.forward(request()), { ok: false, reason: 'no-upstreams' })
  const u = await upstream(t, silent)
  const clock = new ManualClock()
  const f = new Forwarder({ upstreams: [at(u.port)], clock, log: silentLogger() })
  const pending = f.forward(request())
  await until('asked', () => u.asked.udp === 1)
  f.close()
  t.same(await pending, { ok: false, reason: 'closed' })
  t.same(await f.forward(request()), { ok: false, reason: 'closed' })
  t.equal(clock.timers, 0)
})

t.test('options that cannot work are a ConfigError', async t => {
  for (const bad of [{ timeoutMs: 0 }, { timeoutMs: 1.5 }, { maxInFlight: 0 }]) {
    t.throws(() => new Forwarder({ upstreams: [], clock: systemClock, log: silentLogger(), ...bad }), ConfigError, JSON.stringify(bad))
  }
})
