/**
 * Churn generator for e2e tests, run inside the controller's namespace: registers `count` nodes that exist
 * only as keys (no daemon), changes each one's endpoints with a heartbeat, then removes them all, pausing
 * `pauseMs` between phases. Prints a JSON summary. Usage:
 *   node fake-nodes.js CONTROLLER_URL ADMIN_KEY_FILE COUNT PAUSE_MS
 */
import { readFileSync } from 'node:fs'
import { generateKeyPair, SigningKey } from '../../lib/wire/keys.js'
import { newNonce, signRegistration } from '../../lib/wire/proof.js'
import type { ControllerInfo, CreateTokenResponse, RegisterResponse } from '../../lib/wire/api.js'

const [url, keyFile, countArg, pauseArg] = process.argv.slice(2)
const admin = readFileSync(keyFile!, 'utf8').trim()
const count = Number(countArg)
const pauseMs = Number(pauseArg)

async function call<T> (method: string, path: string, body: unknown, bearer: string): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${bearer}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(url! + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
  const text = await res.text()
  return (text === '' ? undefined : JSON.parse(text)) as T
}

const pause = async (): Promise<void> => await new Promise(resolve => setTimeout(resolve, pauseMs))
const info = await (await fetch(url + '/v1/info')).json() as ControllerInfo
const { token } = await call<CreateTokenResponse>('POST', '/v1/tokens', { reusable: true, ttlMs: 600_000 }, admin)
const nodes: Array<{ id: string, credential: string, i: number }> = []
for (let i = 0; i < count; i++) {
  const keys = generateKeyPair()
  const endpoints = [`198.18.200.${(i % 250) + 1}:51820`]
  const fields = {
    publicKey: keys.publicKey,
    signingKey: SigningKey.derive(keys.privateKey).publicKey,
    hostname: `fake-${i}`,
    endpoints,
    timestamp: Date.now(),
    nonce: newNonce()
  }
  const proof = signRegistration(keys.privateKey, info.publicKey, fields)
  const r = await call<RegisterResponse>('POST', '/v1/register', { ...fields, listenPort: 51820, swimPort: 7946, proof, token }, admin)
  nodes.push({ id: r.nodeId, credential: r.credential!, i })
}
await pause()
for (const n of nodes) {
  await call('POST', '/v1/heartbeat', { endpoints: [`198.18.201.${(n.i % 250) + 1}:51821`], listenPort: 51821 }, n.credential)
}
await pause()
for (const n of nodes) await call('DELETE', `/v1/nodes/${n.id}`, undefined, admin)
process.stdout.write(JSON.stringify({ registered: nodes.length, updated: nodes.length, removed: nodes.length, ids: nodes.map(n => n.id) }) + '\n')
