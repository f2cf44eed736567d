import t from 'tap'
import { lanConfig, localConfig, meshConfig, PRESETS, validateConfig, type SwimConfig } from '../../lib/swim/config.js'
import { hasCode } from '../../lib/errors.js'
import { SeededRandom } from '../../lib/swim/random.js'
import { Swim } from '../../lib/swim/swim.js'
import { claimsFor } from './cluster.js'

t.test('every preset validates', async t => {
  for (const [name, make] of Object.entries(PRESETS)) t.doesNotThrow(() => validateConfig(make()), name)
  t.ok(lanConfig().probeIntervalMs > meshConfig().probeIntervalMs)
  t.ok(localConfig().probeTimeoutMs < meshConfig().probeTimeoutMs)
})

t.test('nonsense is rejected with a coded error naming the field', async t => {
  const bad: Array<[Partial<SwimConfig>, RegExp]> = [
    [{ probeIntervalMs: 0 }, /probeIntervalMs/],
    [{ probeIntervalMs: 1.5 }, /probeIntervalMs/],
    [{ probeTimeoutMs: 300 }, /probeTimeoutMs .* shorter than probeIntervalMs/],
    [{ suspicionMult: 1 }, /suspicionMult/],
    [{ maxPacketBytes: 100 }, /maxPacketBytes/],
    [{ gossipNodes: 0 }, /gossipNodes/],
    [{ retransmitMult: Number.NaN }, /retransmitMult/],
    [{ awarenessMaxMultiplier: 0 }, /awarenessMaxMultiplier/]
  ]
  for (const [patch, msg] of bad) {
    const c = { ...meshConfig(), ...patch }
    t.throws(() => validateConfig(c), msg)
    try { validateConfig(c) } catch (err) { t.ok(hasCode(err, 'WEFT_ERR_SWIM_CONFIG'), 'coded') }
    t.throws(() => new Swim({
      config: c,
      self: { id: 'a', addr: 'x:1' },
      claims: claimsFor('a'),
      incarnation: 0,
      random: new SeededRandom(1)
    }), msg, 'the constructor validates')
  }
})

t.test('the constructor rejects a bad identity', async t => {
  const r = new SeededRandom(1)
  t.throws(() => new Swim({ config: meshConfig(), self: { id: '', addr: 'x:1' }, claims: claimsFor(''), incarnation: 0, random: r }), /self id/)
  t.throws(() => new Swim({
    config: meshConfig(),
    self: { id: '@controller', addr: 'x:1' },
    claims: claimsFor('@controller'),
    incarnation: 0,
    random: r
  }), /self id/)
  t.throws(() => new Swim({ config: meshConfig(), self: { id: 'a', addr: '' }, claims: claimsFor('a'), incarnation: 0, random: r }), /addr/)
  t.throws(() => new Swim({ config: meshConfig(), self: { id: 'a', addr: 'x:1' }, claims: claimsFor('a'), incarnation: -1, random: r }), /incarnation/)
})
