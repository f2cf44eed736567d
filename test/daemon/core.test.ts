import t from 'tap'
import { generateKeyPair } from '../../lib/wire/keys.js'
import type { Netmap, NodeRecord } from '../../lib/wire/netmap.js'
import { DaemonCore, memberInput, withDown, type DaemonAction, type DaemonCoreConfig, type DaemonInput } from '../../lib/daemon/core.js'
import { desired } from '../../lib/daemon/desired.js'
import { SeededRandom } from '../../lib/swim/random.js'
import type { DaemonPhase } from '../../lib/daemon/phase.js'
import { nodeRecord } from './records.js'

const keys = Array.from({ length: 6 }, () => generateKeyPair().publicKey).sort()
const SIGNING = 'signing-key-of-n0'
/** n0 is this node, with the smallest key but one: n1 holds the smallest. */
const order = [1, 0, 2, 3, 4, 5]
const rec = (i: number, over: Partial<NodeRecord> = {}): NodeRecord =>
  nodeRecord(i, keys[order[i]!]!, { ...(i === 0 ? { signingKey: SIGNING } : {}), ...over })
/** A netmap of version `v` holding n0 (us) and the nodes `ids`. */
const map = (v: number, ids: number[], self: Partial<NodeRecord> = {}): Netmap => ({
  epoch: 'e',
  version: v,
  cidr: '100.64.0.0/10',
  nodes: [rec(0, self), ...ids.map(i => rec(i))]
})

const base: DaemonCoreConfig = { selfId: 'n0', selfKey: keys[1]!, signingKey: SIGNING, keepaliveSeconds: 25, joinToken: false, announce: false }

/** A step: an input for the core, or a desired() call with who SWIM holds down (shown as `peers ...`). */
type Step = DaemonInput | { type: 'desire', down: string[] }

function show (a: DaemonAction): string {
  switch (a.type) {
    case 'announce': return `announce ${a.ids.join(',')}`
    case 'record-revocation': return `record-revocation${a.removed ? ' removed' : ''}`
    case 'release': return `release${a.teardown ? ' teardown' : ''}`
    default: return a.type
  }
}

function run (core: DaemonCore, step: Step): string[] {
  if (step.type !== 'desire') return core.handle(step).map(show)
  const want = core.desired(new Set(step.down))
  return want === null ? ['no reconcile'] : [`peers ${want.peers.map(p => p.nodeId).join(',')}`]
}

const started: Step = { type: 'started' }
const reconciled: Step = { type: 'reconciled' }
const disk = (m: Netmap): Step => ({ type: 'netmap', map: m, source: 'disk' })
const full = (m: Netmap): Step => ({ type: 'netmap', map: m, source: 'full' })
const delta = (m: Netmap): Step => ({ type: 'netmap', map: m, source: 'delta' })
/** The steps that bring a first start to running on a netmap of n0..n2. */
const toRunning: Array<[Step, string[]]> = [[started, []], [full(map(1, [1, 2])), ['reconcile']], [reconciled, ['set-swim-members', 'open-announcer']]]

interface Case {
  name: string
  cfg?: Partial<DaemonCoreConfig>
  /** Each step with the actions it must yield, in order. */
  steps: Array<[Step, string[]]>
  phase: DaemonPhase
  exit?: 'stopped' | 'restart'
}

