import t from 'tap'
import { changedPrefs, checkPrefs, mergePrefs, PREF_DEFAULTS, startPrefs } from '../../lib/daemon/prefs.js'

t.test('checkPrefs normalises what it is given and refuses bad values and unknown keys, naming the flag', async (t) => {
  t.same(checkPrefs({ advertiseRoutes: ['198.51.100.0/24', '192.0.2.0/24'], exitNode: 'auto', advertiseExitNode: undefined }),
    { advertiseRoutes: ['192.0.2.0/24', '198.51.100.0/24'], exitNode: 'auto' })
  t.throws(() => checkPrefs({ advertiseRoutes: '192.0.2.0/24' }), { code: 'WEFT_ERR_CONFIG', message: /--advertise-routes must be a list/ })
  t.throws(() => checkPrefs({ advertiseExitNode: 'yes' }), { message: /--advertise-exit-node must be true or false/ })
  t.throws(() => checkPrefs({ routePriority: 2.5 }), { message: /--route-priority must be a whole number/ })
  t.throws(() => checkPrefs({ exitNode: '' }), { message: /--exit-node must be none, auto/ })
  t.throws(() => checkPrefs({ exitNodeAllowLan: 1 }), { message: /--exit-node-allow-lan must be true or false/ })
  t.throws(() => checkPrefs({ exitnode: 'auto' }), { message: /unknown route preference "exitnode"/ })
})

t.test('flags over saved over defaults; an exit node uses no other exit node', async (t) => {
  t.same(startPrefs({}, null), PREF_DEFAULTS)
  const saved = { exitNode: 'auto', acceptRoutes: false }
  t.same(startPrefs({}, saved), { ...PREF_DEFAULTS, ...saved }, 'without flags the saved values hold')
  t.same(startPrefs({ exitNode: 'none' }, saved), { ...PREF_DEFAULTS, acceptRoutes: false }, 'a flag wins over the saved value')
  t.throws(() => startPrefs({ advertiseExitNode: true }, saved), { message: /exclude each other/ })
  t.same(changedPrefs(PREF_DEFAULTS, mergePrefs(PREF_DEFAULTS, { exitNode: 'auto', advertiseRoutes: ['192.0.2.0/24'] })), ['advertiseRoutes', 'exitNode'])
  t.ok(Object.isFrozen(mergePrefs(PREF_DEFAULTS, {}).advertiseRoutes))
})
