import t from 'tap'
import { decodePacket, encodeHead, encodePacket, encodeUpdate } from '../../lib/swim/codec.js'
import { meshConfig } from '../../lib/swim/config.js'
import { SeededRandom } from '../../lib/swim/random.js'
import { Swim } from '../../lib/swim/swim.js'
import { claimsFor, signed } from './cluster.js'

const roster = [{ id: 'a', addr: 'A:1' }, { id: 'b', addr: 'B:1' }, { id: 'c', addr: 'C:1' }, { id: 'd', addr: 'D:1' }]

/** Gossip packets `s` sends from `from` until `to` ms, 1 ms steps, answering nothing; `wakeups` counts timer calls. */
function gossipTimes (s: Swim, from: number, to: number, wakeups = { n: 0 }): number[] {
  const at: number[] = []
  for (let now = from; now < to; now++) {
    if ((s.pollTimeout() ?? Infinity) <= now) { wakeups.n++; s.handleTimeout(now) }
    for (let tx = s.pollTransmit(); tx !== undefined; tx = s.pollTransmit()) {
      const d = decodePacket(tx.bytes, 1200)
      if (d.ok && d.packet.msg.type === 'gossip') at.push(now)
    }
  }
  return at
}

t.test('gossip rounds run only while updates are queued, at most one per interval', async t => {
  // Probes rare and spared (nobody answers here), so that only gossip could wake the core up.
  const cfg = { ...meshConfig(), probeIntervalMs: 60_000, joinGraceMs: 600_000, syncIntervalMs: 600_000, deadProbeIntervalMs: 600_000 }
  const s = new Swim({ config: cfg, self: roster[0]!, claims: claimsFor((roster[0]!).id), incarnation: 0, random: new SeededRandom(3) })
  s.setMembers(0, roster)
  // Our own alive is queued at start: rounds of gossipNodes packets until its transmit limit is spent.
  const first = gossipTimes(s, 0, 10_000)
  t.ok(first.length > 0, 'the start announcement is gossiped')
  t.equal(s.pendingBroadcasts, 0, 'and then the queue is empty')
  const rounds = [...new Set(first)]
  for (let i = 1; i < rounds.length; i++) {
    t.ok(
      rounds[i]! - rounds[i - 1]! >= cfg.gossipIntervalMs,
    `round ${i} ${rounds[i]! - rounds[i - 1]!} ms after the one before`
    )
  }

  // Nothing queued: no gossip timer is armed. In 40 s of quiet the core wakes for its probe and the probe's
  // timeout only (a 200 ms gossip tick would be 200 wake-ups).
  const quiet = { n: 0 }
  t.same(gossipTimes(s, 10_000, 50_000, quiet), [], 'no gossip for 40 s of quiet')
  t.ok(quiet.n <= 2, `${quiet.n} wake-ups in 40 s of quiet`)

  // News (a leave by c, heard from c) goes out at once, not at the next tick of a fixed clock.
  s.handlePacket(50_000, 'C:1', encodePacket(encodeHead('c', { type: 'gossip' }), [encodeUpdate(signed({
    state: 'left',
    id: 'c',
    incarnation: 0,
    from: 'c'
  }))]))
  t.equal(s.pollTimeout(), 50_000, 'a round is due at once')
  const news = [...new Set(gossipTimes(s, 50_000, 60_000))]
  t.equal(news[0], 50_000)
  t.ok(news.length >= 2, `${news.length} rounds for the news`)
  for (let i = 1; i < news.length; i++) t.ok(news[i]! - news[i - 1]! >= cfg.gossipIntervalMs)
})
