import t from 'tap'
import { upstreamOf, upstreamsAt } from '../../lib/dns/upstreams.js'

t.test('upstreamOf: IPv4 and IPv6 literals on port 53; anything else is none', async t => {
  t.same(upstreamOf('192.0.2.53'), { address: '192.0.2.53', port: 53, family: 4 })
  t.same(upstreamOf('2001:DB8::53'), { address: '2001:db8::53', port: 53, family: 6 })
  t.same(upstreamOf('fe80::1%eth0'), { address: 'fe80::1%eth0', port: 53, family: 6 })
  for (const bad of ['not-an-address', '', '192.0.2.256', 'dns.example']) t.equal(upstreamOf(bad), null, bad)
})

t.test('upstreamsAt: in order, each once, non-addresses left out', async t => {
  t.same(upstreamsAt(['192.0.2.53', 'nope', '2001:DB8::53', '2001:db8::53', '192.0.2.53', '198.51.100.1']).map(u => u.address),
    ['192.0.2.53', '2001:db8::53', '198.51.100.1'])
  t.same(upstreamsAt([]), [])
})
