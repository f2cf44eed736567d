import t from 'tap'
import { ChannelSet, delivery, timeToAllByController, type PolicyWatch } from '../../../bench/controller/channel-set.js'
import { delta, EPOCH, nodes, standIn, until } from './stand-in.js'

/**
 * The watches of the bench's channel set, against stand-in controllers: each test writes the NDJSON lines a
 * controller would, and reads when and in how many bytes each channel got a change.
 */

/** A set of `n` channels open on one stand-in; `send` writes one line to every channel. */
async function channels (t: Parameters<typeof standIn>[0], n: number): Promise<{ set: ChannelSet, send: (msg: unknown) => number }> {
  const c = await standIn(t)
  const set = new ChannelSet()
  await set.openAll(() => c.target, nodes(n), () => 1, n, () => {})
  t.teardown(() => set.closeAll())
  await until(`${n} channels at the stand-in`, () => c.streams.length === n)
  return { set, send: c.send }
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

t.test('a set spread over two controllers holds each controller\'s versions and times a change to all of each one\'s channels', async (t) => {
  const a = await standIn(t, 0)
  const b = await standIn(t, 1)
  const set = new ChannelSet()
  t.teardown(() => set.closeAll())
  await set.openAll(node => (node.index % 2 === 0 ? a.target : b.target), nodes(4), target => (target.controller === 0 ? 5 : 8), 4, () => {})
  await until('two channels at each stand-in', () => a.streams.length === 2 && b.streams.length === 2)
  t.same(set.controllerOf, [0, 1, 0, 1])
  t.same(set.versions(0), { min: 5, max: 5 })
  t.same(set.versions(1), { min: 8, max: 8 }, 'each channel starts at the version of its own controller')
  t.equal(set.versions(2), null, 'a controller with no channels has no versions')

  const w = set.watch('k1')
  const t0 = performance.now()
  a.send(delta(5, { upsert: [{ publicKey: 'k1' }] }))
  await until('controller 0\'s channels to get k1', () => w.remaining === 2)
  const partial = timeToAllByController(w, t0, set.controllerOf, 2)
  t.ok(partial[0] !== null && partial[0] >= 0, 'controller 0\'s channels all have it')
  t.equal(partial[1], null, 'controller 1\'s do not yet')
  t.same(set.versions(0), { min: 6, max: 6 })
  b.send(delta(8, { upsert: [{ publicKey: 'k1' }] }))
  await w.done
  const all = timeToAllByController(w, t0, set.controllerOf, 2)
  t.ok(all.every(ms => ms !== null), 'both controllers\' channels have it')
  t.equal(delivery(w, t0).timeToAllMs, Math.max(all[0]!, all[1]!), 'time-to-all is the slower controller\'s')
  t.same(set.versions(1), { min: 9, max: 9 })
  set.unwatch('k1')
})
