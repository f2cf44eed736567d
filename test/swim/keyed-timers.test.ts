import t from 'tap'
import { KeyedTimers } from '../../lib/swim/keyed-timers.js'

t.test('the earliest deadline follows sets, re-arms and cancels', async t => {
  const tt = new KeyedTimers()
  t.equal(tt.earliest(), undefined)
  tt.set('probe', '', 500)
  tt.set('suspicion', 'a', 300)
  tt.set('suspicion', 'b', 900)
  t.equal(tt.earliest(), 300)
  tt.set('suspicion', 'a', 1000)
  t.equal(tt.earliest(), 500, 're-arming later moves the earliest')
  tt.set('ack', '', 100)
  t.equal(tt.earliest(), 100)
  tt.cancel('ack', '')
  t.equal(tt.earliest(), 500)
  t.equal(tt.get('suspicion', 'b'), 900)
  t.equal(tt.size, 3)
})

t.test('expired returns due timers, with their deadlines, in deadline order and removes them', async t => {
  const tt = new KeyedTimers()
  tt.set('gossip', '', 30)
  tt.set('probe', '', 10)
  tt.set('relay', '7', 20)
  tt.set('sync', '', 99)
  t.same(tt.expired(5), [])
  t.same(tt.expired(30), [{ kind: 'probe', key: '', at: 10 }, { kind: 'relay', key: '7', at: 20 }, { kind: 'gossip', key: '', at: 30 }])
  t.equal(tt.earliest(), 99)
  t.equal(tt.size, 1)
  t.same(tt.expired(1000), [{ kind: 'sync', key: '', at: 99 }])
  t.equal(tt.earliest(), undefined)
})

t.test('same kind, different keys are different timers', async t => {
  const tt = new KeyedTimers()
  tt.set('suspicion', 'a', 10)
  tt.set('suspicion', 'b', 10)
  tt.cancel('suspicion', 'a')
  t.same(tt.expired(10), [{ kind: 'suspicion', key: 'b', at: 10 }])
})
