import t from 'tap'
import { createSocket } from 'node:dgram'
import { readFileSync } from 'node:fs'
import {
  checkPortPrivilege, holdersOf, parseProcNet, portTaken, readBoundSockets, whoHolds, type BoundSocket, type PortNeed
} from '../../../lib/daemon/checks/ports.js'
import { parseProcStatus } from '../../../lib/daemon/checks/process.js'

const HEAD = '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n'

t.test('parses /proc/net tables in either byte order; TCP only while listening', async (t) => {
  const udp = HEAD +
    '  12: 00000000:1F0A 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 0\n' +
    '  13: 0100007F:CB2C 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 4343 2 0000000000000000 0\n'
  t.same(parseProcNet(udp, 'udp', 4, true), [
    { proto: 'udp', family: 4, address: '0.0.0.0', port: 7946, uid: 0, inode: 4242 },
    { proto: 'udp', family: 4, address: '127.0.0.1', port: 52012, uid: 1000, inode: 4343 }
  ])
  t.equal(parseProcNet(HEAD + '  1: 7F000001:1F0A 00000000:0000 07 0 0 0 0 0 0 0\n', 'udp', 4, false)[0]!.address, '127.0.0.1', 'big-endian hosts print ' +
    'in network order')
  const tcp = HEAD +
    '   0: 0100007F:2582 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0000000000000000 100 0 0 10 0\n' +
    '   1: 0100007F:2582 0100007F:D3C4 01 00000000:00000000 00:00000000 00000000     0        0 78 1 0000000000000000 100 0 0 10 0\n'
  t.same(parseProcNet(tcp, 'tcp', 4, true).map(s => [s.address, s.port, s.inode]), [['127.0.0.1', 9602, 77]], 'the established connection is not a listener')
  const udp6 = HEAD +
    '  5: 00000000000000000000000000000000:CA6C 00000000000000000000000000000000:0000 07 0 0 0 0 0 0 91 2 0 0\n' +
    '  6: 0000000000000000FFFF00000100007F:1F0A 00000000000000000000000000000000:0000 07 0 0 0 0 0 0 92 2 0 0\n' +
    '  7: B80D0120000000000000000001000000:1F0A 00000000000000000000000000000000:0000 07 0 0 0 0 0 0 93 2 0 0\n'
  t.same(parseProcNet(udp6, 'udp', 6, true).map(s => s.address), ['::', '::ffff:127.0.0.1', '2001:db8::1'])
})

const sock = (family: 4 | 6, address: string, port = 7946, proto: 'udp' | 'tcp' = 'udp'): BoundSocket => ({ proto, family, address, port, uid: 0, inode: 1 })
const need = (family: 4 | 6, address: string | null, port = 7946): PortNeed => ({
  proto: 'udp',
  family,
  address,
  port,
  what: '--swim-port, SWIM',
  flag: '--swim-port'
})

t.test('a bind conflicts with a socket on the same port and an overlapping address', async (t) => {
  const cases: Array<[string, BoundSocket, PortNeed, boolean]> = [
    ['both on every address', sock(4, '0.0.0.0'), need(4, '0.0.0.0'), true],
    ['theirs on every address, ours on one', sock(4, '0.0.0.0'), need(4, '100.64.0.1'), true],
    ['theirs on one, ours on every address', sock(4, '198.18.1.2'), need(4, '0.0.0.0'), true],
    ['same address', sock(4, '100.64.0.1'), need(4, '100.64.0.1'), true],
    ['different addresses (consul on the LAN IP, SWIM on the mesh IP)', sock(4, '198.18.1.2'), need(4, '100.64.0.1'), false],
    ['another port', sock(4, '0.0.0.0', 7947), need(4, '0.0.0.0'), false],
    ['TCP does not hold a UDP port', sock(4, '0.0.0.0', 7946, 'tcp'), need(4, '0.0.0.0'), false],
    ['an address not here yet, theirs on one', sock(4, '198.18.1.2'), need(4, null), false],
    ['an address not here yet, theirs on every address', sock(4, '0.0.0.0'), need(4, null), true],
    ['a dual-stack :: socket takes IPv4 too', sock(6, '::'), need(4, '100.64.0.1'), true],
    ['an IPv4-mapped socket is that IPv4 address', sock(6, '::ffff:100.64.0.1'), need(4, '100.64.0.1'), true],
    ['an IPv4-mapped socket elsewhere', sock(6, '::ffff:198.18.1.2'), need(4, '100.64.0.1'), false],
    ['an IPv6 socket on one address, IPv4 bind', sock(6, '2001:db8::1'), need(4, '0.0.0.0'), false],
    ['IPv6: same address written differently', sock(6, '2001:db8::1'), need(6, '2001:0db8:0:0:0:0:0:1'), true],
    ['IPv6: different addresses', sock(6, '2001:db8::1'), need(6, '2001:db8::2'), false],
    ['our :: is dual-stack and needs the IPv4 port', sock(4, '127.0.0.1'), need(6, '::'), true]
  ]
  for (const [what, s, n, conflict] of cases) t.equal(holdersOf([s], n).length > 0, conflict, what)
})

