import t from 'tap'
import { execFileSync } from 'node:child_process'
import {
  generateKeyPair, hexToKey, isWireGuardKey, keyToHex, publicKeyFor, sharedSecret, SigningKey, signingPublicKey, StaticKey, verifySignature
} from '../../lib/wire/keys.js'

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

t.test('the signing key is derived from the WireGuard key: the same every time, distinct per node', async (t) => {
  const kp = generateKeyPair()
  const a = SigningKey.derive(kp.privateKey)
  t.equal(SigningKey.derive(kp.privateKey).publicKey, a.publicKey, 'deterministic')
  t.ok(isWireGuardKey(a.publicKey), '44 base64 characters of 32 bytes')
  t.not(SigningKey.derive(generateKeyPair().privateKey).publicKey, a.publicKey)
  t.not(a.publicKey, kp.publicKey, 'not the WireGuard public key')
  const msg = Buffer.from('weft')
  const sig = a.sign(msg)
  t.ok(verifySignature(signingPublicKey(a.publicKey), msg, sig))
  t.notOk(verifySignature(signingPublicKey(a.publicKey), Buffer.from('weff'), sig))
  t.notOk(verifySignature(signingPublicKey(a.publicKey), msg, sig.subarray(1)), 'a short signature is false, not a throw')
  t.throws(() => signingPublicKey('nope'), { code: 'WEFT_ERR_INVALID_INPUT' })
})
