import t from 'tap'
import { ManualClock, systemClock } from '../../lib/clock.js'
import { generateKeyPair, keyToHex } from '../../lib/wire/keys.js'
import { GET_REQUEST, buildSetInterface, buildSetOp, buildSetOps, isCompleteReply, parseErrno, parseGet } from '../../lib/daemon/wg/uapi.js'
import { parseWgDump, wgSetArgs } from '../../lib/daemon/wg/kernel.js'
import type { PeerConfig } from '../../lib/daemon/wg/device.js'
import { uapiRequest } from '../../lib/daemon/wg/uapi-socket.js'
import { DeviceError, DeviceTimeoutError, PeerApplyError, isDeviceTimeout } from '../../lib/errors.js'
import { createServer, type Socket } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const self = generateKeyPair()
const a = generateKeyPair().publicKey
const b = generateKeyPair().publicKey
const peerA: PeerConfig = { publicKey: a, endpoint: '198.18.1.2:51820', allowedIps: ['100.64.0.2/32'], keepaliveSeconds: 25 }

// A reply as wireguard-go 0.0.2023 writes it (captured from `get=1` on this machine, keys replaced).
const getReply = [
  `private_key=${keyToHex(self.privateKey)}`,
  'listen_port=51820',
  `public_key=${keyToHex(a)}`,
  'preshared_key=0000000000000000000000000000000000000000000000000000000000000000',
  'protocol_version=1',
  'endpoint=198.18.1.2:51820',
  'last_handshake_time_sec=1700000000',
  'last_handshake_time_nsec=500000000',
  'tx_bytes=436',
  'rx_bytes=380',
  'persistent_keepalive_interval=25',
  'allowed_ip=100.64.0.2/32',
  `public_key=${keyToHex(b)}`,
  'preshared_key=0000000000000000000000000000000000000000000000000000000000000000',
  'protocol_version=1',
  'last_handshake_time_sec=0',
  'last_handshake_time_nsec=0',
  'tx_bytes=0',
  'rx_bytes=0',
  'persistent_keepalive_interval=0',
  'allowed_ip=100.64.0.3/32',
  'allowed_ip=100.64.9.0/24',
  'errno=0',
  '', ''
].join('\n')

t.test('get reply parses into interface settings and peers, without the private key', async (t) => {
  const s = parseGet(getReply)
  t.equal(s.publicKey, self.publicKey, 'public key derived from the private key')
  t.equal(s.listenPort, 51820)
  t.equal(s.peers.length, 2)
  t.same(s.peers[0], {
    publicKey: a,
    endpoint: '198.18.1.2:51820',
    allowedIps: ['100.64.0.2/32'],
    keepaliveSeconds: 25,
    lastHandshakeAt: 1_700_000_000_500,
    rxBytes: 380,
    txBytes: 436
  })
  t.same(s.peers[1], {
    publicKey: b,
    endpoint: null,
    allowedIps: ['100.64.0.3/32', '100.64.9.0/24'],
    keepaliveSeconds: 0,
    lastHandshakeAt: 0,
    rxBytes: 0,
    txBytes: 0
  })
  t.notOk(JSON.stringify(s).includes(self.privateKey), 'private key not kept')
})

t.test('get reply of a fresh device: no key, port, no peers', async (t) => {
  t.same(parseGet('listen_port=33684\nerrno=0\n\n'), { publicKey: null, listenPort: 33684, peers: [] })
})

t.test('errno is parsed and non-zero errno on get is a coded error', async (t) => {
  t.equal(parseErrno('errno=0\n\n'), 0)
  t.equal(parseErrno('errno=-22\n\n'), -22)
  t.throws(() => parseGet('errno=-5\n\n'), { code: 'WEFT_ERR_DEVICE' })
  t.throws(() => parseErrno('listen_port=1\n'), { code: 'WEFT_ERR_DEVICE' })
})

t.test('malformed get replies are coded errors, not crashes', async (t) => {
  for (const bad of [
    'garbage\nerrno=0\n\n',
    'public_key=zz\nerrno=0\n\n',
    `public_key=${keyToHex(a)}\ntx_bytes=lots\nerrno=0\n\n`,
    'listen_port=-1\nerrno=0\n\n'
  ]) {
    t.throws(() => parseGet(bad), { code: 'WEFT_ERR_DEVICE' }, JSON.stringify(bad.slice(0, 30)))
  }
})