const cases: Case[] = [
  {
    name: 'first start: no netmap until the controller sends one; SWIM starts after the first reconcile; nothing is announced',
    steps: [
      [started, []],
      [{ type: 'tick', stale: true }, ['announce-dead']],
      [full(map(1, [1, 2])), ['reconcile']],
      [reconciled, ['set-swim-members', 'open-announcer']],
      [reconciled, []],
      [delta(map(2, [1, 2, 3])), ['set-swim-members', 'reconcile']]
    ],
    phase: 'running'
  },
  {
    name: 'a saved netmap is kept while starting and reconciled once started',
    steps: [[disk(map(1, [1, 2])), []], [{ type: 'device-stale' }, []], [started, ['reconcile']], [reconciled, ['set-swim-members', 'open-announcer']]],
    phase: 'running'
  },
  {
    name: 'restart: announced to every member once tunnels are configured, then to newcomers until a controller netmap is covered',
    cfg: { announce: true },
    steps: [
      [disk(map(1, [1, 2])), []],
      [started, ['reconcile']],
      [reconciled, ['set-swim-members', 'open-announcer', 'announce n1,n2']],
      [full(map(2, [1, 2, 3])), ['set-swim-members', 'announce n3', 'reconcile']],
      [delta(map(3, [1, 2, 3, 4])), ['set-swim-members', 'reconcile']]
    ],
    phase: 'running'
  },
  {
    name: 'restart: a controller netmap during syncing makes the first announcement the last',
    cfg: { announce: true },
    steps: [
      [disk(map(1, [1])), []],
      [started, ['reconcile']],
      [full(map(2, [1, 2])), ['reconcile']],
      [reconciled, ['set-swim-members', 'open-announcer', 'announce n1,n2']],
      [delta(map(3, [1, 2, 3])), ['set-swim-members', 'reconcile']]
    ],
    phase: 'running'
  },
  {
    name: 'restart from disk only: members added by later disk-free netmaps are announced until then',
    cfg: { announce: true },
    steps: [
      [started, []],
      [disk(map(1, [1])), ['reconcile']],
      [reconciled, ['set-swim-members', 'open-announcer', 'announce n1']],
      [disk(map(1, [1, 2])), ['set-swim-members', 'announce n2', 'reconcile']]
    ],
    phase: 'running'
  },
  {
    name: 'SWIM verdicts: only a change in who is down reconciles',
    steps: [
      ...toRunning,
      [{ type: 'desire', down: [] }, ['peers n1,n2']],
      [{ type: 'member', id: 'n2', down: false }, []],
      [{ type: 'member', id: 'n2', down: true }, ['reconcile']],
      [{ type: 'desire', down: ['n2'] }, ['peers n1']],
      [{ type: 'member', id: 'n2', down: true }, []],
      [{ type: 'member', id: 'n2', down: false }, ['reconcile']]
    ],
    phase: 'running'
  },
  {
    name: 'the tick pings the dead and retries a reconcile while the device is unknown',
    steps: [
      ...toRunning,
      [{ type: 'tick', stale: false }, ['announce-dead']],
      [{ type: 'tick', stale: true }, ['announce-dead', 'reconcile']],
      [{ type: 'device-stale' }, ['reconcile']]
    ],
    phase: 'running'
  },
  {
    name: 'revoked (403): every peer goes, SWIM keeps its members, the signing key is no longer sent',
    steps: [
      ...toRunning,
      [{ type: 'revoked', reason: 'no', removed: false }, ['record-revocation', 'reconcile']],
      [{ type: 'desire', down: [] }, ['peers ']],
      [{ type: 'revoked', reason: 'again', removed: true }, []],
      [{ type: 'tick', stale: true }, ['announce-dead', 'reconcile']],
      [{ type: 'forgotten', reason: 'x' }, []],
      [full(map(2, [1, 2], { signingKey: undefined })), ['reconcile']]
    ],
    phase: 'revoked'
  },
  {
    name: 'removed by an admin (403 NODE_REMOVED): the removal is recorded',
    steps: [...toRunning, [{ type: 'revoked', reason: 'removed', removed: true }, ['record-revocation removed', 'reconcile']]],
    phase: 'revoked'
  },
  {
    name: 'revoked before the first reconcile: SWIM never starts',
    steps: [
      [started, []],
      [full(map(1, [1])), ['reconcile']],
      [{ type: 'revoked', reason: 'no', removed: false }, ['record-revocation', 'reconcile']],
      [reconciled, []]
    ],
    phase: 'revoked'
  },
  {
    name: 'forgotten (401) with a join token: register again, then stop to start on the new identity',
    cfg: { joinToken: true },
    steps: [
      ...toRunning,
      [{ type: 'forgotten', reason: 'unknown' }, ['rejoin']],
      [{ type: 'rejoined' }, ['release']],
      [{ type: 'rejoined' }, []],
      [{ type: 'released' }, []]
    ],
    phase: 'stopped',
    exit: 'restart'
  },
  {
    name: 'forgotten (401) without a join token: the operator is told, the mesh keeps running',
    steps: [...toRunning, [{ type: 'forgotten', reason: 'unknown' }, ['need-join-token']], [{ type: 'member', id: 'n1', down: true }, ['reconcile']]],
    phase: 'running'
  },
  {
    name: 'forgotten while syncing: the rejoin does not wait for the first reconcile',
    cfg: { joinToken: true },
    steps: [
      [disk(map(1, [1])), []],
      [started, ['reconcile']],
      [{ type: 'forgotten', reason: 'unknown' }, ['rejoin']],
      [reconciled, ['set-swim-members', 'open-announcer']]
    ],
    phase: 'running'
  },
  {
    name: 'stop: released once; nothing starts while stopping',
    steps: [
      ...toRunning,
      [{ type: 'stop', teardown: true }, ['release teardown']],
      [{ type: 'stop', teardown: false }, []],
      [{ type: 'desire', down: [] }, ['no reconcile']],
      [{ type: 'member', id: 'n1', down: true }, []],
      [{ type: 'tick', stale: true }, []],
      [delta(map(2, [1])), []],
      [{ type: 'forgotten', reason: 'late' }, []],
      [{ type: 'revoked', reason: 'late', removed: true }, []],
      [{ type: 'rejoined' }, []],
      [{ type: 'released' }, []]
    ],
    phase: 'stopped',
    exit: 'stopped'
  },
  {
    name: 'a start that fails: stop while starting, no reconcile afterwards',
    steps: [[disk(map(1, [1])), []], [{ type: 'stop', teardown: false }, ['release']], [started, []], [{ type: 'desire', down: [] }, ['no reconcile']]],
    phase: 'stopping'
  },
  {
    name: 'signing key: one registration per controller netmap that lacks it, none for a saved one',
    steps: [
      [started, []],
      [disk(map(1, [1], { signingKey: undefined })), ['reconcile']],
      [full(map(2, [1], { signingKey: undefined })), ['refresh-signing-key', 'reconcile']],
      [delta(map(3, [1, 2], { signingKey: undefined })), ['reconcile']],
      [{ type: 'signing-key-done' }, []],
      [delta(map(4, [1, 2], { signingKey: 'stale' })), ['refresh-signing-key', 'reconcile']],
      [{ type: 'signing-key-done' }, []],
      [delta(map(5, [1, 2])), ['reconcile']]
    ],
    phase: 'syncing'
  }
]

