import t from 'tap'
import { weft } from './weft-cli.js'
import { formatDuration } from '../../lib/config-check.js'
import { DEFAULTS as CONTROLLER } from '../../lib/control/config.js'
import { DEFAULTS as DAEMON, LIMITS } from '../../lib/daemon/config.js'

t.test('help texts state the defaults the config modules export', async (t) => {
  const daemon = (await weft(['daemon', '--help'])).stdout
  for (const want of [`default ${DAEMON.stateDir}`, `(default ${DAEMON.listenPort})`, `(default ${DAEMON.swimPort})`, `(default ${DAEMON.mtu})`,
    `${LIMITS.keepaliveSeconds.min}-${LIMITS.keepaliveSeconds.max} (default ${DAEMON.keepaliveSeconds})`, `(default ${DAEMON.swimPreset})`]) {
    t.ok(daemon.includes(want), `weft daemon --help: ${want}`)
  }
  const controller = (await weft(['controller', '--help'])).stdout
  for (const want of [`(default ${CONTROLLER.listen};`, `(default ${formatDuration(CONTROLLER.heartbeatIntervalMs)})`,
    `(default ${formatDuration(CONTROLLER.ipQuarantineMs)})`, `(default ${CONTROLLER.registerRatePerMin})`]) {
    t.ok(controller.includes(want), `weft controller --help: ${want}`)
  }
  t.ok((await weft(['status', '--help'])).stdout.includes(`default ${DAEMON.stateDir}, or WEFT_STATE_DIR`))
})

t.test('a value out of range fails with exit 2 and a message naming the flag and the range', async (t) => {
  const data = ['--data', '/nonexistent/weft-config-test']
  const cases: Array<[string[], string]> = [
    [['daemon', '--controller', 'http://198.18.0.1:8080', '--interface', 'wg0', '--keepalive', '0'], '--keepalive must be a whole number from 1 to 65535'],
    [['daemon', '--controller', 'http://198.18.0.1:8080', '--interface', 'wg0', '--wg', 'magic'], '--wg must be one of auto, kernel, userspace (got "magic")'],
    [['controller', ...data, '--heartbeat-interval', '50ms'], '--heartbeat-interval must be a duration from 100ms to 24d (got 50 ms)'],
    [['controller', ...data, '--log-level', 'loud'], '--log-level must be one of fatal, error']
  ]
  for (const [args, message] of cases) {
    const r = await weft(args)
    t.equal(r.code, 2, args.join(' '))
    t.ok(r.stderr.includes(message), `${args.join(' ')}: ${r.stderr.trim()}`)
  }
})
