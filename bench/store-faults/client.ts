import { generateKeyPair, SigningKey } from '../../lib/wire/keys.js'
import { newNonce, signRegistration } from '../../lib/wire/proof.js'
import type { RegisterRequest } from '../../lib/wire/api.js'
import type { Ledger, ListedNode } from './ledger.js'

/**
 * The few controller calls the campaign makes, over fetch: a reusable token, registrations of fresh keys
 * (recorded in a ledger when acknowledged), and the node list.
 */

/** A controller as the campaign addresses it. */
export interface Target { url: string, adminKey: string, publicKey: string }

/** Answers to registrations, by kind. */
export interface Answers { ok: number, refused503: number, other: number }

/** A fresh Answers. */
export function answers (): Answers { return { ok: 0, refused503: 0, other: 0 } }

/** The controller's public key (from `GET /v1/info`) and a reusable token. */
export async function prepare (url: string, adminKey: string): Promise<{ target: Target, token: string }> {
  const info = await (await fetch(new URL('/v1/info', url))).json() as { publicKey: string }
  const res = await fetch(new URL('/v1/tokens', url), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${adminKey}`,
      'content-type': 'application/json'
    },
    body: JSON.stringify({ reusable: true, ttlMs: 86_400_000 })
  })
  if (res.status !== 200) throw new Error(`token create answered ${res.status}: ${await res.text()}`)
  return { target: { url, adminKey, publicKey: info.publicKey }, token: ((await res.json()) as { token: string }).token }
}

/** Registers one fresh key; records a 200 in `ledger` and counts the answer. Returns the status (0: no answer). */
export async function registerOne (t: Target, token: string, ledger: Ledger, tally: Answers): Promise<number> {
  const keys = generateKeyPair()
  const f = {
    publicKey: keys.publicKey,
    signingKey: SigningKey.derive(keys.privateKey).publicKey,
    hostname: 'fault',
    endpoints: ['198.18.0.2:51820'],
    timestamp: Date.now(),
    nonce: newNonce()
  }
  const body: RegisterRequest = { ...f, listenPort: 51820, swimPort: 7946, proof: signRegistration(keys.privateKey, t.publicKey, f), token }
  let status = 0
  try {
    const res = await fetch(new URL('/v1/register', t.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    status = res.status
    const json = await res.json() as { nodeId?: string, meshIp?: string }
    if (status === 200) ledger.ack(keys.publicKey, json.nodeId!, json.meshIp!)
  } catch { /* the controller died under this request: not acknowledged */ }
  if (status === 200) tally.ok++
  else if (status === 503) tally.refused503++
  else if (status !== 0) tally.other++
  return status
}

/** `GET /v1/nodes`. */
export async function listNodes (t: { url: string, adminKey: string }): Promise<ListedNode[]> {
  const res = await fetch(new URL('/v1/nodes', t.url), { headers: { authorization: `Bearer ${t.adminKey}` } })
  if (res.status !== 200) throw new Error(`GET /v1/nodes answered ${res.status}: ${await res.text()}`)
  return ((await res.json()) as { nodes: ListedNode[] }).nodes
}
