/**
 * A ping every 10 ms between two real nodes loses nothing while 100 other peers are added,
 * updated and removed around them by the controller (and SWIM, since those peers never answer).
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { Mesh, waitFor } from '../../sim/cluster.js'
import { inNetns } from '../../lib/daemon/wg/exec.js'

const FAKES = 100
const mesh = await Mesh.create(2)
t.teardown(async () => {
  if (!t.passing()) process.stderr.write(`--- mesh state at failure ---\n${await mesh.diagnose()}\n`)
  await mesh.destroy()
})

t.test('continuous ping survives 100 peers added, updated and removed around it', async (t) => {
  await mesh.startDaemon(0)
  await mesh.startDaemon(1)
  await waitFor('both daemons', async () => await mesh.tryStatus(0) !== null && await mesh.tryStatus(1) !== null, 30_000)
  const ip1 = (await mesh.status(1)).node.meshIp
  await waitFor('0 pings 1', async () => await mesh.ping(0, ip1), 20_000, 200)

  const argv = inNetns(mesh.ns(0), ['ping', '-i', '0.01', '-W', '1', ip1])
  const ping = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] })
  let out = ''
  ping.stdout.on('data', (c: Buffer) => { out += c.toString() })
  const pingDone = new Promise<void>(resolve => ping.on('close', () => resolve()))
  t.teardown(() => { ping.kill('SIGKILL') })

  const script = fileURLToPath(new URL('./fake-nodes.js', import.meta.url))
  const r = await mesh.world.exec(mesh.world.names.controllerNs,
    [process.execPath, script, 'http://127.0.0.1:8080', join(mesh.dir, 'controller', 'admin.key'), String(FAKES), '3000'], { timeoutMs: 120_000 })
  const churn = JSON.parse(r.stdout) as { registered: number, ids: string[] }
  t.equal(churn.registered, FAKES)
  const fake = new Set(churn.ids)
  await waitFor('both nodes back to one peer', async () => (await mesh.wgPeers(0)).length === 1 && (await mesh.wgPeers(1)).length === 1, 30_000, 200)

  ping.kill('SIGINT')
  await pingDone
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out)
  t.ok(m, 'ping summary')
  const sent = Number(m![1]); const received = Number(m![2])
  // By sequence number: the last request may have left microseconds before SIGINT stopped ping, which then
  // counts it lost although its reply had no time to come back; every earlier one had a second (-W 1).
  const replied = new Set([...out.matchAll(/bytes from .* icmp_seq=(\d+) /g)].map(x => Number(x[1])))
  const missing = Array.from({ length: Math.max(0, sent - 1) }, (_, i) => i + 1).filter(seq => !replied.has(seq))
  t.comment(`continuous ping 0->1 during churn: ${received}/${sent} (lost ${sent - received}; last request ` +
    `${replied.has(sent) ? 'answered' : 'in flight at the stop'})`)
  t.ok(sent > 300, 'the ping ran through the churn')
  t.same(missing, [], 'no packet lost before the stop')

  for (const n of [0, 1]) {
    const count = (ev: string): number => mesh.events(`n${n}`, ev).filter(e => fake.has(e.nodeId as string)).length
    t.comment(`node ${n}: wg.peer.add ${count('wg.peer.add')}, wg.peer.update ${count('wg.peer.update')}, wg.peer.remove ${count('wg.peer.remove')}`)
    t.ok(count('wg.peer.add') >= FAKES, `node ${n} added every fake peer`)
    t.ok(count('wg.peer.remove') >= FAKES, `node ${n} removed every fake peer`)
    const touched = mesh.events(`n${n}`, 'wg.peer.update').concat(mesh.events(`n${n}`, 'wg.peer.remove')).filter(e => !fake.has(e.nodeId as string))
    t.same(touched, [], `node ${n} never touched its real peer`)
  }
})
