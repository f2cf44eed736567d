/**
 * A real etcd cluster for tests and the sim: `members` etcd processes (Debian's etcd-server) on loopback, each
 * with a data directory of its own under `dir`, client and peer ports picked free. `kill` and `start` act on one
 * member, as a crash and a restart; `stop` ends them all and is also run when this process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { waitFor } from './wait.js'

/** etcd's status call (gRPC gateway): POST with `{}`; the answer says which member leads. */
export const STATUS_PATH = '/v3/maintenance/status'

/** Whether a status answer comes from the member that leads the cluster. */
export function leadsCluster (status: unknown): boolean {
  const st = status as { header?: { member_id?: string }, leader?: string } | null
  return st?.leader !== undefined && st.header?.member_id === st.leader
}

interface Member { name: string, client: string, peer: string, proc: ChildProcess | null }

export class EtcdCluster {
  private readonly members: Member[]
  private readonly token = randomBytes(6).toString('hex')
  private readonly onExit = (): void => { for (const m of this.members) m.proc?.kill('SIGKILL') }

  private constructor (private readonly dir: string, ports: number[]) {
    this.members = Array.from({ length: ports.length / 2 }, (_, i) => ({
      name: `m${i}`, client: `http://127.0.0.1:${ports[2 * i]!}`, peer: `http://127.0.0.1:${ports[2 * i + 1]!}`, proc: null
    }))
    process.on('exit', this.onExit)
  }

  /** Starts a cluster of `members` under `dir` and waits until every member reports itself healthy. */
  static async start (o: { members: number, dir: string }): Promise<EtcdCluster> {
    const ports: number[] = []
    for (let i = 0; i < 2 * o.members; i++) ports.push(await freePort())
    const c = new EtcdCluster(o.dir, ports)
    try {
      for (let i = 0; i < o.members; i++) await c.start(i)
      for (let i = 0; i < o.members; i++) await c.healthy(i)
    } catch (err) {
      await c.stop()
      throw err
    }
    return c
  }

  /** Every member's client URL. */
  get endpoints (): string[] { return this.members.map(m => m.client) }

  /** Starts member `i` (again, on its data directory: a restart after `kill`). */
  async start (i: number): Promise<void> {
    const m = this.members[i]!
    await mkdir(join(this.dir, m.name), { recursive: true })
    m.proc = spawn('etcd', [
      '--name', m.name,
      '--data-dir', join(this.dir, m.name),
      '--listen-client-urls', m.client, '--advertise-client-urls', m.client,
      '--listen-peer-urls', m.peer, '--initial-advertise-peer-urls', m.peer,
      '--initial-cluster', this.members.map(x => `${x.name}=${x.peer}`).join(','),
      '--initial-cluster-state', 'new', '--initial-cluster-token', this.token,
      '--logger', 'zap', '--log-level', 'error'
    ], { stdio: 'ignore' })
  }

  /** Waits (bounded) until member `i` answers /health with true. */
  async healthy (i: number, timeoutMs = 30_000): Promise<void> {
    await waitFor(`etcd member ${this.members[i]!.name} to be healthy`, async () => {
      try {
        const res = await fetch(`${this.members[i]!.client}/health`, { signal: AbortSignal.timeout(1000) })
        return res.ok && ((await res.json()) as { health?: string }).health === 'true'
      } catch { return false }
    }, timeoutMs, 100)
  }

  /** The index of the member that leads the cluster now, or null when none says so. */
  async leader (): Promise<number | null> {
    for (const [i, m] of this.members.entries()) {
      if (m.proc === null) continue
      try {
        const res = await fetch(`${m.client}${STATUS_PATH}`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(2000) })
        if (leadsCluster(await res.json())) return i
      } catch { /* not answering */ }
    }
    return null
  }

  /** Kills member `i` with `signal` (SIGKILL: a crash) and waits for it to exit. */
  async kill (i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.members[i]!.proc
    this.members[i]!.proc = null
    if (p === null || p.exitCode !== null) return
    const exited = new Promise(resolve => p.once('exit', resolve))
    p.kill(signal)
    await exited
  }

  /** Stops every member. */
  async stop (): Promise<void> {
    for (let i = 0; i < this.members.length; i++) await this.kill(i, 'SIGTERM')
    process.off('exit', this.onExit)
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}
