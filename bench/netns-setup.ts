/**
 * How long the netns harness takes to build a world with one wireguard-go per node, and to tear it down.
 * Prints figures; never passes or fails on time.
 *
 *   node dist/bench/netns-setup.js [N ...]      (default: 10 50)
 */
import { createLogger, silentLogger } from '../lib/log.js'
import { generateKeyPair } from '../lib/wire/keys.js'
import { ensureInterface } from '../lib/daemon/iface.js'
import { NetnsWorld } from '../sim/netns/world.js'
import { pool } from '../sim/pool.js'

const sizes = process.argv.slice(2).map(Number).filter(n => Number.isInteger(n) && n > 0)
const runs = sizes.length > 0 ? sizes : [10, 50]
const log = silentLogger()
// warn: shows the harness's sysctl line when it raises the inotify limit, nothing else.
const loud = createLogger({ level: 'warn' })

for (const n of runs) {
  const rssBefore = process.memoryUsage().rss
  const t0 = performance.now()
  const world = await NetnsWorld.create({ nodes: n, log: loud })
  const tNs = performance.now()
  try {
    await pool(Array.from({ length: n }, (_, i) => i), 8, async i => {
      await world.openWireguard(i, { privateKey: generateKeyPair().privateKey, listenPort: 51820 })
      await ensureInterface({
        ifname: world.names.nodeWg(i),
        meshIp: `100.64.${i >> 8}.${(i & 255) + 1}`,
        cidr: '100.64.0.0/10',
        netns: world.names.nodeNs(i),
        log
      })
    })
  } finally {
    const tWg = performance.now()
    await world.destroy()
    const tDown = performance.now()
    console.log(JSON.stringify({
      bench: 'netns-setup',
      nodes: n,
      namespacesMs: Math.round(tNs - t0),
      wireguardGoMs: Math.round(tWg - tNs),
      totalSetupMs: Math.round(tWg - t0),
      perNodeMs: Math.round((tWg - t0) / n * 10) / 10,
      teardownMs: Math.round(tDown - tWg),
      benchRssDeltaMiB: Math.round((process.memoryUsage().rss - rssBefore) / 2 ** 20)
    }))
  }
}
