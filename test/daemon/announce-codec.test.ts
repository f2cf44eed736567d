import t from 'tap'
import { announceKey, decodeAnnounce, encodeAnnounce, MAX_ANNOUNCE_BYTES, verifyAnnounce } from '../../lib/daemon/announce-codec.js'
import { generateKeyPair, sharedSecret } from '../../lib/wire/keys.js'

const a = generateKeyPair()
const b = generateKeyPair()
const kab = announceKey(sharedSecret(a.privateKey, b.publicKey))
const kba = announceKey(sharedSecret(b.privateKey, a.publicKey))
const sig = Buffer.alloc(64, 5)
const msg = { type: 'ping' as const, from: 'node-a', to: 'node-b', incarnation: 7, timestampMs: 1_700_000_000_123, sig }
const dead = { type: 'dead' as const, from: 'node-a', to: 'node-b', incarnation: 7, timestampMs: 1_700_000_000_123 }

t.test('both ends of a pair derive the same key; the message round-trips', async (t) => {
  t.same(kab, kba)
  const buf = encodeAnnounce(msg, kab)
  t.ok(buf.length <= MAX_ANNOUNCE_BYTES)
  const d = decodeAnnounce(buf)
  t.same(d, { ok: true, msg })
  t.ok(verifyAnnounce(buf, kba))
  t.same(decodeAnnounce(encodeAnnounce({ ...msg, type: 'ack' }, kab)), { ok: true, msg: { ...msg, type: 'ack' } }, 'ack')
  t.same(decodeAnnounce(encodeAnnounce(dead, kab)), { ok: true, msg: dead }, 'dead, without a signature')
  t.equal(encodeAnnounce(dead, kab)[4], 3, 'dead is type 3')
  t.throws(() => encodeAnnounce({ ...msg, sig: undefined }, kab), RangeError, 'a ping needs its signature')
  t.throws(() => encodeAnnounce({ ...dead, sig }, kab), RangeError, 'a dead notice has none')
})

t.test('a third party key, or any flipped bit, fails the MAC', async (t) => {
  const c = generateKeyPair()
  const kcb = announceKey(sharedSecret(c.privateKey, b.publicKey))
  t.notOk(verifyAnnounce(encodeAnnounce(msg, kcb), kba), 'forged by another key holder')
  const buf = encodeAnnounce(msg, kab)
  for (let i = 0; i < buf.length; i++) {
    const m = Buffer.from(buf)
    m[i] = m[i]! ^ 0x01
    const d = decodeAnnounce(m)
    t.ok(!d.ok || !verifyAnnounce(m, kba), `bit flip at byte ${i} is caught`)
  }
})

t.test('bad layouts are classified, never thrown', async (t) => {
  t.same(decodeAnnounce(Buffer.alloc(3)), { ok: false, reason: 'size' })
  t.same(decodeAnnounce(Buffer.alloc(MAX_ANNOUNCE_BYTES + 1)), { ok: false, reason: 'size' })
  const buf = encodeAnnounce(msg, kab)
  t.same(decodeAnnounce(Buffer.concat([Buffer.from('XXXX'), buf.subarray(4)])), { ok: false, reason: 'magic' })
  const badType = Buffer.from(buf); badType[4] = 9
  t.same(decodeAnnounce(badType), { ok: false, reason: 'type' })
  const badLen = Buffer.from(buf); badLen[5] = 200
  t.same(decodeAnnounce(badLen), { ok: false, reason: 'layout' })
  for (let i = 0; i < 20000; i++) {
    const r = Buffer.alloc(Math.floor(Math.random() * (MAX_ANNOUNCE_BYTES + 8)))
    for (let j = 0; j < r.length; j++) r[j] = Math.floor(Math.random() * 256)
    if (Math.random() < 0.5 && r.length >= 4) Buffer.from('WFA2').copy(r)
    const d = decodeAnnounce(r)
    if (d.ok) verifyAnnounce(r, kab)
  }
  t.pass('20000 random datagrams decoded without throwing')
})

t.test('incarnations keep their full width: 2^32 + 10 and 2^48 round-trip, above 2^48 is refused at decode', async (t) => {
  for (const incarnation of [2 ** 32 + 10, 2 ** 48]) {
    for (const type of ['ping', 'dead'] as const) {
      const m = type === 'dead' ? { ...dead, incarnation } : { ...msg, incarnation }
      t.same(decodeAnnounce(encodeAnnounce(m, kab)), { ok: true, msg: m }, `${type} at ${incarnation}`)
    }
  }
  t.throws(() => encodeAnnounce({ ...msg, incarnation: 2 ** 48 + 1 }, kab), RangeError, 'never encoded')
  const buf = encodeAnnounce({ ...dead, incarnation: 2 ** 48 }, kab)
  const at = buf.length - 16 - 8 - 8 // incarnation field of a dead notice: before timestamp and MAC
  buf.writeBigUInt64BE(2n ** 48n + 1n, at)
  t.same(decodeAnnounce(buf), { ok: false, reason: 'incarnation' })
})