t.test('the daemon core, table-driven', async (t) => {
  for (const c of cases) {
    const core = new DaemonCore({ ...base, ...c.cfg })
    c.steps.forEach(([step, want], i) => {
      t.same(run(core, step), want, `${c.name}: step ${i + 1} (${step.type})`)
    })
    t.equal(core.phase, c.phase, `${c.name}: ends ${c.phase}`)
    if (c.exit !== undefined) t.equal(core.exit, c.exit, `${c.name}: exits ${c.exit}`)
  }
})

t.test('desired: the netmap less self and the down, held where the other end initiates; null when no reconcile should run', async (t) => {
  const core = new DaemonCore(base)
  t.equal(core.desired(new Set()), null, 'starting')
  core.handle({ type: 'started' })
  t.equal(core.desired(new Set()), null, 'no netmap yet')
  core.handle({ type: 'netmap', map: map(1, [1, 2, 3]), source: 'full' })
  const want = core.desired(new Set(['n3']))!
  t.same(want.peers.map(p => [p.nodeId, p.held, p.keepaliveSeconds]), [['n1', true, 25], ['n2', false, 25]], 'n1 has the smaller key: it initiates, we hold')
  t.same(want.excluded.map(e => [e.nodeId, e.reason]), [['n0', 'self'], ['n3', 'swim-dead']])
  t.equal(core.netmap?.version, 1, 'the core owns the current netmap')
  t.equal(core.node('n2')?.hostname, 'h2')
  t.equal(core.node('n9'), undefined)
})

t.test('withDown: the peer set of the netmap with nobody down, minus who is down, is exactly desired() of it', async t => {
  const random = new SeededRandom(7)
  for (let round = 0; round < 200; round++) {
    // Six nodes with some bad records among them: a duplicate key, a duplicate mesh IP, a bad key, one left.
    const nodes = [0, 1, 2, 3, 4, 5].map(i => rec(i))
    const pick = (): number => random.int(6)
    if (random.next() < 0.5) nodes[pick()] = { ...nodes[pick()]!, id: `n${pick()}x` }
    if (random.next() < 0.3) nodes[pick()]!.meshIp = nodes[pick()]!.meshIp
    if (random.next() < 0.2) nodes[pick()]!.publicKey = 'not a key'
    if (random.next() < 0.2) nodes[pick()]!.health = 'left'
    const netmap: Netmap = { ...map(1, []), nodes }
    const down = new Set(nodes.filter(() => random.next() < 0.4).map(n => n.id))
    const opts = { keepaliveSeconds: 25, selfKey: keys[order[0]!]! }
    t.same(withDown(desired(netmap, new Set(), 'n0', opts), down), desired(netmap, down, 'n0', opts), `round ${round}`)
  }
})

t.test('memberInput: only dead, left and alive change who is down', async t => {
  t.same(memberInput({ type: 'dead', id: 'n1' }), { type: 'member', id: 'n1', down: true })
  t.same(memberInput({ type: 'left', id: 'n1' }), { type: 'member', id: 'n1', down: true })
  t.same(memberInput({ type: 'alive', id: 'n1' }), { type: 'member', id: 'n1', down: false })
  t.equal(memberInput({ type: 'suspect', id: 'n1' }), null, 'a suspect keeps its tunnel')
  t.equal(memberInput({ type: 'refute', id: 'n0' }), null)
})
