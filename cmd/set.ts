import { join } from 'node:path'
import { systemClock } from '../lib/clock.js'
import { DEFAULTS } from '../lib/daemon/config.js'
import { askLocal, SOCKET_NAME } from '../lib/daemon/control-socket.js'
import type { RoutePrefs } from '../lib/daemon/prefs.js'
import { ConfigError } from '../lib/errors.js'
import { parseFlags, type Command } from './cli.js'
import { ROUTE_PREF_OPTIONS, ROUTE_PREF_USAGE, routePrefsFromFlags } from './route-flags.js'

const USAGE = `Usage: weft set [--state DIR] FLAG...

Changes the running daemon's route preferences at once, and saves them in its state directory so a restart
keeps them (a flag given to \`weft daemon\` at start wins over the saved value). Talks to the daemon over its
local socket. Prints the preferences in force.

  --state DIR           the daemon's state directory (or WEFT_STATE_DIR; default ${DEFAULTS.stateDir})
${ROUTE_PREF_USAGE}
  --json                print the preferences as JSON
`

export const command: Command = {
  summary: 'change the running daemon\'s routes and exit node (saved across restarts)',
  async run (argv) {
    const parsed = parseFlags(argv, { state: { type: 'string' }, json: { type: 'boolean' }, ...ROUTE_PREF_OPTIONS }, USAGE)
    if (parsed === null) return 0
    const prefs = routePrefsFromFlags(parsed.values)
    if (Object.keys(prefs).length === 0) throw new ConfigError(`give at least one preference to set\n\n${USAGE}`)
    const dir = parsed.values.state ?? process.env.WEFT_STATE_DIR ?? DEFAULTS.stateDir
    const res = await askLocal<{ prefs: RoutePrefs, changed: string[] }>(join(dir, SOCKET_NAME), { cmd: 'set', prefs: { ...prefs } }, systemClock)
    if (parsed.values.json === true) {
      process.stdout.write(JSON.stringify(res, null, 2) + '\n')
      return 0
    }
    const p = res.prefs
    process.stdout.write([
      res.changed.length === 0 ? 'nothing changed' : `changed: ${res.changed.join(', ')}`,
      `advertise-routes     ${p.advertiseRoutes.join(',') || '-'}`,
      `advertise-exit-node  ${String(p.advertiseExitNode)}`,
      `route-priority       ${p.routePriority}`,
      `accept-routes        ${String(p.acceptRoutes)}`,
      `exit-node            ${p.exitNode}`,
      `exit-node-allow-lan  ${String(p.exitNodeAllowLan)}`
    ].join('\n') + '\n')
    return 0
  }
}
