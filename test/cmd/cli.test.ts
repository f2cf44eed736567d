import t from 'tap'
import { parseFlags } from '../../cmd/cli.js'
import { routePrefsFromFlags, ROUTE_PREF_OPTIONS } from '../../cmd/route-flags.js'

t.test('a boolean flag takes --x, --x=true and --x=false; anything else is refused naming the flag', async (t) => {
  const opts = { 'advertise-exit-node': { type: 'boolean' }, state: { type: 'string' } } as const
  t.equal(parseFlags(['--advertise-exit-node'], opts, 'usage')?.values['advertise-exit-node'], true)
  t.equal(parseFlags(['--advertise-exit-node=true'], opts, 'usage')?.values['advertise-exit-node'], true)
  t.equal(parseFlags(['--advertise-exit-node=false'], opts, 'usage')?.values['advertise-exit-node'], false)
  t.equal(parseFlags(['--state=a=b'], opts, 'usage')?.values.state, 'a=b', 'a string flag keeps its = value')
  t.throws(() => parseFlags(['--advertise-exit-node=yes'], opts, 'usage'), { code: 'WEFT_ERR_CONFIG', message: /--advertise-exit-node must be true or false \(got "yes"\)/ })
})

t.test('route flags become route preferences; absent flags are left out', async (t) => {
  const p = parseFlags(['--advertise-routes', '192.0.2.0/24, 198.51.100.0/24', '--advertise-exit-node=false', '--exit-node', 'auto',
    '--exit-node-allow-lan=false', '--route-priority=-5'], ROUTE_PREF_OPTIONS, 'usage')!
  t.same(routePrefsFromFlags(p.values), {
    advertiseRoutes: ['192.0.2.0/24', '198.51.100.0/24'], advertiseExitNode: false, routePriority: -5, exitNode: 'auto', exitNodeAllowLan: false
  })
  t.same(routePrefsFromFlags(parseFlags(['--advertise-routes', ''], ROUTE_PREF_OPTIONS, 'usage')!.values), { advertiseRoutes: [] }, '"" is no routes')
  t.throws(() => routePrefsFromFlags(parseFlags(['--accept-routes', 'no'], ROUTE_PREF_OPTIONS, 'usage')!.values), { message: /--accept-routes must be true or false/ })
})
