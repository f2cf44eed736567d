import t from 'tap'
import { generateKeyPair, SigningKey } from '../../lib/wire/keys.js'
import { canonicalMessage, newNonce, signRegistration, verifyRegistration, type ProofFields } from '../../lib/wire/proof.js'

const controller = generateKeyPair()
const node = generateKeyPair()
const fields = (): ProofFields => ({
  publicKey: node.publicKey,
  signingKey: SigningKey.derive(node.privateKey).publicKey,
  hostname: 'web-1',
  endpoints: [
    '198.18.0.2:51820', '[2001:db8::1]:51820'
  ],
  timestamp: 1_700_000_000_000,
  nonce: 'AAAAAAAAAAAAAAAAAAAAAA=='
})

t.test('canonical message is pinned', async (t) => {
  t.equal(canonicalMessage(fields()), [
    'weft-register-v2', node.publicKey, SigningKey.derive(node.privateKey).publicKey, 'web-1', '198.18.0.2:51820,[2001:db8::1]:51820', '1700000000000',
    'AAAAAAAAAAAAAAAAAAAAAA=='
  ].join('\n'))
})

t.test('a proof made with the node key verifies at the controller', async (t) => {
  const proof = signRegistration(node.privateKey, controller.publicKey, fields())
  t.ok(verifyRegistration(controller.privateKey, fields(), proof))
})

t.test('a proof made with another key does not verify', async (t) => {
  const other = generateKeyPair()
  const proof = signRegistration(other.privateKey, controller.publicKey, fields())
  t.notOk(verifyRegistration(controller.privateKey, fields(), proof))
})

t.test('any change to a bound field breaks the proof', async (t) => {
  const proof = signRegistration(node.privateKey, controller.publicKey, fields())
  t.notOk(verifyRegistration(controller.privateKey, { ...fields(), hostname: 'web-2' }, proof))
  t.notOk(verifyRegistration(controller.privateKey, { ...fields(), endpoints: ['198.18.0.3:51820'] }, proof))
  t.notOk(verifyRegistration(controller.privateKey, { ...fields(), timestamp: 1_700_000_000_001 }, proof))
  t.notOk(verifyRegistration(controller.privateKey, { ...fields(), nonce: newNonce() }, proof))
})

t.test('garbage proofs are rejected, not thrown', async (t) => {
  t.notOk(verifyRegistration(controller.privateKey, fields(), ''))
  t.notOk(verifyRegistration(controller.privateKey, fields(), 'not base64 at all!!'))
  t.notOk(verifyRegistration(controller.privateKey, fields(), Buffer.alloc(64).toString('base64')))
})

t.test('a preferred mesh IP is bound as an eighth line; without one the message is the seven lines above', async (t) => {
  t.equal(canonicalMessage({ ...fields(), meshIp: '100.64.0.7' }), canonicalMessage(fields()) + '\n100.64.0.7')
  t.equal(canonicalMessage({ ...fields(), meshIp: undefined }), canonicalMessage(fields()))
  const withIp = signRegistration(node.privateKey, controller.publicKey, { ...fields(), meshIp: '100.64.0.7' })
  t.ok(verifyRegistration(controller.privateKey, { ...fields(), meshIp: '100.64.0.7' }, withIp))
  t.notOk(verifyRegistration(controller.privateKey, { ...fields(), meshIp: '100.64.0.8' }, withIp), 'changed')
  t.notOk(verifyRegistration(controller.privateKey, fields(), withIp), 'dropped')
  const without = signRegistration(node.privateKey, controller.publicKey, fields())
  t.notOk(verifyRegistration(controller.privateKey, { ...fields(), meshIp: '100.64.0.7' }, without), 'added')
})
