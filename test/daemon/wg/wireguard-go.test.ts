import t from 'tap'
import { inotifyExhausted, inotifySuggestion, inotifyUse } from '../../../lib/daemon/wg/inotify.js'
import { earlyExitMessage } from '../../../lib/daemon/wg/wireguard-go.js'

t.test('an early exit names the inotify limit only when no instance is left', async (t) => {
  const full = { inUse: 128, limit: 128, knob: 'fs.inotify.max_user_instances' as const }
  t.equal(earlyExitMessage('weft0', 'exited with 1', 'wireguard-go', full, 'uid 0 (root)'),
    'wireguard-go for weft0 exited with 1 before its UAPI socket came up: uid 0 (root) has no inotify instance left for it (128 in use, limit 128), ' +
    'and each wireguard-go needs one: raise the limit (sysctl -w fs.inotify.max_user_instances=256)')
  const room = { ...full, inUse: 9 }
  t.equal(earlyExitMessage('weft0', 'exited with 1', 'wireguard-go', room, 'uid 0 (root)'),
    'wireguard-go for weft0 exited with 1 before its UAPI socket came up; run `wireguard-go -f weft0` as the daemon\'s user to see why')
  t.notMatch(earlyExitMessage('weft0', 'exited with 1', 'wireguard-go', null, 'uid 0 (root)'), /inotify/, 'unknown use: no guess')
})

t.test('inotify arithmetic and this machine\'s figures', async (t) => {
  t.ok(inotifyExhausted({ inUse: 5, limit: 5, knob: 'fs.inotify.max_user_instances' }))
  t.notOk(inotifyExhausted({ inUse: 4, limit: 5, knob: 'fs.inotify.max_user_instances' }))
  t.equal(inotifySuggestion({ inUse: 10, limit: 0, knob: 'user.max_inotify_instances' }), 138)
  t.equal(inotifySuggestion({ inUse: 120, limit: 1024, knob: 'fs.inotify.max_user_instances' }), 2048)
  const use = await inotifyUse(process.geteuid!())
  t.ok(use.inUse >= 0 && use.limit > 0, `${use.inUse} in use of ${use.limit} (${use.knob})`)
})
