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

t.test('the cursor continues above the restored high-water mark, so an address is not re-issued after a restart', async (t) => {
  const ipam = new Ipam('100.64.0.0/24', DAY)
  ipam.restore('a', '100.64.0.1')
  ipam.restoreHighWater(9)
  t.equal(ipam.allocate('b', 0), '100.64.0.10')
  t.equal(ipam.highWater, 10, 'taking an address raises the mark')
  ipam.unreserve('b')
  t.equal(ipam.highWater, 10, 'and it never goes down')
})

t.test('orphaned addresses are skipped by the cursor until their reservation ends', async (t) => {
  const ipam = new Ipam('100.64.0.0/29', DAY) // .1 to .6
  ipam.restore('a', '100.64.0.1')
  ipam.restoreOrphans(4, 1000)
  t.same(ipam.orphans, { upTo: 4, until: 1000, count: 3 })
  t.equal(ipam.allocate('b', 0), '100.64.0.5')
  t.equal(ipam.allocate('c', 0), '100.64.0.6')
  t.throws(() => ipam.allocate('d', 999), AddressPoolExhaustedError, 'orphaned addresses are not handed to new keys')
  t.equal(ipam.allocate('d', 1000), '100.64.0.2', 'after the reservation they are free')
})

t.test('a preferred address is given when it is orphaned and free, and ignored otherwise', async (t) => {
  const ipam = new Ipam('100.64.0.0/24', DAY)
  ipam.restore('a', '100.64.0.1')
  ipam.restoreQuarantine('r', '100.64.0.2', 0)
  ipam.restoreOrphans(5, DAY)
  t.equal(ipam.allocate('x', 10, '100.64.0.3'), '100.64.0.3', 'a returning node gets its saved address back')
  t.equal(ipam.allocate('y', 10, '100.64.0.3'), '100.64.0.6', 'held by another: allocation starts above the high-water mark')
  t.equal(ipam.allocate('z', 10, '100.64.0.2'), '100.64.0.7', 'quarantined for a removed node: not given')
  t.equal(ipam.allocate('w', 10, '100.64.0.40'), '100.64.0.8', 'above the orphaned range: an ordinary allocation')
  t.equal(ipam.allocate('v', 10, 'not-an-ip'), '100.64.0.9', 'garbage is ignored')
  t.equal(ipam.allocate('x', 10, '100.64.0.4'), '100.64.0.3', 'a key that holds an address keeps it')
})
