/**
 * A hundred thousand hostile datagrams (fuzz.ts) at a running DnsServer. Afterwards the server still answers
 * correctly and has counted what it dropped.
 */
import t from 'tap'
import { createSocket } from 'node:dgram'
import dnsPacket from 'dns-packet'
import { systemClock } from '../../lib/clock.js'
import { DnsServer } from '../../lib/dns/server.js'
import { buildZone } from '../../lib/dns/zone.js'
import { silentLogger } from '../../lib/log.js'
import { askTcp, askUdp, namedNode, netmapOf, queryBytes } from './helpers.js'
import { hostileDatagrams } from './fuzz.js'

const DATAGRAMS = 100_000
/** Datagrams sent before waiting for the server to read them all: few enough that the socket buffer never drops one. */
const BATCH = 128

const next = hostileDatagrams(53)

t.test('100,000 hostile datagrams: nothing escapes, every one is read, and the server still answers', async t => {
  t.setTimeout(120_000)
  const server = new DnsServer({ clock: systemClock, log: silentLogger() })
  server.setZone(buildZone(netmapOf([namedNode(0, 'web', '100.64.0.1')])))
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => server.close())
  const client = createSocket('udp4')
  client.on('message', () => {})
  await new Promise<void>(resolve => client.bind(0, '127.0.0.1', () => resolve()))
  t.teardown(() => client.close())

  const t0 = performance.now()
  for (let sent = 0; sent < DATAGRAMS;) {
    for (let k = 0; k < BATCH && sent < DATAGRAMS; k++, sent++) client.send(next(), port, '127.0.0.1')
    const want = sent
    while (server.counters.udpQueries < want) {
      if (performance.now() - t0 > 100_000) throw new Error(`the server read ${server.counters.udpQueries} of ${want}`)
      await new Promise(resolve => setImmediate(resolve))
    }
  }
  const c = server.counters
  t.equal(c.udpQueries, DATAGRAMS, 'every datagram reached the server')
  t.equal(c.internalErrors, 0, 'no query made the server throw')
  t.ok(c.malformed > DATAGRAMS / 2, `most were dropped as malformed (${c.malformed})`)
  t.ok(c.formErrors > 0 && c.notImplemented > 0 && c.refused > 0, 'and the decodable odd ones were answered')
  t.comment(`${DATAGRAMS} datagrams in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(c)}`)

  const udp = dnsPacket.decode(await askUdp(port, queryBytes('web.weft.internal', 'A')))
  t.equal(udp.answers?.[0]?.type === 'A' && udp.answers[0].data, '100.64.0.1')
  const [tcp] = await askTcp(port, [queryBytes('web.weft.internal', 'A')])
  const answer = dnsPacket.decode(tcp!).answers?.[0]
  t.equal(answer?.type === 'A' && answer.data, '100.64.0.1')
})
