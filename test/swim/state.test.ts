import t from 'tap'
import { MEMBER_STATES, transition, type MemberState, type Outcome } from '../../lib/swim/state.js'

t.test('the transition table', async t => {
  // [current, curInc, claimed, claimInc, outcome]
  const table: Array<[MemberState, number, MemberState, number, Outcome]> = [
    ['alive', 1, 'alive', 1, 'ignore'],
    ['alive', 1, 'alive', 2, 'apply'],
    ['alive', 1, 'suspect', 0, 'ignore'],
    ['alive', 1, 'suspect', 1, 'apply'],
    ['alive', 1, 'dead', 1, 'apply'],
    ['alive', 1, 'left', 1, 'apply'],
    ['suspect', 1, 'alive', 1, 'ignore'],
    ['suspect', 1, 'alive', 2, 'apply'], // refutation
    ['suspect', 1, 'suspect', 1, 'confirm'],
    ['suspect', 1, 'suspect', 2, 'apply'],
    ['suspect', 1, 'suspect', 0, 'ignore'],
    ['suspect', 1, 'dead', 1, 'apply'],
    ['suspect', 2, 'dead', 1, 'ignore'],
    ['dead', 1, 'alive', 1, 'ignore'], // a stale alive does not resurrect
    ['dead', 1, 'alive', 2, 'apply'], // a refutation or restart does
    ['dead', 1, 'suspect', 1, 'ignore'],
    ['dead', 1, 'suspect', 2, 'apply'],
    ['dead', 1, 'dead', 1, 'ignore'],
    ['dead', 1, 'dead', 2, 'apply'],
    ['dead', 1, 'left', 1, 'apply'], // a leave explains a death
    ['left', 1, 'dead', 1, 'ignore'],
    ['left', 1, 'alive', 1, 'ignore'],
    ['left', 1, 'alive', 2, 'apply'], // came back after leaving
    ['left', 1, 'left', 1, 'ignore'],
    ['left', 1, 'suspect', 2, 'apply']
  ]
  for (const [cur, ci, claim, inc, want] of table) t.equal(transition(cur, ci, claim, inc), want, `${cur}@${ci} + ${claim}@${inc}`)
})

t.test('every pair of states has an answer and older claims never apply', async t => {
  for (const cur of MEMBER_STATES) {
    for (const claim of MEMBER_STATES) {
      t.equal(transition(cur, 5, claim, 4), 'ignore', `${cur} ignores ${claim} at an older incarnation`)
      t.not(transition(cur, 5, claim, 6), 'ignore', `${cur} takes ${claim} at a newer incarnation`)
    }
  }
})
