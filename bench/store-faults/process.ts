import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * `weft controller` as a child process on a given data directory, so that the campaign can kill it with
 * any signal and start it again on the same directory.
 */

const WEFT_JS = fileURLToPath(new URL('../../cmd/weft.js', import.meta.url))

/** A running (or exited) controller child. */
export interface ControllerChild {
  url: string
  adminKey: string
  /** Every JSON line it printed. */
  logs: Array<Record<string, unknown>>
  /** Resolves with its exit code or signal. */
  exited: Promise<number | string>
  kill (signal: NodeJS.Signals): Promise<number | string>
}

/** How a start ended when the controller did not come up. */
export class StartFailed extends Error {
  constructor (readonly exit: number | string, readonly stderr: string) {
    super(`controller exited with ${exit} during start-up: ` +
      `${stderr.trim().split('\n').pop() ?? ''}`)
  }
}

/**
 * Starts `weft controller --data DIR` on 127.0.0.1:0 with registrations unthrottled and a 200 ms store
 * retry; resolves once it logs `controller.listening`, rejects with StartFailed when it exits first.
 */
export async function startChild (dataDir: string, timeoutMs = 30_000): Promise<ControllerChild> {
  const args = [WEFT_JS, 'controller', '--data', dataDir, '--listen', '127.0.0.1:0', '--register-rate', '0', '--store-retry', '200ms']
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<number | string>(resolve => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  let stderr = ''
  child.stderr!.on('data', (b: Buffer) => { stderr += b.toString() })
  const logs: Array<Record<string, unknown>> = []
  let buf = ''
  let listening: ((url: string) => void) | null = null
  child.stdout!.on('data', (b: Buffer) => {
    buf += b.toString()
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      try {
        const e = JSON.parse(line) as Record<string, unknown>
        logs.push(e)
        if (e.event === 'controller.listening') listening?.(e.url as string)
      } catch {}
    }
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`controller did not start within ${timeoutMs} ms`)) }, timeoutMs)
    listening = u => { clearTimeout(timer); resolve(u) }
    void exited.then(code => { clearTimeout(timer); reject(new StartFailed(code, stderr)) })
  })
  const adminKey = (await readFile(join(dataDir, 'admin.key'), 'utf8')).trim()
  const kill = async (signal: NodeJS.Signals): Promise<number | string> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    return await exited
  }
  return { url, adminKey, logs, exited, kill }
}
