/**
 * lib/sd-notify.ts: which command tells systemd a notice, that nothing happens without NOTIFY_SOCKET, that a notice
 * that cannot be sent is logged and not thrown, and that a real `weft controller` sends READY=1 to the socket in
 * NOTIFY_SOCKET only once it answers HTTP, and STOPPING=1 on SIGTERM. The socket is a unix datagram socket made by
 * `systemd-socket-activate --datagram`, whose `cat` prints what arrives.
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { createLogger } from '../lib/log.js'
import { notifyCommand, notifyService } from '../lib/sd-notify.js'

const WEFT = join(process.cwd(), 'dist/cmd/weft.js')

/** A logger whose JSON lines land in `lines`. */
function capturingLogger (): { log: ReturnType<typeof createLogger>, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const destination = new Writable({ write (chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done() } })
  return { log: createLogger({ level: 'info', destination }), lines }
}

/** Resolves once `check()` holds, rejects with `what` after `ms`; checked on every output of `child`. */
async function until (child: ChildProcess, check: () => boolean, what: string, ms = 15_000): Promise<void> {
  if (check()) return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { done(); reject(new Error(`${what} within ${ms} ms`)) }, ms)
    const onData = (): void => { if (check()) { done(); resolve() } }
    const done = (): void => { clearTimeout(timer); child.stdout?.off('data', onData); child.stderr?.off('data', onData) }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
  })
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
async function freePort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>(resolve => srv.close(() => resolve()))
  return port
}

t.test('a notice goes through systemd-notify when NOTIFY_SOCKET is set, and nowhere otherwise', async (t) => {
  t.equal(notifyCommand({}, 'READY=1'), null, 'no NOTIFY_SOCKET')
  t.equal(notifyCommand({ NOTIFY_SOCKET: '' }, 'READY=1'), null, 'an empty NOTIFY_SOCKET')
  t.same(notifyCommand({ NOTIFY_SOCKET: '/run/systemd/notify' }, 'READY=1'), { file: 'systemd-notify', args: ['READY=1'] })
  t.same(notifyCommand({ NOTIFY_SOCKET: '@/org/freedesktop/systemd1/notify' }, 'STOPPING=1'), { file: 'systemd-notify', args: ['STOPPING=1'] })
})

t.test('without NOTIFY_SOCKET notifyService runs nothing and logs nothing', async (t) => {
  const { log, lines } = capturingLogger()
  await notifyService('READY=1', log, { PATH: '' })
  t.same(lines, [])
})

t.test('a notice that cannot be sent is logged, not thrown', async (t) => {
  const { log, lines } = capturingLogger()
  await notifyService('READY=1', log, { NOTIFY_SOCKET: '/nonexistent/notify', PATH: '' })
  t.equal(lines.length, 1)
  t.match(lines[0], { event: 'service.notify_failed', notice: 'READY=1', level: 40 })
})

t.test('weft controller sends READY=1 once it answers HTTP, and STOPPING=1 on SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-notify-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const socket = join(dir, 'notify.sock')

  const listener = spawn('systemd-socket-activate', ['--datagram', '--listen', socket, '--', 'sh', '-c', 'exec cat <&3'],
    { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { listener.kill() })
  let received = ''
  let listenerErr = ''
  listener.stdout!.on('data', (b: Buffer) => { received += b.toString() })
  listener.stderr!.on('data', (b: Buffer) => { listenerErr += b.toString() })
  await until(listener, () => listenerErr.includes('Listening on'), 'systemd-socket-activate did not listen')

  const port = await freePort()
  const ctl = spawn(process.execPath, [WEFT, 'controller', '--data', join(dir, 'data'), '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: socket } })
  const exited = new Promise<number | string>(resolve => ctl.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  t.teardown(() => { if (ctl.exitCode === null && ctl.signalCode === null) ctl.kill('SIGKILL') })
  let ctlOut = ''
  ctl.stdout!.on('data', (b: Buffer) => { ctlOut += b.toString() })
  ctl.stderr!.on('data', (b: Buffer) => { ctlOut += b.toString() })

  await until(listener, () => received.includes('READY=1'), `no READY=1 (controller: ${ctlOut})`)
  const health = await fetch(`http://127.0.0.1:${port}/healthz`)
  t.equal(health.status, 200, 'the controller answers as soon as it says READY=1')
  t.notOk(received.includes('STOPPING=1'), 'no STOPPING=1 while it runs')

  ctl.kill('SIGTERM')
  await until(listener, () => received.includes('STOPPING=1'), `no STOPPING=1 (controller: ${ctlOut})`)
  t.equal(await exited, 0, 'it exits cleanly')
  t.notMatch(ctlOut, /service\.notify_failed/, 'every notice was delivered')
})
