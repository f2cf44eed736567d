import t from 'tap'
import { ending, reconciles, transition, type DaemonPhase, type PhaseEvent } from '../../lib/daemon/phase.js'

const PHASES: DaemonPhase[] = ['starting', 'syncing', 'running', 'revoked', 'stopping', 'stopped']
const EVENTS: PhaseEvent[] = ['started', 'reconciled', 'revoked', 'stop', 'released']

/** Every phase by every event; `.` = the event leaves the phase as it is. */
const TABLE: Record<DaemonPhase, Record<PhaseEvent, DaemonPhase | '.'>> = {
  starting: { started: 'syncing', reconciled: '.', revoked: '.', stop: 'stopping', released: '.' },
  syncing: { started: '.', reconciled: 'running', revoked: 'revoked', stop: 'stopping', released: '.' },
  running: { started: '.', reconciled: '.', revoked: 'revoked', stop: 'stopping', released: '.' },
  revoked: { started: '.', reconciled: '.', revoked: '.', stop: 'stopping', released: '.' },
  stopping: { started: '.', reconciled: '.', revoked: '.', stop: '.', released: 'stopped' },
  stopped: { started: '.', reconciled: '.', revoked: '.', stop: '.', released: '.' }
}

t.test('transition: every phase by every event', async (t) => {
  for (const phase of PHASES) {
    for (const event of EVENTS) {
      const want = TABLE[phase][event]
      t.equal(transition(phase, event), want === '.' ? phase : want, `${phase} + ${event} -> ${want === '.' ? `${phase} (unchanged)` : want}`)
    }
  }
})

t.test('the only way to stopped is through stopping, and stopped is final', async (t) => {
  for (const phase of PHASES.filter(p => p !== 'stopping' && p !== 'stopped')) {
    t.notOk(EVENTS.some(e => transition(phase, e) === 'stopped'), `${phase} does not skip stopping`)
    t.equal(transition(phase, 'stop'), 'stopping', `${phase} can always be stopped`)
  }
  t.ok(EVENTS.every(e => transition('stopped', e) === 'stopped'))
})

t.test('what each phase does', async (t) => {
  const cases: Array<[DaemonPhase, boolean, boolean]> = [
    // phase, reconciles, ending
    ['starting', false, false],
    ['syncing', true, false],
    ['running', true, false],
    ['revoked', true, false],
    ['stopping', false, true],
    ['stopped', false, true]
  ]
  for (const [phase, rec, end] of cases) {
    t.equal(reconciles(phase), rec, `${phase}: ${rec ? '' : 'no '}reconcile`)
    t.equal(ending(phase), end, `${phase}: ${end ? '' : 'not '}ending`)
  }
})
