import { join } from 'node:path'
import { systemClock } from '../lib/clock.js'
import { askLocal, SOCKET_NAME } from '../lib/daemon/control-socket.js'
import { DEFAULTS } from '../lib/daemon/config.js'
import { parseFlags, type Command } from './cli.js'

const USAGE = `Usage: weft leave [--state DIR]

Graceful leave: the daemon announces it over SWIM and to the controller, tears its WireGuard interface
down, and exits. Peers drop it at once instead of waiting to detect a failure.

  --state DIR   the daemon's state directory (default ${DEFAULTS.stateDir}, or WEFT_STATE_DIR)
`

export const command: Command = {
  summary: 'leave the mesh gracefully and stop the daemon',
  async run (argv) {
    const parsed = parseFlags(argv, { state: { type: 'string' } }, USAGE)
    if (parsed === null) return 0
    const dir = parsed.values.state ?? process.env.WEFT_STATE_DIR ?? DEFAULTS.stateDir
    const res = await askLocal<{ nodeId: string, controllerTold: boolean }>(join(dir, SOCKET_NAME), { cmd: 'leave' }, systemClock, 30_000)
    process.stdout.write(`left the mesh (node ${res.nodeId}${res.controllerTold ? '' : '; the controller was unreachable and will see the node go offline'})\n`)
    return 0
  }
}
