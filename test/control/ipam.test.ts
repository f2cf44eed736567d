import t from 'tap'
import { Ipam, parseMeshCidr } from '../../lib/control/ipam.js'
import { formatIPv4, parseIPv4 } from '../../lib/wire/addr.js'
import { AddressPoolExhaustedError, ConfigError } from '../../lib/errors.js'

const DAY = 86_400_000

t.test('a /29 hands out exactly its 6 host addresses, never network or broadcast', async (t) => {
  const ipam = new Ipam('100.64.0.0/29', 7 * DAY)
  const got = new Set<string>()
  for (let i = 0; i < 6; i++) got.add(ipam.allocate(`key${i}`, 0))
  t.same([...got].sort(), ['100.64.0.1', '100.64.0.2', '100.64.0.3', '100.64.0.4', '100.64.0.5', '100.64.0.6'])
  t.throws(() => ipam.allocate('key6', 0), AddressPoolExhaustedError)
  t.equal(ipam.allocated, 6)
})

t.test('the same key always gets the same address', async (t) => {
  const ipam = new Ipam('100.64.0.0/24', DAY)
  const a = ipam.allocate('a', 0)
  ipam.allocate('b', 0)
  t.equal(ipam.allocate('a', 0), a)
  t.equal(ipam.lookup('a'), a)
})

t.test('a released address is quarantined: other keys skip it, its own key gets it back', async (t) => {
  const ipam = new Ipam('100.64.0.0/30', 7 * DAY) // two hosts: .1 and .2
  const a = ipam.allocate('a', 0)
  ipam.allocate('b', 0)
  ipam.release('a', 1000)
  t.throws(() => ipam.allocate('c', 1000 + 7 * DAY - 1), AddressPoolExhaustedError, 'quarantined address is not reused early')
  t.equal(ipam.allocate('a', 2000), a, 'the old key rejoining gets its old address')
})

t.test('after the quarantine the address is free for anyone', async (t) => {
  const ipam = new Ipam('100.64.0.0/30', 7 * DAY)
  const a = ipam.allocate('a', 0)
  ipam.allocate('b', 0)
  ipam.release('a', 1000)
  t.equal(ipam.allocate('c', 1000 + 7 * DAY), a)
})

t.test('unreserve frees at once (a registration that never committed)', async (t) => {
  const ipam = new Ipam('100.64.0.0/30', 7 * DAY)
  const a = ipam.allocate('a', 0)
  ipam.allocate('b', 0)
  ipam.unreserve('a')
  t.equal(ipam.allocate('c', 0), a)
})

t.test('restore rebuilds state: held addresses and quarantine survive a restart', async (t) => {
  const ipam = new Ipam('100.64.0.0/29', 7 * DAY)
  ipam.restore('a', '100.64.0.1')
  ipam.restoreQuarantine('r', '100.64.0.2', 0)
  const next = ipam.allocate('c', 10)
  t.not(next, '100.64.0.1')
  t.not(next, '100.64.0.2')
  t.equal(ipam.allocate('r', 10), '100.64.0.2')
  t.throws(() => ipam.restore('x', '100.65.0.1'), ConfigError, 'an address outside the CIDR is a config mismatch')
})

t.test('a large CIDR allocates distinct addresses quickly', async (t) => {
  const ipam = new Ipam('100.64.0.0/10', 7 * DAY)
  const seen = new Set<string>()
  for (let i = 0; i < 20000; i++) seen.add(ipam.allocate(`k${i}`, 0))
  t.equal(seen.size, 20000)
  t.notOk(seen.has('100.64.0.0'))
})

t.test('CIDR parsing rejects nonsense with a ConfigError', async (t) => {
  t.same(parseMeshCidr('100.64.0.0/10'), { base: parseIPv4('100.64.0.0'), prefix: 10, size: 2 ** 22 })
  for (const bad of ['100.64.0.0', '100.64.0.1/10', '100.64.0.0/31', '100.64.0.0/7', '300.1.1.1/24', 'x/24']) {
    t.throws(() => parseMeshCidr(bad), ConfigError, bad)
  }
  t.equal(formatIPv4(parseIPv4('100.127.255.254')!), '100.127.255.254')
})
