import t from 'tap'
import { execFileSync } from 'node:child_process'
import { generateKeyPair, hexToKey, isWireGuardKey, keyToHex, publicKeyFor, sharedSecret, StaticKey } from '../../lib/wire/keys.js'

t.test('generated keys are canonical WireGuard keys that wg agrees with', async (t) => {
  const kp = generateKeyPair()
  t.ok(isWireGuardKey(kp.privateKey))
  t.ok(isWireGuardKey(kp.publicKey))
  const wgPub = execFileSync('wg', ['pubkey'], { input: kp.privateKey + '\n' }).toString().trim()
  t.equal(kp.publicKey, wgPub, 'public key matches `wg pubkey`')
  t.equal(publicKeyFor(kp.privateKey), kp.publicKey)
})

t.test('keys made by wg genkey load and derive the same public key', async (t) => {
  const priv = execFileSync('wg', ['genkey']).toString().trim()
  const pub = execFileSync('wg', ['pubkey'], { input: priv + '\n' }).toString().trim()
  t.equal(publicKeyFor(priv), pub)
})

t.test('static DH is symmetric', async (t) => {
  const a = generateKeyPair()
  const b = generateKeyPair()
  t.same(sharedSecret(a.privateKey, b.publicKey), sharedSecret(b.privateKey, a.publicKey))
  t.notSame(sharedSecret(a.privateKey, b.publicKey), sharedSecret(a.privateKey, generateKeyPair().publicKey))
})

t.test('hex round trip for UAPI', async (t) => {
  const { publicKey } = generateKeyPair()
  const hex = keyToHex(publicKey)
  t.match(hex, /^[0-9a-f]{64}$/)
  t.equal(hexToKey(hex), publicKey)
})

t.test('malformed keys are refused with a coded error', async (t) => {
  for (const bad of ['', 'abc', 'A'.repeat(44), '!'.repeat(43) + '=', 42, null]) {
    t.notOk(isWireGuardKey(bad), `isWireGuardKey(${String(bad)})`)
  }
  t.throws(() => publicKeyFor('not-a-key'), { code: 'WEFT_ERR_INVALID_INPUT' })
  t.throws(() => hexToKey('zz'), { code: 'WEFT_ERR_INVALID_INPUT' })
})

t.test('a StaticKey computes the same secrets as the string form', async (t) => {
  const a = generateKeyPair()
  const b = generateKeyPair()
  t.same(StaticKey.from(a.privateKey).sharedSecret(b.publicKey), sharedSecret(a.privateKey, b.publicKey))
  t.same(sharedSecret(StaticKey.from(a.privateKey), b.publicKey), sharedSecret(b.privateKey, a.publicKey))
  t.throws(() => StaticKey.from('nope'), { code: 'WEFT_ERR_INVALID_INPUT' })
})
