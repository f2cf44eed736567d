import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The compiled CLI. */
export const WEFT = join(process.cwd(), 'dist/cmd/weft.js')

/** Runs `weft ARGS` as a user would and returns its exit code and output, whatever the code. */
export async function weft (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const r = await run(process.execPath, [WEFT, ...args])
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code: number, stdout: string, stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}