t.test('reply completeness: only an errno line plus blank line ends a reply', async (t) => {
  t.notOk(isCompleteReply('listen_port=1\n'))
  t.notOk(isCompleteReply('errno=0\n'))
  t.ok(isCompleteReply('errno=0\n\n'))
  t.ok(isCompleteReply(getReply))
  t.equal(GET_REQUEST, 'get=1\n\n')
})

t.test('set for an added peer carries key in hex, endpoint, keepalive and replaces allowed IPs', async (t) => {
  t.equal(buildSetOp({ kind: 'add', peer: peerA }), [
    'set=1', `public_key=${keyToHex(a)}`, 'endpoint=198.18.1.2:51820', 'persistent_keepalive_interval=25',
    'replace_allowed_ips=true', 'allowed_ip=100.64.0.2/32', '', ''
  ].join('\n'))
  t.notMatch(buildSetOp({ kind: 'add', peer: { ...peerA, endpoint: null } }), /endpoint=/, 'no endpoint line without an endpoint')
})

t.test('set for a removal and for partial updates touches only what is named', async (t) => {
  t.equal(buildSetOp({ kind: 'remove', publicKey: a }), `set=1\npublic_key=${keyToHex(a)}\nremove=true\n\n`)
  const ep = buildSetOp({ kind: 'update', peer: { ...peerA, endpoint: '198.18.1.9:1' }, fields: ['endpoint'] })
  t.equal(ep, `set=1\npublic_key=${keyToHex(a)}\nupdate_only=true\nendpoint=198.18.1.9:1\n\n`)
  const ips = buildSetOp({ kind: 'update', peer: { ...peerA, allowedIps: ['100.64.0.7/32'] }, fields: ['allowedIps'] })
  t.equal(ips, `set=1\npublic_key=${keyToHex(a)}\nupdate_only=true\nreplace_allowed_ips=true\nallowed_ip=100.64.0.7/32\n\n`)
  const ka = buildSetOp({ kind: 'update', peer: { ...peerA, keepaliveSeconds: 0 }, fields: ['keepaliveSeconds'] })
  t.match(ka, /persistent_keepalive_interval=0\n/)
  t.notMatch(ka, /endpoint|allowed_ip/)
})

t.test('one set for many ops: the lines of each op in order under a single set=1, one blank line at the end', async (t) => {
  const ops = [{ kind: 'remove' as const, publicKey: a }, { kind: 'add' as const, peer: peerA }]
  t.equal(buildSetOps(ops), [
    'set=1', `public_key=${keyToHex(a)}`, 'remove=true',
    `public_key=${keyToHex(a)}`, 'endpoint=198.18.1.2:51820', 'persistent_keepalive_interval=25', 'replace_allowed_ips=true', 'allowed_ip=100.64.0.2/32', '', ''
  ].join('\n'))
  t.equal(buildSetOps([ops[1]!]), buildSetOp(ops[1]!), 'a batch of one is the single op')
  t.throws(() => buildSetOps([
    ops[0]!,
    { kind: 'add', peer: { ...peerA, endpoint: 'nowhere' } }
  ]), { name: 'InvalidInputError' }, 'one bad op refuses the whole batch')
})

t.test('interface set carries the private key in hex and the port', async (t) => {
  t.equal(buildSetInterface({ privateKey: self.privateKey, listenPort: 51820 }), `set=1\nprivate_key=${keyToHex(self.privateKey)}\nlisten_port=51820\n\n`)
})

t.test('bad keys in ops are refused before anything is sent', async (t) => {
  t.throws(() => buildSetOp({ kind: 'remove', publicKey: 'nope' }), { code: 'WEFT_ERR_INVALID_INPUT' })
})

