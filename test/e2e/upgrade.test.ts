/**
 * A rolling daemon upgrade, as an operator does it with the package (docs/operations.md, "Upgrade"): on each
 * node in turn, stop the daemon (SIGTERM), start the daemon of the newly installed package on the same state
 * directory. The daemon adopts the running interface and wireguard-go, so pings at 100 per second between
 * every pair of nodes lose nothing while every daemon is replaced.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Mesh, waitFor } from '../../sim/cluster.js'
import { inNetns } from '../../lib/daemon/wg/exec.js'
import { installPackage } from '../package-install.js'

const N = 3
const mesh = await Mesh.create(N)
const dir = await mkdtemp(join(tmpdir(), 'weft-upgrade-'))
t.teardown(async () => {
  await mesh.destroy()
  await rm(dir, { recursive: true, force: true })
})
const nodes = [...Array(N).keys()]

/**
 * `ping -i 0.01` from node `i` to `ip` until stopped with SIGINT; resolves with what was sent and answered, judged
 * by sequence number up to the last answer: the echo still in flight when SIGINT stops ping is not a loss, but
 * ping's own summary counts it as one.
 */
function flood (i: number, ip: string): { stop: () => void, done: Promise<{ sent: number, received: number }> } {
  const argv = inNetns(mesh.ns(i), ['ping', '-i', '0.01', '-W', '1', ip])
  const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  p.stdout.on('data', (c: Buffer) => { out += c.toString() })
  const done = new Promise<{ sent: number, received: number }>((resolve, reject) => {
    p.on('error', reject)
    p.on('close', () => {
      const seqs = new Set([...out.matchAll(/icmp_seq=(\d+) /g)].map(m => Number(m[1])))
      if (!/packets transmitted/.test(out) || seqs.size === 0) { reject(new Error(`no ping answers: ${out.slice(-500)}`)); return }
      resolve({ sent: Math.max(...seqs), received: seqs.size })
    })
  })
  return { stop: () => { p.kill('SIGINT') }, done }
}

t.test('every daemon replaced by the installed package\'s, one at a time, while every pair pings at 100 Hz: nothing lost', async (t) => {
  const pkg = await installPackage(dir)
  for (const i of nodes) await mesh.startDaemon(i)
  await waitFor('a full mesh', async () => (await Promise.all(nodes.map(async i => (await mesh.wgPeers(i)).length === N - 1))).every(Boolean), 60_000)
  const ips = await Promise.all(nodes.map(async i => (await mesh.status(i)).node.meshIp))
  for (const i of nodes) for (const j of nodes) if (i !== j) t.ok(await mesh.ping(i, ips[j]!), `${i} -> ${j} pings before`)
  const floods = nodes.flatMap(i => nodes.filter(j => j !== i).map(j => ({ i, j, f: flood(i, ips[j]!) })))
  const started = Date.now()
  for (const i of nodes) {
    const before = await mesh.status(i)
    await mesh.stopDaemon(i, 'SIGTERM')
    const child = await mesh.startDaemon(i, { join: false, weft: pkg.weftJs })
    await waitFor(`node ${i} to answer from the new build`, async () => (await mesh.tryStatus(i))?.controller.state === 'connected', 30_000, 100)
    const after = await mesh.status(i)
    t.equal(after.node.id, before.node.id, `node ${i}: same identity`)
    t.ok(after.node.adopted, `node ${i}: interface adopted`)
    t.match(readFileSync(`/proc/${child.pid!}/cmdline`, 'utf8'), pkg.weftJs, `node ${i} runs the installed package`)
  }
  // A second of pings after the last restart, through the new daemons.
  await new Promise(resolve => setTimeout(resolve, 1000))
  for (const { f } of floods) f.stop()
  const seconds = (Date.now() - started) / 1000
  for (const { i, j, f } of floods) {
    const r = await f.done
    t.comment(`${i} -> ${j}: ${r.received}/${r.sent} over the ${seconds.toFixed(1)} s of the upgrade`)
    t.ok(r.sent >= seconds * 50, `${i} -> ${j} pinged throughout, at ${(r.sent / seconds).toFixed(0)} per second`)
    t.equal(r.received, r.sent, `${i} -> ${j}: no ping lost`)
  }
})
