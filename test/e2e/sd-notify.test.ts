/**
 * The daemon's readiness for systemd's `Type=notify` (lib/sd-notify.ts), with a real daemon in a namespace:
 * READY=1 arrives only once its interface is up and its status answers, and STOPPING=1 when it is stopped. The
 * notify socket is a unix datagram socket made by `systemd-socket-activate --datagram`, whose `cat` prints what
 * arrives (a path socket, reachable from the node's network namespace).
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Mesh, waitFor } from '../../sim/cluster.js'

const dir = await mkdtemp(join(tmpdir(), 'weft-notify-e2e-'))
const socket = join(dir, 'notify.sock')
const listener = spawn('systemd-socket-activate', ['--datagram', '--listen', socket, '--', 'sh', '-c', 'exec cat <&3'], { stdio: ['ignore', 'pipe', 'pipe'] })
let received = ''
let listening = ''
listener.stdout!.on('data', (b: Buffer) => { received += b.toString() })
listener.stderr!.on('data', (b: Buffer) => { listening += b.toString() })
const mesh = await Mesh.create(1, { daemonEnv: { NOTIFY_SOCKET: socket } })
t.teardown(async () => {
  await mesh.destroy()
  listener.kill()
  await rm(dir, { recursive: true, force: true })
})

t.test('the daemon says READY=1 once it is up, and STOPPING=1 when it stops', async (t) => {
  await waitFor('the notify socket', () => listening.includes('Listening on'), 10_000, 50)
  await mesh.startDaemon(0)
  await waitFor('READY=1', () => received.includes('READY=1'), 30_000, 50)
  const st = await mesh.tryStatus(0)
  t.ok(st !== null, 'its status answers when it says it is ready')
  t.equal(st?.node.interface, mesh.ifname(0))
  await mesh.world.exec(mesh.ns(0), ['ip', 'link', 'show', mesh.ifname(0), 'up'])
  t.pass('with its interface up')
  t.notOk(received.includes('STOPPING=1'))
  await mesh.stopDaemon(0, 'SIGTERM')
  await waitFor('STOPPING=1', () => received.includes('STOPPING=1'), 15_000, 50)
  t.pass('STOPPING=1 on SIGTERM')
})
