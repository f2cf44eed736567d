import t, { type Test } from 'tap'
import { connect, type Socket } from 'node:net'
import dnsPacket, { type DecodedPacket } from 'dns-packet'
import { ManualClock, systemClock, type Clock } from '../../lib/clock.js'
import { Forwarder } from '../../lib/dns/forwarder.js'
import { FrameReader, Rcode, frame } from '../../lib/dns/message.js'
import { DnsServer, type DnsServerOptions } from '../../lib/dns/server.js'
import { upstreamOf } from '../../lib/dns/upstreams.js'
import { buildZone } from '../../lib/dns/zone.js'
import { silentLogger } from '../../lib/log.js'
import { FakeUpstream, askTcp, askUdp, namedNode, netmapOf, optRecord, queryBytes, rcode, until, upstreamA } from './helpers.js'

const NODES = [namedNode(0, 'web', '100.64.0.1'), namedNode(1, 'db', '100.64.0.2')]

/** A server on 127.0.0.1 with the zone of NODES in `cidr`; closed at the end of the test. */
async function serve (t: Test, o: Partial<DnsServerOptions> & { cidr?: string, clock?: Clock } = {}): Promise<{ server: DnsServer, port: number }> {
  const server = new DnsServer({ clock: systemClock, log: silentLogger(), ...o })
  server.setZone(buildZone(netmapOf(NODES, { cidr: o.cidr ?? '100.64.0.0/10' })))
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => server.close())
  return { server, port }
}

const decode = (b: Buffer): DecodedPacket => dnsPacket.decode(b)
const firstA = (p: DecodedPacket): string | undefined => {
  const a = p.answers?.[0]
  return a?.type === 'A' || a?.type === 'PTR' ? a.data : undefined
}

/** A client connection that records whether the server closed it. */
async function open (port: number): Promise<{ sock: Socket, closed: () => boolean }> {
  const sock = connect({ host: '127.0.0.1', port })
  let closed = false
  sock.on('close', () => { closed = true })
  sock.on('error', () => {})
  await new Promise<void>(resolve => sock.once('connect', () => resolve()))
  return { sock, closed: () => closed }
}

t.test('answers the zone over UDP and TCP on one ephemeral port', async t => {
  const { server, port } = await serve(t)
  t.ok(port > 0)
  const hit = decode(await askUdp(port, queryBytes('web.weft.internal', 'A')))
  t.equal(firstA(hit), '100.64.0.1')
  t.equal(hit.flag_aa, true)
  const miss = decode(await askUdp(port, queryBytes('nope.weft.internal', 'A')))
  t.equal(rcode(miss), Rcode.NXDOMAIN)
  const [ptr] = await askTcp(port, [queryBytes('2.0.64.100.in-addr.arpa', 'PTR')])
  t.equal(firstA(decode(ptr!)), 'db.weft.internal')
  const [nodata] = await askTcp(port, [queryBytes('web.weft.internal', 'AAAA')])
  t.equal(rcode(decode(nodata!)), Rcode.NOERROR)
  t.match(server.counters, { udpQueries: 2, tcpQueries: 2, answered: 2, nxdomain: 1, nodata: 1, tcpConnections: 2 })
})

t.test('an EDNS query gets an OPT record back', async t => {
  const { port } = await serve(t)
  const r = decode(await askUdp(port, queryBytes('web.weft.internal', 'A', { additionals: [optRecord(4096)] })))
  const opt = r.additionals?.find(a => a.type === 'OPT')
  t.equal(opt?.type === 'OPT' && opt.udpPayloadSize, 1232)
})

t.test('setZone swaps the names served', async t => {
  const { server, port } = await serve(t)
  server.setZone(buildZone(netmapOf([namedNode(0, 'web', '100.64.0.9')])))
  t.equal(firstA(decode(await askUdp(port, queryBytes('web.weft.internal', 'A')))), '100.64.0.9')
  server.setZone(null)
  t.equal(rcode(decode(await askUdp(port, queryBytes('web.weft.internal', 'A')))), Rcode.REFUSED, 'no zone, no forwarder: refused')
})

t.test('pipelined TCP queries on one connection are all answered, each under its own id', async t => {
  const { server, port } = await serve(t, { maxTcpPipeline: 4 })
  const names = ['web', 'db', 'nope', 'web', 'db', 'nope', 'web', 'db', 'nope', 'web']
  const queries = names.map((n, i) => queryBytes(`${n}.weft.internal`, 'A', { id: 100 + i }))
  const replies = (await askTcp(port, queries)).map(decode).sort((a, b) => a.id! - b.id!)
  t.same(replies.map(r => r.id), names.map((_, i) => 100 + i))
  t.same(replies.map(r => firstA(r) ?? 'NX'), names.map(n => ({ web: '100.64.0.1', db: '100.64.0.2', nope: 'NX' })[n]))
  t.equal(server.counters.tcpQueries, 10)
})

t.test('a client that half-closes after its queries still gets the answers, then the server closes', async t => {
  const { port } = await serve(t)
  const c = await open(port)
  const reader = new FrameReader()
  const got: Buffer[] = []
  c.sock.on('data', b => got.push(...reader.push(b)))
  c.sock.end(Buffer.concat([frame(queryBytes('web.weft.internal', 'A')), frame(queryBytes('db.weft.internal', 'A'))]))
  await until('the server to close', c.closed)
  t.same(got.map(decode).map(firstA).sort(), ['100.64.0.1', '100.64.0.2'], 'both answers arrived before the close')
})

