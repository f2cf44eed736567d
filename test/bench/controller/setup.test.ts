import t from 'tap'
import { ChannelSet } from '../../../bench/controller/channel-set.js'
import { settle } from '../../../bench/controller/setup.js'
import { delta, nodes, standIn, until } from './stand-in.js'

/**
 * Settling the bench's channels over several controllers, against stand-in controllers: the mesh is quiet only
 * when every channel holds the current version of the controller it is open at.
 */

t.test('settle waits until the channels of every controller hold that controller\'s version', async (t) => {
  const a = await standIn(t, 0)
  const b = await standIn(t, 1)
  a.version = 3
  b.version = 7
  const set = new ChannelSet()
  t.teardown(() => set.closeAll())
  // Controller 1's channels start one version behind it.
  await set.openAll(node => (node.index % 2 === 0 ? a.target : b.target), nodes(4), target => (target.controller === 0 ? 3 : 6), 4, () => {})
  await until('two channels at each stand-in', () => a.streams.length === 2 && b.streams.length === 2)
  let settled = false
  const result = settle([a.target, b.target], set, 10_000, 5).finally(() => { settled = true })
  await until('three looks at controller 1', () => b.infoRequests >= 3)
  t.notOk(settled, 'not settled while controller 1\'s channels are behind it, though controller 0\'s are current')
  b.send(delta(6))
  const ms = await result
  t.ok(ms !== null, 'settled once they caught up')
  t.same(set.versions(1), { min: 7, max: 7 })
})

t.test('settle with a quiet period returns only once no version moved for that long', async (t) => {
  const a = await standIn(t, 0)
  const set = new ChannelSet()
  t.teardown(() => set.closeAll())
  await set.openAll(() => a.target, nodes(1), () => 1, 1, () => {})
  await until('the channel at the stand-in', () => a.streams.length === 1)
  const ms = await settle([a.target], set, 10_000, 5, 100)
  t.ok(ms !== null && ms >= 100, `settled after ${ms} ms, not before the quiet period`)
})

t.test('settle gives up with null after its bound', async (t) => {
  const a = await standIn(t, 0)
  a.version = 2
  const set = new ChannelSet()
  t.teardown(() => set.closeAll())
  await set.openAll(() => a.target, nodes(1), () => 1, 1, () => {})
  await until('the channel at the stand-in', () => a.streams.length === 1)
  t.equal(await settle([a.target], set, 100, 5), null)
})