t.test('kernel driver: wg set arguments and wg dump parsing', async (t) => {
  t.same(wgSetArgs('wg0', { kind: 'add', peer: peerA }), [
    'wg', 'set', 'wg0', 'peer', a, 'endpoint', '198.18.1.2:51820', 'persistent-keepalive', '25', 'allowed-ips', '100.64.0.2/32'
  ])
  t.same(wgSetArgs('wg0', { kind: 'remove', publicKey: a }), ['wg', 'set', 'wg0', 'peer', a, 'remove'])
  t.same(wgSetArgs('wg0', {
    kind: 'update',
    peer: { ...peerA, keepaliveSeconds: 0 },
    fields: ['keepaliveSeconds']
  }), ['wg', 'set', 'wg0', 'peer', a, 'persistent-keepalive', 'off'])
  const dump = `${self.privateKey}\t${self.publicKey}\t51820\toff\n` +
    `${a}\t(none)\t198.18.1.2:51820\t100.64.0.2/32\t1700000000\t380\t436\t25\n` +
    `${b}\t(none)\t(none)\t(none)\t0\t0\t0\toff\n`
  const s = parseWgDump(dump)
  t.equal(s.publicKey, self.publicKey)
  t.equal(s.listenPort, 51820)
  t.same(s.peers[0], {
    publicKey: a,
    endpoint: '198.18.1.2:51820',
    allowedIps: ['100.64.0.2/32'],
    lastHandshakeAt: 1_700_000_000_000,
    rxBytes: 380,
    txBytes: 436,
    keepaliveSeconds: 25
  })
  t.same(s.peers[1], { publicKey: b, endpoint: null, allowedIps: [], lastHandshakeAt: 0, rxBytes: 0, txBytes: 0, keepaliveSeconds: 0 })
  t.throws(() => parseWgDump(''), { code: 'WEFT_ERR_DEVICE' })
  t.throws(() => parseWgDump(`x\ty\t1\toff\n${a}\tshort\n`), { code: 'WEFT_ERR_DEVICE' })
})

t.test('peers a device could only half-apply are refused before anything is built', async (t) => {
  const bad: Array<[string, Partial<PeerConfig>]> = [
    ['hostname endpoint', { endpoint: 'node1.example:51820' }],
    ['endpoint without port', { endpoint: '198.18.1.2' }],
    ['allowed IP without prefix', { allowedIps: ['100.64.0.2'] }],
    ['allowed IP prefix too long', { allowedIps: ['100.64.0.2/33'] }],
    ['keepalive not an integer', { keepaliveSeconds: 2.5 }],
    ['keepalive out of range', { keepaliveSeconds: 70000 }]
  ]
  for (const [name, over] of bad) {
    t.throws(() => buildSetOp({ kind: 'add', peer: { ...peerA, ...over } }), { code: 'WEFT_ERR_INVALID_INPUT' }, `uapi: ${name}`)
    t.throws(() => wgSetArgs('wg0', {
      kind: 'update',
      peer: { ...peerA, ...over },
      fields: ['endpoint', 'allowedIps']
    }), { code: 'WEFT_ERR_INVALID_INPUT' }, `wg: ${name}`)
  }
  t.doesNotThrow(() => buildSetOp({ kind: 'add', peer: { ...peerA, endpoint: '[fd00::1]:51820', allowedIps: ['100.64.0.2/32', 'fd00::2/128'] } }))
})

t.test('a UAPI socket that does not answer in time is a DeviceTimeoutError; one that is missing is not', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-uapi-'))
  const path = join(dir, 'silent.sock')
  const held: Socket[] = []
  const server = createServer(sock => { held.push(sock); sock.on('error', () => {}) })
  await new Promise<void>(resolve => server.listen(path, resolve))
  t.teardown(async () => {
    for (const sock of held) sock.destroy()
    await new Promise(resolve => server.close(resolve))
    rmSync(dir, { recursive: true, force: true })
  })
  const clock = new ManualClock()
  const asked = uapiRequest(path, GET_REQUEST, clock, 50).then(() => null, (err: unknown) => err)
  await clock.advanceAsync(50)
  const silent = await asked
  t.type(silent, DeviceTimeoutError)
  t.equal(isDeviceTimeout(silent), true)
  t.equal(isDeviceTimeout(new PeerApplyError('set failed', 0, 1, { cause: silent })), true, 'seen through the wrapper a device call adds')
  const missing = await uapiRequest(join(dir, 'none.sock'), GET_REQUEST, systemClock, 50).then(() => null, (err: unknown) => err)
  t.type(missing, DeviceError)
  t.equal(isDeviceTimeout(missing), false)
})
