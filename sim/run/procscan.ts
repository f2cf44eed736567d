/**
 * Finding the wireguard-go serving an interface by a synchronous scan of /proc/<pid>/cmdline. The
 * socket-inode search (lib/daemon/wg/wireguard-go.ts socketOwners) is exact but makes thousands of awaited
 * syscalls; on a loaded machine each one waits for a thread hop, so one scan took minutes at N=50. Here the
 * interface names carry the run's unique prefix, so `wireguard-go <ifname>` identifies the process.
 */
import { readFileSync, readdirSync } from 'node:fs'

/** Pids of wireguard-go processes whose arguments name one of `ifnames`, by interface name. */
export function wireguardPidsByIface (ifnames: ReadonlySet<string>): Map<string, number[]> {
  const out = new Map<string, number[]>()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    let argv: string[]
    try { argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0') } catch { continue }
    if (!(argv[0] ?? '').endsWith('wireguard-go')) continue
    const name = argv.slice(1).find(a => ifnames.has(a))
    if (name === undefined) continue
    const list = out.get(name) ?? []
    list.push(Number(d))
    out.set(name, list)
  }
  return out
}
