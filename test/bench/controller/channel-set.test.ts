import t from 'tap'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ChannelSet, type PolicyWatch } from '../../../bench/controller/channel-set.js'
import type { RegisteredNode } from '../../../bench/controller/client.js'

/**
 * The policy watch of the bench's channel set, against a stand-in stream server: each test writes the NDJSON
 * lines a controller would, and reads when and in how many bytes each channel got a policy version.
 */

const EPOCH = 'e1'

/** A set of `n` channels open on a local server; `send` writes one line to every channel. */
async function channels (t: { teardown: (fn: () => unknown) => void }, n: number): Promise<{ set: ChannelSet, send: (msg: unknown) => number }> {
  const streams: ServerResponse[] = []
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    res.flushHeaders()
    streams.push(res)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const set = new ChannelSet()
  const nodes = Array.from({ length: n }, (_, i) => ({ index: i, credential: `c${i}`, sourceIp: '127.0.0.1' }) as unknown as RegisteredNode)
  await set.openAll({ origin: `http://127.0.0.1:${port}`, host: '127.0.0.1', port, epoch: EPOCH }, nodes, () => 1, n, () => {})
  t.teardown(async () => {
    set.closeAll()
    for (const s of streams) s.destroy()
    await new Promise(resolve => server.close(resolve))
  })
  while (streams.length < n) await new Promise(resolve => setImmediate(resolve))
  const send = (msg: unknown): number => {
    const line = JSON.stringify(msg) + '\n'
    for (const s of streams) s.write(line)
    return Buffer.byteLength(line)
  }
  return { set, send }
}

/** Waits for every channel to get the watched version; fails after 5 s instead of hanging the run. */
async function reached (w: PolicyWatch): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`policy version ${w.version} reached only ${w.arrivedAtMs.length - w.remaining} channels in 5 s`)), 5000)
  })
  try {
    await Promise.race([w.done, timeout])
  } finally {
    clearTimeout(timer)
  }
}

const delta = (from: number, extra: object = {}): object => ({ type: 'delta', epoch: EPOCH, from, to: from + 1, upsert: [], remove: [], ...extra })

t.test('a policy watch records, per channel, the line that carries its version and that line\'s size', async (t) => {
  const { set, send } = await channels(t, 3)
  const w = set.watchPolicy(2)
  const t0 = performance.now()
  send(delta(1))
  send(delta(2, { policy: { version: 1, text: '{}' } }))
  const bytes = send(delta(3, { policy: { version: 2, text: '{ "acls": [] }' } }))
  await reached(w)
  t.equal(w.remaining, 0)
  t.same([...w.lineBytes], [bytes, bytes, bytes], 'each channel counts the whole line, newline included')
  t.ok([...w.arrivedAtMs].every(at => at >= t0), 'every channel has an arrival time after the watch started')
  t.equal(w.viaFull, 0)
  set.unwatchPolicy(2)
})

t.test('a policy too big to parse is found in the unparsed line; a text quoting a version does not count as it', async (t) => {
  const { set, send } = await channels(t, 2)
  const w2 = set.watchPolicy(2)
  const w3 = set.watchPolicy(3)
  // Over the 64 KiB the channel parses, and holding the very pattern the byte search looks for, as text.
  const fake = `// "policy":{"version":3,"text":""}\n{ "acls": [] }${' '.repeat(70_000)}`
  const bytes = send(delta(1, { policy: { version: 2, text: fake } }))
  await reached(w2)
  t.same([...w2.lineBytes], [bytes, bytes])
  t.equal(w3.remaining, 2, 'version 3 quoted inside version 2\'s text is not version 3')
  send(delta(2, { policy: { version: 3, text: '{}' } }))
  await reached(w3)
  t.equal(w3.remaining, 0)
})

t.test('a full map carrying the version counts, as arriving via the full map', async (t) => {
  const { set, send } = await channels(t, 2)
  const w = set.watchPolicy(4)
  const bytes = send({ type: 'full', netmap: { epoch: EPOCH, version: 9, cidr: '100.64.0.0/10', nodes: [], policy: { version: 4, text: '{}' } } })
  await reached(w)
  t.equal(w.viaFull, 2)
  t.same([...w.lineBytes], [bytes, bytes])
})
