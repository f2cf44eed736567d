import { spawn, type ChildProcess } from 'node:child_process'
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { openSync, closeSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import type { ControllerInfo } from '../../lib/wire/api.js'

/**
 * The controller under test as a real child process (`node dist/cmd/weft.js controller`), so that its RSS
 * and CPU can be read from /proc and nothing of the bench runs inside it.
 */

/** How to start the controller. */
export interface ControllerProcessOptions {
  /** Extra arguments appended to `weft controller` (for example `--log-level warn`). */
  extraArgs: string[]
  /** Directory for V8 CPU profiles of the controller (`node --cpu-prof`); null for none. */
  cpuProfDir: string | null
  /** Keep the data directory and log after stopping (for post-mortems). */
  keep: boolean
  /**
   * A `--data` directory whose controller.key and admin.key this controller starts with, as every controller of
   * one etcd prefix must; absent or null: it creates its own.
   */
  keysFrom?: string | null
  /**
   * How long to wait for the controller to answer `GET /v1/info`, ms. Default 30000: a cold start with a fresh
   * LevelDB takes about a second; 30 s only trips when it is broken.
   */
  startTimeoutMs?: number
}

/** A running controller. */
export interface ControllerProcess {
  pid: number
  /** `http://127.0.0.1:PORT` */
  origin: string
  /** Temporary directory holding `dataPath` and the log. */
  dataDir: string
  /** The controller's `--data` directory: its keys, and the store on LevelDB. */
  dataPath: string
  logPath: string
  adminKey: string
  info: ControllerInfo
  /** True once the child has exited (on its own or after stop()). */
  exited: () => boolean
  /** SIGTERM, wait (bounded), SIGKILL if needed, then delete the data dir unless `keep`. Idempotent. */
  stop: () => Promise<void>
}

const WEFT_JS = fileURLToPath(new URL('../../cmd/weft.js', import.meta.url))

/** The files every controller of one etcd prefix must share (docs/store.md). */
const KEY_FILES = ['controller.key', 'admin.key']

/** A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read, close). */
async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/** Polls `fn` every `stepMs` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T> (what: string, timeoutMs: number, fn: () => Promise<T | undefined>, stepMs = 50): Promise<T> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, stepMs))
  }
}

function waitExit (child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
  return new Promise(resolve => {
    const timer = setTimeout(() => resolve(false), timeoutMs)
    child.once('exit', () => { clearTimeout(timer); resolve(true) })
  })
}

async function copyKeys (from: string, to: string): Promise<void> {
  await mkdir(to, { mode: 0o700 })
  for (const f of KEY_FILES) {
    await copyFile(join(from, f), join(to, f))
    await chmod(join(to, f), 0o600)
  }
}

/** Starts a controller on a free loopback port with a fresh data dir; resolves once `/v1/info` answers. */
export async function startController (opts: ControllerProcessOptions): Promise<ControllerProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'weft-bench-ctl-'))
  const dataPath = join(dataDir, 'data')
  const logPath = join(dataDir, 'controller.log')
  if (opts.keysFrom !== undefined && opts.keysFrom !== null) {
    await copyKeys(opts.keysFrom, dataPath).catch(async (err: unknown) => {
      await rm(dataDir, { recursive: true, force: true })
      throw err
    })
  }
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const nodeArgs = opts.cpuProfDir === null ? [] : ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir]
  const args = [...nodeArgs, WEFT_JS, 'controller', '--data', dataPath, '--listen', `127.0.0.1:${port}`, ...opts.extraArgs]
  const logFd = openSync(logPath, 'a', 0o600)
  const child = spawn(process.execPath, args, { stdio: ['ignore', logFd, logFd] })
  closeSync(logFd)
  let exited = false
  child.once('exit', () => { exited = true })

  let stopped: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopped ??= (async () => {
      if (!exited) {
        child.kill('SIGTERM')
        // Writing a CPU profile of a long run takes tens of seconds; killing early would lose it.
        if (!await waitExit(child, opts.cpuProfDir === null ? 10_000 : 120_000)) {
          child.kill('SIGKILL')
          await waitExit(child, 5_000)
        }
      }
      if (!opts.keep) await rm(dataDir, { recursive: true, force: true })
    })()
    await stopped
  }

  try {
    const timeoutMs = opts.startTimeoutMs ?? 30_000
    const info = await waitFor('the controller to answer GET /v1/info', timeoutMs, async () => {
      if (exited) throw new Error(`the controller exited during start-up (code ${child.exitCode}, signal ${child.signalCode})`)
      try {
        const res = await request(`${origin}/v1/info`)
        if (res.statusCode !== 200) { await res.body.dump(); return undefined }
        return await res.body.json() as ControllerInfo
      } catch {
        return undefined
      }
    })
    const adminKey = await waitFor('DATA/admin.key', timeoutMs, async () => {
      try {
        const s = (await readFile(join(dataPath, 'admin.key'), 'utf8')).trim()
        return s === '' ? undefined : s
      } catch {
        return undefined
      }
    })
    return { pid: child.pid!, origin, dataDir, dataPath, logPath, adminKey, info, exited: () => exited, stop }
  } catch (err) {
    // The data dir (and the log in it) goes away with stop(); keep the log's last lines in the error.
    const tail = await readFile(logPath, 'utf8').then(t => t.trimEnd().split('\n').slice(-10).join('\n'), () => '')
    await stop()
    throw new Error(`${(err as Error).message}${tail === '' ? '' : `\ncontroller log (last lines):\n${tail}`}`, { cause: err })
  }
}
