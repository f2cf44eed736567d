import t from 'tap'
import { DAEMON_DEFAULTS, validateDaemonConfig, type DaemonConfig } from '../../lib/daemon/config.js'

const good = (): DaemonConfig => ({
  controllerUrl: 'http://198.18.0.1:8080/',
  stateDir: '/tmp/x',
  ifname: 'weft0',
  listenPort: 51820,
  announcePort: 51821,
  endpoints: [],
  wg: 'auto',
  swimPort: DAEMON_DEFAULTS.swimPort,
  mtu: 1420,
  deadAnnounceIntervalMs: 5000,
  swimPreset: 'mesh',
  keepaliveSeconds: 25
})

t.test('a good config passes, trailing slashes trimmed, a path prefix kept', async (t) => {
  t.equal(validateDaemonConfig(good()).controllerUrl, 'http://198.18.0.1:8080')
  t.equal(validateDaemonConfig({ ...good(), controllerUrl: 'https://proxy.example/weft/' }).controllerUrl, 'https://proxy.example/weft')
})

t.test('each bad flag fails with a sentence naming the flag', async (t) => {
  const cases: Array<[Partial<DaemonConfig>, RegExp]> = [
    [{ controllerUrl: 'nope' }, /--controller "nope" has no scheme/],
    [{ controllerUrl: '198.18.0.1:8443' }, /--controller "198\.18\.0\.1:8443" has no scheme: write https:\/\/198\.18\.0\.1:8443/],
    [{ controllerUrl: 'http://x', controllerTrust: { fingerprint: `sha256:${'0'.repeat(64)}` } }, /apply to an https:\/\/ controller/],
    [{ controllerUrl: 'ftp://x' }, /http:\/\/ or https:\/\//],
    [{ ifname: 'a-very-long-interface' }, /--interface .*15/],
    [{ ifname: '' }, /--interface/],
    [{ listenPort: 0 }, /--listen-port/],
    [{ swimPort: 70000 }, /--swim-port/],
    [{ announcePort: 51820 }, /--announce-port must differ/],
    [{ swimPort: 51820 }, /--swim-port must differ from --listen-port 51820/],
    [{ swimPort: 51821 }, /--swim-port must differ from 51821, the underlay announcement port/],
    [{ endpoints: ['198.18.0.2'] }, /--endpoint "198.18.0.2" is not host:port/],
    [{ wg: 'magic' as never }, /--wg must be/],
    [{ mtu: 500 }, /--mtu/],
    [{ joinToken: '  ' }, /--join-token is empty/],
    [{ swimPreset: 'fast' }, /--swim-preset must be one of mesh, lan, local/],
    [{ swimPreset: 'toString' }, /--swim-preset/],
    [{ keepaliveSeconds: 0 }, /--keepalive must be from 1/]
  ]
  for (const [patch, re] of cases) {
    t.throws(() => validateDaemonConfig({ ...good(), ...patch }), {
      code: 'WEFT_ERR_CONFIG',
      message: re
    }, JSON.stringify(patch))
  }
})
