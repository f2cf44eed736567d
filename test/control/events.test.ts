import t from 'tap'
import { EVENTS_KEPT, EventLog } from '../../lib/control/events.js'
import type { MeshEvent } from '../../lib/wire/api.js'

t.test('events are numbered, kept up to EVENTS_KEPT, listed after a number, and handed to subscribers as they happen', async (t) => {
  let now = 1000
  const log = new EventLog(() => now)
  const seen: MeshEvent[] = []
  const stop = log.subscribe(e => seen.push(e))
  log.emit('join', { nodeId: 'n1', name: 'a.weft.internal', reason: 'joined' })
  now = 2000
  log.emit('health', { nodeId: 'n1', from: 'online', to: 'offline', reason: 'controller lost it' })
  t.same(seen.map(e => [e.seq, e.at, e.type]), [[1, 1000, 'join'], [2, 2000, 'health']])
  t.same(log.after(1).map(e => e.seq), [2])
  t.same(log.after(2), [])
  stop()
  for (let i = 0; i < EVENTS_KEPT + 10; i++) log.emit('tags', { reason: `r${i}` })
  t.equal(seen.length, 2, 'unsubscribed')
  t.equal(log.last, EVENTS_KEPT + 12)
  const kept = log.after(0)
  t.equal(kept.length, EVENTS_KEPT)
  t.equal(kept[0]!.seq, 13, 'the oldest went')
  t.same(log.after(0, 2).map(e => e.seq), [EVENTS_KEPT + 11, EVENTS_KEPT + 12], 'a limit takes the newest')
})
