import t from 'tap'
import { DEFAULT_PRESET, DEFAULTS, lanConfig, localConfig, meshConfig, PRESET_NAMES, PRESETS, resolve, type SwimConfig } from '../../lib/swim/config.js'
import { hasCode } from '../../lib/errors.js'
import { SeededRandom } from '../../lib/swim/random.js'
import { Swim } from '../../lib/swim/swim.js'
import { claimsFor } from './cluster.js'

t.test('every preset resolves to itself', async t => {
  t.same(Object.keys(PRESETS), PRESET_NAMES, 'PRESET_NAMES lists every preset')
  for (const [name, make] of Object.entries(PRESETS)) t.same(resolve(make()), make(), name)
  t.ok(lanConfig().probeIntervalMs > meshConfig().probeIntervalMs)
  t.ok(localConfig().probeTimeoutMs < meshConfig().probeTimeoutMs)
})

t.test('an empty input is the default preset, frozen; a given field overrides it', async t => {
  t.same(resolve(), meshConfig())
  t.same(DEFAULTS, PRESETS[DEFAULT_PRESET]!())
  t.ok(Object.isFrozen(resolve()) && Object.isFrozen(DEFAULTS))
  t.same(resolve({ joinGraceMs: 0, probeIntervalMs: undefined }), { ...meshConfig(), joinGraceMs: 0 }, 'undefined takes the default')
})

t.test('each range edge is accepted, one beyond it refused with a coded error naming the field and the range', async t => {
  // probeTimeoutMs stays below probeIntervalMs and gossip stays valid, so only the field under test can fail.
  const base: Partial<SwimConfig> = { probeIntervalMs: 600_000, probeTimeoutMs: 1, gossipIntervalMs: 0 }
  const cases: Array<[keyof SwimConfig, number, number, string]> = [
    ['probeIntervalMs', 10, 600_000, 'a duration from 10ms to 10m'],
    ['probeTimeoutMs', 1, 9, 'a duration from 1ms to 10m'],
    ['indirectChecks', 0, 16, 'a whole number from 0 to 16'],
    ['suspicionMult', 2, 100, 'a whole number from 2 to 100'],
    ['suspicionMaxTimeoutMult', 1, 100, 'a whole number from 1 to 100'],
    ['retransmitMult', 1, 100, 'a whole number from 1 to 100'],
    ['gossipIntervalMs', 0, 600_000, 'a duration from 0s to 10m'],
    ['gossipNodes', 0, 64, 'a whole number from 0 to 64'],
    ['awarenessMaxMultiplier', 1, 64, 'a whole number from 1 to 64'],
    ['deadProbeIntervalMs', 100, 3_600_000, 'a duration from 100ms to 1h'],
    ['syncIntervalMs', 100, 3_600_000, 'a duration from 100ms to 1h'],
    ['joinGraceMs', 0, 3_600_000, 'a duration from 0s to 1h'],
    ['maxPacketBytes', 256, 65_000, 'a whole number from 256 to 65000 bytes']
  ]
  for (const [field, min, max, range] of cases) {
    const over = field === 'probeTimeoutMs' ? { probeIntervalMs: 10 } : {}
    for (const v of [min, max]) t.equal(resolve({ ...base, ...over, [field]: v })[field], v, `${field} ${v} accepted`)
    const beyond = field === 'probeTimeoutMs' ? [0, 600_001] : [min - 1, max + 1]
    const refused = field === 'probeTimeoutMs' ? 'a duration from 1ms to 10m' : range
    for (const v of [...beyond, min + 0.5]) {
      const message = `swim config ${field} must be ${refused} (got `
      t.throws(() => resolve({ ...base, [field]: v }), { code: 'WEFT_ERR_SWIM_CONFIG', message }, `${field} ${v} refused`)
    }
  }
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
    t.throws(() => resolve(c), msg)
    try { resolve(c) } catch (err) { t.ok(hasCode(err, 'WEFT_ERR_SWIM_CONFIG'), 'coded') }
    t.throws(() => new Swim({ config: c, self: { id: 'a', addr: 'x:1' }, claims: claimsFor('a'), incarnation: 0, random: new SeededRandom(1) }),
      msg, 'the constructor validates')
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
