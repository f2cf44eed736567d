import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'

/** The bits of tap's Test the helpers use. */
interface T { teardown (fn: () => unknown): void }

const WEFT = join(process.cwd(), 'dist/cmd/weft.js')

/** A `weft controller` child process with the JSON log lines it has printed so far. */
export interface ControllerChild {
  child: ChildProcess
  url: string
  /** Every stdout line, parsed (non-JSON lines are kept as `{ raw }`). */
  logs: Array<Record<string, unknown>>
  /** Resolves with the exit code (or signal) once the child has exited. */
  exited: Promise<number | string>
}

/**
 * Starts `weft controller --data DIR --listen 127.0.0.1:0` (registrations unthrottled) and resolves once it
 * logs `controller.listening`; rejects with its stderr when it exits or does not start within 15 s.
 * Killed with SIGKILL at teardown if still running.
 */
export async function spawnController (t: T, dataDir: string, extraArgs: string[] = []): Promise<ControllerChild> {
  const child = spawn(process.execPath, [
    WEFT,
    'controller',
    '--data',
    dataDir,
    '--listen',
    '127.0.0.1:0',
    '--register-rate',
    '0',
    '--log-level',
    'info',
    ...extraArgs
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<number | string>(resolve => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stderr = ''
  child.stderr!.on('data', (b: Buffer) => { stderr += b.toString() })
  const logs: Array<Record<string, unknown>> = []
  let buf = ''
  let onLine: ((e: Record<string, unknown>) => void) | null = null
  child.stdout!.on('data', (b: Buffer) => {
    buf += b.toString()
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      let e: Record<string, unknown>
      try { e = JSON.parse(line) as Record<string, unknown> } catch { e = { raw: line } }
      logs.push(e)
      onLine?.(e)
    }
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`controller did not start within 15 s; stderr: ${stderr}`)), 15_000)
    onLine = e => { if (e.event === 'controller.listening') { clearTimeout(timer); resolve(e.url as string) } }
    void exited.then(code => { clearTimeout(timer); reject(new Error(`controller exited with ${code}; stderr: ${stderr}`)) })
  })
  return { child, url, logs, exited }
}
