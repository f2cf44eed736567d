/**
 * What one UAPI exchange with wireguard-go costs at mesh sizes: a `get` of a device holding N-1 peers (the
 * reader's CPU, split into parsing and deriving the device's public key, and wireguard-go's), and adding peers
 * one `set` per peer against one `set` per batch. These costs times N nodes are what bound the sim on few
 * cores (docs/sim.md). Prints figures; never passes or fails.
 *
 *   node dist/bench/uapi-cost.js [N ...]      (default: 50 200)   --reads 300   --batch 25
 */
import { systemClock } from '../lib/clock.js'
import { silentLogger } from '../lib/log.js'
import { generateKeyPair } from '../lib/wire/keys.js'
import { uapiRequest, uapiSocketPath } from '../lib/daemon/wg/uapi-socket.js'
import { buildSetOp, GET_REQUEST, parseGet, rememberPublicKey } from '../lib/daemon/wg/uapi.js'
import type { PeerConfig } from '../lib/daemon/wg/device.js'
import { NetnsWorld } from '../sim/netns/world.js'
import { wireguardPidsByIface } from '../sim/run/procscan.js'
import { readProc } from '../sim/run/resources.js'

const args = process.argv.slice(2)
const valueOf = (flag: string): string | undefined => { const i = args.indexOf(flag); return i >= 0 ? args[i + 1] : undefined }
const reads = Number(valueOf('--reads') ?? 300)
const batch = Number(valueOf('--batch') ?? 25)
const flagValues = new Set([valueOf('--reads'), valueOf('--batch')])
const sizes = args.filter(a => !a.startsWith('--') && !flagValues.has(a)).map(Number).filter(n => Number.isInteger(n) && n > 1)
const runs = sizes.length > 0 ? sizes : [50, 200]

const peer = (i: number): PeerConfig => ({
  publicKey: generateKeyPair().publicKey,
  endpoint: `198.18.${(i >> 8) & 255}.${i & 255}:51820`,
  allowedIps: [`100.64.${(i >> 8) & 255}.${i & 255}/32`],
  keepaliveSeconds: 120
})
/** One `set=1` transaction adding every peer of `peers` (buildSetOp's bodies joined). */
const setMany = (peers: readonly PeerConfig[]): string =>
  'set=1\n' + peers.map(p => buildSetOp({ kind: 'add', peer: p }).replace(/^set=1\n/, '').replace(/\n\n$/, '\n')).join('') + '\n'
/** ms of CPU this process used while `fn` ran, and the ms wireguard-go (`pid`) used meanwhile. */
async function cpuOf (pid: number, fn: () => Promise<void>): Promise<{ self: number, wg: number }> {
  const wg0 = readProc(pid)!.cpuMs
  const t0 = process.cpuUsage()
  await fn()
  const u = process.cpuUsage(t0)
  return { self: (u.user + u.system) / 1000, wg: readProc(pid)!.cpuMs - wg0 }
}
const f2 = (x: number): string => x.toFixed(2)

for (const n of runs) {
  const world = await NetnsWorld.create({ nodes: 1, log: silentLogger() })
  try {
    await world.openWireguard(0, { privateKey: generateKeyPair().privateKey, listenPort: 51820 })
    const ifname = world.names.nodeWg(0)
    const sock = uapiSocketPath(ifname)
    const pid = [...wireguardPidsByIface(new Set([ifname])).values()].flat()[0]!
    const peers = Array.from({ length: 2 * (n - 1) }, (_, i) => peer(i + 1))
    const ask = async (request: string): Promise<string> => await uapiRequest(sock, request, systemClock)

    const single = await cpuOf(pid, async () => { for (const p of peers.slice(0, n - 1)) await ask(buildSetOp({ kind: 'add', peer: p })) })
    const rest = peers.slice(n - 1)
    const batched = await cpuOf(pid, async () => { for (let i = 0; i < rest.length; i += batch) await ask(setMany(rest.slice(i, i + batch))) })
    // Back to n-1 peers for the reads.
    for (const p of rest) await ask(buildSetOp({ kind: 'remove', publicKey: p.publicKey }))

    let bytes = 0
    const texts: string[] = []
    const get = await cpuOf(pid, async () => { for (let i = 0; i < reads; i++) { const t = await ask(GET_REQUEST); bytes += t.length; texts.push(t) } })
    const remembered = rememberPublicKey()
    const parseKept = await cpuOf(pid, async () => { for (const t of texts) parseGet(t, remembered) })
    const parseDerived = await cpuOf(pid, async () => { for (const t of texts) parseGet(t) })
    const per = (ms: number, count: number): string => f2(ms / count)
    console.log(`N=${n}: get of ${n - 1} peers (${(bytes / reads / 1024).toFixed(1)} KiB): request ${per(get.self, reads)} ms + parse ` +
      `${per(parseKept.self, reads)} ms ` +
      `(+ ${per(parseDerived.self - parseKept.self, reads)} ms deriving the public key each time) in the reader, ${per(get.wg, reads)} ms in wireguard-go`)
    console.log(`N=${n}: add a peer, one set each: ${per(single.self, n - 1)} ms reader + ${per(single.wg, n - 1)} ms wireguard-go; ` +
      `in sets of ${batch}: ${per(batched.self, rest.length)} + ${per(batched.wg, rest.length)} ms`)
    console.log(JSON.stringify({
      bench: 'uapi-cost',
      nodes: n,
      reads,
      batch,
      replyKiB: bytes / reads / 1024,
      getMs: { request: get.self / reads, parse: parseKept.self / reads, derive: (parseDerived.self - parseKept.self) / reads, wireguardGo: get.wg / reads },
      addMs: {
        single: { reader: single.self / (n - 1), wireguardGo: single.wg / (n - 1) },
        batched: { reader: batched.self / rest.length, wireguardGo: batched.wg / rest.length }
      }
    }))
  } finally {
    await world.destroy()
  }
}
