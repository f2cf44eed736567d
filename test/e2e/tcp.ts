/** Runs test/e2e/tcp-peer.js in a namespace (see that file for its modes). */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

/** The compiled tcp-peer script, for `spawn`-ed listeners and held connections. */
export const TCP_PEER = fileURLToPath(new URL('./tcp-peer.js', import.meta.url))

const execFileP = promisify(execFile)

/** What one connection attempt from namespace `ns` to `host:port` gets: `connected`, `refused` or `timeout`. */
export async function tryTcp (ns: string, host: string, port: number): Promise<string> {
  const r = await execFileP('ip', ['netns', 'exec', ns, process.execPath, TCP_PEER, 'try', host, String(port)]).catch((e: { stdout?: string }) => e)
  return String(r.stdout).trim()
}
