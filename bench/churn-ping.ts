/**
 * Does churn of other peers disturb a live tunnel? Two nodes with a working tunnel; one pings the other every
 * 10 ms (1000 pings) while both reconcilers add, update and remove other peers (100) in a loop. Prints round
 * trips (p50, p99, max), pings lost and churn cycles. Never passes or fails; test/e2e/wg-device.test.ts
 * asserts the zero-loss case.
 *
 *   node dist/bench/churn-ping.js [--endpoints live|unresolved] [--keepalive 25] [--batch 32] [--others 100]
 *
 * `live`: the other peers' endpoints are closed ports on hosts that exist (the two nodes), as real peers' are.
 * `unresolved`: addresses on the underlay subnet that nobody answers ARP for (docs/wireguard.md,
 * "Unresolvable endpoints").
 */
import { spawn } from 'node:child_process'
import { silentLogger } from '../lib/log.js'
import { generateKeyPair } from '../lib/wire/keys.js'
import type { Netmap, NodeRecord } from '../lib/wire/netmap.js'
import { DEFAULTS } from '../lib/daemon/config.js'
import { desired, type DesiredPeer } from '../lib/daemon/desired.js'
import { ensureInterface } from '../lib/daemon/iface.js'
import { BATCH_SIZE, Reconciler } from '../lib/daemon/reconciler.js'
import { inNetns } from '../lib/daemon/wg/exec.js'
import { NetnsWorld } from '../sim/netns/world.js'
import { waitFor } from '../sim/wait.js'

const args = process.argv.slice(2)
const valueOf = (flag: string): string | undefined => { const i = args.indexOf(flag); return i >= 0 ? args[i + 1] : undefined }
const endpoints = valueOf('--endpoints') ?? 'live'
const keepalive = Number(valueOf('--keepalive') ?? DEFAULTS.keepaliveSeconds)
const batchSize = Number(valueOf('--batch') ?? BATCH_SIZE)
const otherCount = Number(valueOf('--others') ?? 100)
if (endpoints !== 'live' && endpoints !== 'unresolved') throw new Error('--endpoints is live or unresolved')

const log = silentLogger()
const PORT = 51820
const CIDR = '100.64.0.0/10'
const PINGS = 1000
const meshIp = (i: number): string => `100.64.0.${i + 1}`

/** Runs `ping` in node 0's namespace and resolves with its stdout. */
async function ping (world: NetnsWorld, to: string, extra: string[]): Promise<string> {
  const argv = inNetns(world.names.nodeNs(0), ['ping', ...extra, to])
  return await new Promise((resolve, reject) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] })
    let out = ''
    p.stdout.on('data', (c: Buffer) => { out += c.toString() })
    p.on('error', reject)
    p.on('close', () => resolve(out))
  })
}

const world = await NetnsWorld.create({ nodes: 2, log })
try {
  const keys = [generateKeyPair(), generateKeyPair()]
  const record = (i: number): NodeRecord => ({
    id: `node${i}`,
    hostname: `h${i}`,
    publicKey: keys[i]!.publicKey,
    meshIp: meshIp(i),
    endpoints: [`${world.names.nodeAddr(i)}:${PORT}`],
    observedEndpoint: null,
    swimPort: 7946,
    health: 'online',
    createdAt: 1,
    updatedAt: 1
  })
  const netmap: Netmap = { epoch: 'e', version: 1, cidr: CIDR, nodes: [record(0), record(1)] }
  const reconcilers: Reconciler[] = []
  for (const i of [0, 1]) {
    const device = await world.openWireguard(i, { privateKey: keys[i]!.privateKey, listenPort: PORT })
    await ensureInterface({ ifname: world.names.nodeWg(i), meshIp: meshIp(i), cidr: CIDR, netns: world.names.nodeNs(i), log })
    reconcilers.push(new Reconciler({ device, log, batchSize }))
  }
  const base = [0, 1].map(i => desired(netmap, new Set(), `node${i}`).peers)
  for (const i of [0, 1]) await reconcilers[i]!.reconcile(base[i]!)
  await waitFor('the tunnel', async () => /1 received/.test(await ping(world, meshIp(1), ['-c', '1', '-W', '1'])), 15_000, 100)

  const others = Array.from({ length: otherCount }, (_, k) => ({ key: generateKeyPair().publicKey, ip: `100.64.1.${k + 1}` }))
  const otherPeers = (port: number): DesiredPeer[] => others.map((o, k) => ({
    nodeId: `other${k}`,
    hostname: `other-${k}`,
    meshIp: o.ip,
    publicKey: o.key,
    allowedIps: [`${o.ip}/32`],
    keepaliveSeconds: keepalive,
    endpoint: endpoints === 'live' ? `${world.names.nodeAddr(k % 2)}:${port + k}` : `198.18.200.${k + 1}:${port}`
  }))
  let done = false
  const pinging = ping(world, meshIp(1), ['-c', String(PINGS), '-i', '0.01', '-W', '2']).finally(() => { done = true })
  let cycles = 0
  // eslint-disable-next-line no-unmodified-loop-condition -- the ping's finally sets done
  while (!done) {
    for (const step of [otherPeers(40000), otherPeers(40200), []]) {
      await Promise.all([0, 1].map(async i => await reconcilers[i]!.reconcile([...base[i]!, ...step])))
    }
    cycles++
  }
  const out = await pinging
  const rtts = [...out.matchAll(/icmp_seq=\d+ ttl=\d+ time=([\d.]+)/g)].map(m => Number(m[1])).sort((a, b) => a - b)
  const at = (q: number): number => rtts[Math.min(rtts.length - 1, Math.floor(q * rtts.length))] ?? NaN
  const result = {
    bench: 'churn-ping',
    others: otherCount,
    endpoints,
    keepalive,
    batchSize,
    pings: PINGS,
    received: rtts.length,
    lost: PINGS - rtts.length,
    cycles,
    rttMs: { p50: at(0.5), p99: at(0.99), max: rtts[rtts.length - 1] ?? NaN }
  }
  console.log(`endpoints ${endpoints}, keepalive ${keepalive}, batch ${batchSize}: ${result.received}/${PINGS} pings answered, ` +
    `rtt p50 ${result.rttMs.p50} ms p99 ${result.rttMs.p99} ms max ${result.rttMs.max} ms, ${cycles} churn cycles (${otherCount} adds, updates, removes ` +
    'each, on both nodes)')
  console.log(JSON.stringify(result))
} finally {
  await world.destroy()
}
