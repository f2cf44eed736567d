import t from 'tap'
import { IMPLIED_NAMESERVER, parseResolvConf, upstreamsOf } from '../../lib/dns/resolv-conf.js'

t.test('parsing follows glibc: comments skipped, the last search or domain wins, options add up', async (t) => {
  const cases: Array<[string, string, ReturnType<typeof parseResolvConf>]> = [
    ['empty', '', { nameservers: [], search: [], options: [] }],
    ['servers in order, v4 and v6', 'nameserver 192.0.2.1\nnameserver 2001:db8::1\n', { nameservers: ['192.0.2.1', '2001:db8::1'], search: [], options: [] }],
    ['comments both ways, a trailing one too', '# x\n; y\nnameserver 192.0.2.1 # primary\n', { nameservers: ['192.0.2.1'], search: [], options: [] }],
    ['tabs and leading blanks', '  nameserver\t192.0.2.1\n\tsearch a.example  b.example\n',
      { nameservers: ['192.0.2.1'], search: ['a.example', 'b.example'], options: [] }],
    ['domain after search wins', 'search a.example b.example\ndomain c.example\n', { nameservers: [], search: ['c.example'], options: [] }],
    ['search after domain wins', 'domain c.example\nsearch a.example\n', { nameservers: [], search: ['a.example'], options: [] }],
    ['options on several lines', 'options ndots:2\noptions timeout:1 rotate\n', { nameservers: [], search: [], options: ['ndots:2', 'timeout:1', 'rotate'] }],
    ['unknown keywords ignored', 'sortlist 130.155.160.0/255.255.240.0\nlookup file bind\nnameserver 192.0.2.9\n',
      { nameservers: ['192.0.2.9'], search: [], options: [] }]
  ]
  for (const [name, text, want] of cases) t.same(parseResolvConf(text), want, name)
})

t.test('upstreams leave out the mesh IP and fall back to glibc\'s implied local server', async (t) => {
  t.same(upstreamsOf(parseResolvConf('nameserver 100.64.0.3\nnameserver 192.0.2.1\nnameserver 192.0.2.1\n'), '100.64.0.3'), ['192.0.2.1'])
  t.same(upstreamsOf(parseResolvConf('nameserver 127.0.0.53\n'), '100.64.0.3'), ['127.0.0.53'])
  t.same(upstreamsOf(parseResolvConf('search example.com\n'), '100.64.0.3'), [IMPLIED_NAMESERVER], 'no nameserver line: glibc asks 127.0.0.1')
  t.same(upstreamsOf(parseResolvConf('nameserver 100.64.0.3\n'), '100.64.0.3'), [], 'only our own: nothing to forward to')
})

t.test('nameservers as written, odd ones too (the forwarder takes only IP literals); binary junk is no line', async (t) => {
  const conf = parseResolvConf('nameserver 2001:DB8::53\nnameserver fe80::1%eth0\nnameserver not-an-address\nnameserver\n\u0000\u00ff binary\n')
  t.same(conf.nameservers, ['2001:DB8::53', 'fe80::1%eth0', 'not-an-address'])
})