t.test('the message names the port, its use, the holder and the flag to change', async (t) => {
  const n: PortNeed = { proto: 'udp', family: 4, address: '0.0.0.0', port: 51820, what: '--listen-port, WireGuard', flag: '--listen-port' }
  t.equal(portTaken(n, sock(4, '0.0.0.0', 51820), { kind: 'process', pid: 42, comm: 'node' }).message,
    'UDP port 51820 (--listen-port, WireGuard) is taken by pid 42 (node) on 0.0.0.0: stop that process, or choose another --listen-port')
  t.equal(portTaken(n, sock(6, '::', 51820), { kind: 'kernel' }).message,
    'UDP port 51820 (--listen-port, WireGuard) is taken by the kernel on [::]: free it (a kernel WireGuard interface listening there?), or choose another ' +
    '--listen-port')
  t.match(portTaken(n, sock(4, '0.0.0.0', 51820), {
    kind: 'unknown',
    user: 'uid 7 (lp)'
  }).message, /taken by a process of uid 7 \(lp\) on 0\.0\.0\.0: stop that process/)
  t.equal(portTaken(n, sock(4, '0.0.0.0', 51820), { kind: 'process', pid: 1, comm: 'x' }).code, 'WEFT_ERR_CONFIG')
})

t.test('a port below ip_unprivileged_port_start needs CAP_NET_BIND_SERVICE', async (t) => {
  const status = (eff: string): string => `Uid:\t999\t999\t999\t999\nGid:\t999\t999\t999\t999\nGroups:\t\nCapEff:\t${eff}\nCapAmb:\t${eff}\n`
  const without = parseProcStatus(status('0000000000001000'), () => 'weft')
  const withIt = parseProcStatus(status('0000000000001400'), () => 'weft')
  const n: PortNeed = { proto: 'udp', family: 4, address: '0.0.0.0', port: 53, what: '--swim-port, SWIM on the mesh IP', flag: '--swim-port' }
  t.throws(() => checkPortPrivilege(n, 1024, without), {
    code: 'WEFT_ERR_CONFIG',
    message: 'UDP port 53 (--swim-port, SWIM on the mesh IP) is below 1024 (net.ipv4.ip_unprivileged_port_start), so binding it needs ' +
      'CAP_NET_BIND_SERVICE, which uid 999 (weft) does not have: grant it (AmbientCapabilities=CAP_NET_BIND_SERVICE in the systemd unit), or choose ' +
      'another --swim-port'
  })
  t.doesNotThrow(() => checkPortPrivilege(n, 1024, withIt))
  t.doesNotThrow(() => checkPortPrivilege(n, 0, without), 'no privileged ports at all')
  t.doesNotThrow(() => checkPortPrivilege({ ...n, port: 7946 }, 1024, without))
})

t.test('a socket of this process is found in the table and traced back to it', async (t) => {
  const s = createSocket('udp4')
  await new Promise<void>(resolve => s.bind(0, '127.0.0.1', () => resolve()))
  t.teardown(() => s.close())
  const port = s.address().port
  const found = holdersOf(await readBoundSockets(), { proto: 'udp', family: 4, address: '0.0.0.0', port, what: 'x', flag: '--x' })
  t.equal(found.length, 1)
  t.same(await whoHolds(found[0]!), { kind: 'process', pid: process.pid, comm: readFileSync('/proc/self/comm', 'utf8').trim() })
})
