import t from 'tap'
import { ClaimSigner } from '../../lib/daemon/claim-signer.js'
import { generateKeyPair, SigningKey } from '../../lib/wire/keys.js'
import type { NodeRecord } from '../../lib/wire/netmap.js'

const record = (id: string, signingKey?: string): NodeRecord => ({
  id,
  hostname: id,
  publicKey: generateKeyPair().publicKey,
  meshIp: '100.64.0.1',
  endpoints: [],
  observedEndpoint: null,
  swimPort: 7946,
  health: 'online',
  createdAt: 0,
  updatedAt: 0,
  ...(signingKey !== undefined ? { signingKey } : {})
})

function signer (id: string, reserved: number[] = []): { s: ClaimSigner, key: SigningKey } {
  const key = SigningKey.derive(generateKeyPair().privateKey)
  return { s: new ClaimSigner({ selfId: id, key, reserve: inc => reserved.push(inc) }), key }
}

t.test('a member\'s claim verifies with the key the netmap gives for it, and only as signed', async t => {
  const a = signer('a'); const b = signer('b')
  b.s.setMembers([record('a', a.key.publicKey), record('b', b.key.publicKey)])
  const claim = { state: 'alive' as const, id: 'a', incarnation: 2 ** 32 + 10 }
  const sig = a.s.sign(claim)
  t.equal(sig.length, 64)
  t.ok(b.s.verify(claim, sig), 'verifies at another node')
  t.ok(a.s.verify(claim, sig), 'and at the signer itself')
  t.notOk(b.s.verify({ ...claim, incarnation: claim.incarnation + 1 }, sig), 'another incarnation')
  t.notOk(b.s.verify({ ...claim, state: 'left' }, sig), 'another state')
  t.notOk(b.s.verify({ ...claim, id: 'b' }, sig), 'another member')
  t.notOk(b.s.verify(claim, new Uint8Array(64)), 'zeros')
  t.notOk(b.s.verify(claim, sig.subarray(0, 63)), 'short')
})

t.test('no key, a changed key, a removed member: not believed', async t => {
  const a = signer('a'); const b = signer('b')
  const claim = { state: 'alive' as const, id: 'a', incarnation: 5 }
  const sig = a.s.sign(claim)
  b.s.setMembers([record('a')])
  t.notOk(b.s.verify(claim, sig), 'a record without a signing key')
  b.s.setMembers([record('a', a.key.publicKey)])
  t.ok(b.s.verify(claim, sig))
  b.s.setMembers([record('a', SigningKey.derive(generateKeyPair().privateKey).publicKey)])
  t.notOk(b.s.verify(claim, sig), 'the netmap now names another key')
  b.s.setMembers([record('a', a.key.publicKey)])
  b.s.setMembers([])
  t.notOk(b.s.verify(claim, sig), 'removed from the netmap')
})

t.test('signing covers the incarnation first, and refuses to sign for another member', async t => {
  const reserved: number[] = []
  const a = signer('a', reserved)
  a.s.sign({ state: 'alive', id: 'a', incarnation: 7 })
  a.s.sign({ state: 'left', id: 'a', incarnation: 8 })
  t.same(reserved, [7, 8])
  t.throws(() => a.s.sign({ state: 'alive', id: 'b', incarnation: 1 }))
})
