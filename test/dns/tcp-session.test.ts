import t, { type Test } from 'tap'
import { connect, createServer, type Socket } from 'node:net'
import { ManualClock, type Clock } from '../../lib/clock.js'
import { FrameReader, frame } from '../../lib/dns/message.js'
import { TcpSession } from '../../lib/dns/tcp-session.js'
import { until } from './helpers.js'

/** A query the test answers by hand: its bytes, and how to finish it. */
interface Held { message: Buffer, reply: (r: Buffer | null) => void }

/**
 * One TcpSession on 127.0.0.1 whose respond() holds every message until the test replies, and a client
 * connected to it that collects the answers and notices the close.
 */
async function session (t: Test, o: { clock?: Clock, idleMs?: number, maxPipeline?: number } = {}): Promise<{
  held: Held[], client: Socket, answers: Buffer[], closed: () => boolean
}> {
  const held: Held[] = []
  const server = createServer({ allowHalfOpen: true }, sock => {
    void new TcpSession({
      socket: sock,
      clock: o.clock ?? new ManualClock(),
      idleMs: o.idleMs ?? 10_000,
      maxPipeline: o.maxPipeline ?? 16,
      respond: message => new Promise(resolve => held.push({ message, reply: resolve })),
      onClose: () => {}
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.address() as { port: number }).port
  const client = connect({ host: '127.0.0.1', port })
  let closed = false
  const answers: Buffer[] = []
  const reader = new FrameReader()
  client.on('data', b => answers.push(...reader.push(b)))
  client.on('close', () => { closed = true })
  client.on('error', () => {})
  t.teardown(() => { client.destroy(); server.close() })
  await new Promise<void>(resolve => client.once('connect', () => resolve()))
  return { held, client, answers, closed: () => closed }
}

const msg = (s: string): Buffer => Buffer.from(s)

t.test('at most maxPipeline queries are answered at once; the rest wait their turn, and every one is answered', async t => {
  const s = await session(t, { maxPipeline: 2 })
  s.client.write(Buffer.concat(['a', 'b', 'c', 'd', 'e'].map(x => frame(msg(x)))))
  await until('two in progress', () => s.held.length === 2)
  await new Promise(resolve => setImmediate(resolve))
  t.equal(s.held.length, 2, 'the third waits')
  s.held[1]!.reply(msg('B'))
  await until('the third to start', () => s.held.length === 3)
  for (let i = 0; i < 5; i++) {
    await until(`query ${i} to start`, () => s.held.length > i)
    if (i !== 1) s.held[i]!.reply(msg(s.held[i]!.message.toString().toUpperCase()))
  }
  await until('five answers', () => s.answers.length === 5)
  t.same(s.answers.map(String), ['B', 'A', 'C', 'D', 'E'], 'answered as they finish')
  t.notOk(s.closed())
})

t.test('a null answer closes the connection; answers still pending are dropped', async t => {
  const s = await session(t)
  s.client.write(Buffer.concat([frame(msg('ok')), frame(msg('bad'))]))
  await until('both started', () => s.held.length === 2)
  s.held[1]!.reply(null)
  await until('closed', s.closed)
  s.held[0]!.reply(msg('late'))
  t.same(s.answers, [])
})

t.test('idle closes only after idleMs with nothing pending, counted from the last answer', async t => {
  const clock = new ManualClock()
  const s = await session(t, { clock, idleMs: 1000 })
  s.client.write(frame(msg('slow')))
  await until('started', () => s.held.length === 1)
  clock.advance(5000)
  await new Promise(resolve => setImmediate(resolve))
  t.notOk(s.closed(), 'a query in progress keeps the connection open')
  s.held[0]!.reply(msg('done'))
  await until('answered', () => s.answers.length === 1)
  clock.advance(999)
  await new Promise(resolve => setImmediate(resolve))
  t.notOk(s.closed(), 'open until idleMs after the answer')
  clock.advance(1)
  await until('closed when idle', s.closed)
})

t.test('a client that sends part of a message and stops is closed when idle', async t => {
  const clock = new ManualClock()
  const s = await session(t, { clock, idleMs: 1000 })
  s.client.write(Buffer.from([0, 50, 1, 2, 3]))
  await new Promise(resolve => setImmediate(resolve))
  clock.advance(1000)
  await until('closed', s.closed)
  t.equal(s.held.length, 0)
})