t.test('a datagram that does not decode is counted and dropped; the server keeps answering', async t => {
  const { server, port } = await serve(t)
  const { createSocket } = await import('node:dgram')
  const s = createSocket('udp4')
  t.teardown(() => s.close())
  let replies = 0
  s.on('message', () => { replies++ })
  for (const junk of [Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(600, 0xff)]) s.send(junk, port, '127.0.0.1')
  const response = queryBytes('web.weft.internal', 'A', { type: 'response' })
  s.send(response, port, '127.0.0.1')
  await until('four datagrams in', () => server.counters.udpQueries === 4)
  t.equal(server.counters.malformed, 4, 'three undecodable, one with the response bit')
  t.equal(firstA(decode(await askUdp(port, queryBytes('web.weft.internal', 'A')))), '100.64.0.1')
  t.equal(replies, 0, 'nothing was answered')
})

t.test('a TCP message that does not decode closes its connection', async t => {
  const { server, port } = await serve(t)
  const c = await open(port)
  c.sock.write(frame(Buffer.from('not dns at all')))
  await until('the server to close', c.closed)
  t.equal(server.counters.malformed, 1)
})

t.test('past the connection cap a new connection is closed at once and counted', async t => {
  const { server, port } = await serve(t, { maxTcpConnections: 2 })
  const a = await open(port)
  const b = await open(port)
  await until('two accepted', () => server.counters.tcpConnections === 2)
  const c = await open(port)
  await until('the third closed', c.closed)
  t.equal(server.counters.tcpRejected, 1)
  t.notOk(a.closed() || b.closed(), 'the first two stay open')
  a.sock.destroy()
  await until('the server to drop a', () => server.openTcpConnections === 1)
  const [r] = await askTcp(port, [queryBytes('web.weft.internal', 'A')])
  t.equal(firstA(decode(r!)), '100.64.0.1', 'a closed connection frees its slot')
  b.sock.destroy()
})

t.test('an idle TCP connection is closed after tcpIdleMs on the injected clock', async t => {
  const clock = new ManualClock()
  const { server, port } = await serve(t, { clock, tcpIdleMs: 10_000 })
  const c = await open(port)
  await until('accepted', () => server.counters.tcpConnections === 1)
  clock.advance(9_999)
  await new Promise(resolve => setImmediate(resolve))
  t.notOk(c.closed(), 'open before 10 s')
  clock.advance(1)
  await until('closed at 10 s', c.closed)
})

t.test('forwarding: a client inside the mesh CIDR is forwarded, one outside is refused', async t => {
  const up = await new FakeUpstream(q => upstreamA(q, '192.0.2.44')).start()
  t.teardown(() => up.stop())
  const forwarder = new Forwarder({ upstreams: [{ ...upstreamOf('127.0.0.1')!, port: up.port }], clock: systemClock, log: silentLogger() })
  t.teardown(() => forwarder.close())

  const outside = await serve(t, { forwarder })
  const refused = decode(await askUdp(outside.port, queryBytes('example.com', 'A')))
  t.equal(rcode(refused), Rcode.REFUSED)
  t.equal(refused.flag_ra, false, 'no recursion offered to this client')
  t.equal(outside.server.counters.refused, 1)
  t.equal(up.asked.udp, 0)

  const inside = await serve(t, { forwarder, cidr: '127.0.0.0/8' })
  const udp = decode(await askUdp(inside.port, queryBytes('example.com', 'A')))
  t.equal(firstA(udp), '192.0.2.44')
  t.equal(udp.id, 4242)
  const [tcp] = await askTcp(inside.port, [queryBytes('example.com', 'A', { id: 9 })])
  t.equal(decode(tcp!).id, 9)
  t.same(up.asked, { udp: 1, tcp: 1 }, 'a TCP client is forwarded over TCP')
  t.equal(inside.server.counters.forwarded, 2)
  const local = decode(await askUdp(inside.port, queryBytes('web.weft.internal', 'A')))
  t.equal(local.flag_ra, true, 'RA set for a client that may recurse')
  t.equal(firstA(local), '100.64.0.1', 'the zone is still answered locally')
})

t.test('forwarding to a silent upstream ends in SERVFAIL after the timeout, on the injected clock', async t => {
  const up = await new FakeUpstream(() => null).start()
  t.teardown(() => up.stop())
  const clock = new ManualClock()
  const forwarder = new Forwarder({ upstreams: [{ ...upstreamOf('127.0.0.1')!, port: up.port }], clock, log: silentLogger() })
  const { server, port } = await serve(t, { forwarder, cidr: '127.0.0.0/8', clock })
  const reply = askUdp(port, queryBytes('example.com', 'A'))
  await until('the upstream to be asked', () => up.asked.udp === 1)
  clock.advance(2000)
  const r = decode(await reply)
  t.equal(rcode(r), Rcode.SERVFAIL)
  t.same(r.questions, [{ name: 'example.com', type: 'A', class: 'IN' }])
  t.equal(server.counters.forwardFailures, 1)
})

t.test('listen on an address this host does not have is a ConfigError', async t => {
  const server = new DnsServer({ clock: systemClock, log: silentLogger() })
  await t.rejects(server.listen({ host: '192.0.2.1', port: 0 }), { code: 'WEFT_ERR_CONFIG' })
})
