/**
 * A burst of registrations of fresh keys, spread over several controllers, as daemons joining at once make it:
 * `node dist/sim/register-burst.js --controllers URL,URL --token T --count N [--concurrency C]`, run where the
 * controllers are reachable (the controller namespace). Each registration goes to controller i mod K first and,
 * when that one does not answer or refuses with 5xx, to the next, each try signed afresh (a new nonce), as a
 * daemon's retry is. Prints one JSON line per key: `{"ok":true,"publicKey","nodeId","meshIp","via"}` once a
 * controller acknowledged it, or `{"ok":false,"publicKey","error"}` when none did. What was acknowledged is
 * what the failover tests hold the store to.
 */
import { parseArgs } from 'node:util'
import { generateKeyPair, SigningKey } from '../lib/wire/keys.js'
import { newNonce, signRegistration } from '../lib/wire/proof.js'
import type { RegisterRequest } from '../lib/wire/api.js'

/** One line of the burst's output. */
export type BurstResult =
  | { ok: true, publicKey: string, nodeId: string, meshIp: string, via: string }
  | { ok: false, publicKey: string, error: string }

const TRY_MS = 5000

async function registerOnce (url: string, controllerKey: string, keys: { publicKey: string, privateKey: string }, token: string, hostname: string): Promise<{
  status: number
  json: any
}> {
  const f = {
    publicKey: keys.publicKey,
    signingKey: SigningKey.derive(keys.privateKey).publicKey,
    hostname,
    endpoints: ['198.18.0.2:51820'],
    timestamp: Date.now(),
    nonce: newNonce()
  }
  const body: RegisterRequest = { ...f, listenPort: 51820, swimPort: 7946, token, proof: signRegistration(keys.privateKey, controllerKey, f) }
  const res = await fetch(new URL('/v1/register', url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(TRY_MS)
  })
  return { status: res.status, json: await res.json().catch(() => null) }
}

/** Registers `count` fresh keys over `urls`, `concurrency` at a time; resolves with each key's outcome. */
export async function burst (o: {
  urls: string[]
  token: string
  count: number
  concurrency: number
  onResult?: (r: BurstResult) => void
}): Promise<BurstResult[]> {
  const info = await (await fetch(new URL('/v1/info', o.urls[0]), { signal: AbortSignal.timeout(TRY_MS) })).json() as { publicKey: string }
  const out: BurstResult[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < o.count; i = next++) {
      const keys = generateKeyPair()
      let result: BurstResult = { ok: false, publicKey: keys.publicKey, error: 'no controller tried' }
      for (let k = 0; k < o.urls.length * 2; k++) {
        const url = o.urls[(i + k) % o.urls.length]!
        try {
          const r = await registerOnce(url, info.publicKey, keys, o.token, `burst-${i}`)
          if (r.status === 200) { result = { ok: true, publicKey: keys.publicKey, nodeId: r.json.nodeId, meshIp: r.json.meshIp, via: url }; break }
          result = { ok: false, publicKey: keys.publicKey, error: `${url}: ${r.status} ${r.json?.code ?? ''} ${r.json?.message ?? ''}` }
          if (r.status < 500) break
        } catch (err) {
          result = { ok: false, publicKey: keys.publicKey, error: `${url}: ${(err as Error).message}` }
        }
      }
      out.push(result)
      o.onResult?.(result)
    }
  }
  await Promise.all(Array.from({ length: o.concurrency }, worker))
  return out
}

async function main (): Promise<void> {
  const { values: v } = parseArgs({
    options: { controllers: { type: 'string' }, token: { type: 'string' }, count: { type: 'string' }, concurrency: { type: 'string' } }
  })
  if (v.controllers === undefined || v.token === undefined || v.count === undefined) {
    throw new Error('usage: register-burst --controllers URL,URL --token T --count N [--concurrency C]')
  }
  await burst({
    urls: v.controllers.split(','),
    token: v.token,
    count: Number(v.count),
    concurrency: Number(v.concurrency ?? 8),
    onResult: r => process.stdout.write(JSON.stringify(r) + '\n')
  })
}

if (process.argv[1]?.endsWith('register-burst.js') === true) {
  main().catch(err => { process.stderr.write(`register-burst: ${(err as Error).message}\n`); process.exit(1) })
}
