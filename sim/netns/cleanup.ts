/**
 * Removing a run's world: its processes (by recorded pid, and any wireguard-go found through a UAPI socket
 * carrying the run prefix), its namespaces, its sockets and its run directory, and the machine's autogroup
 * setting put back once no live run needs it off (sim/netns/autogroup.ts). Also finds runs whose owner
 * process is gone (a crashed test) and removes them, leaving live concurrent runs alone.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, rmSync, unlinkSync } from 'node:fs'
import type { Logger } from '../../lib/log.js'
import { run } from '../../lib/daemon/wg/exec.js'
import { UAPI_DIR } from '../../lib/daemon/wg/uapi-socket.js'
import { socketOwners } from '../../lib/daemon/wg/wireguard-go.js'
import { restoreScheduling } from './autogroup.js'
import { NETNS_ETC, NETNS_RE, PREFIX_RE, RUN_ROOT, WorldNames } from './names.js'
import { readRecord, readRecords, recordAlive, recordOf, signalRecords, terminate, type ProcRecord } from './procs.js'

/** Names of every network namespace on the machine. */
export function listNetns (): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
  return out.split('\n').map(l => l.split(' ')[0]!).filter(n => n !== '')
}

function uapiSockets (prefix: string): string[] {
  let names: string[]
  try { names = readdirSync(UAPI_DIR) } catch { return [] }
  return names.filter(n => n.startsWith(prefix) && n.endsWith('.sock')).map(n => `${UAPI_DIR}/${n}`)
}

/** Namespaces that belong to run `prefix`. */
export function runNamespaces (prefix: string): string[] {
  return listNetns().filter(n => NETNS_RE.exec(n)?.[1] === prefix)
}

async function deleteNamespaces (names: readonly string[]): Promise<void> {
  if (names.length === 0) return
  // -force: keep going past one that vanished meanwhile.
  await run(['ip', '-force', '-batch', '-'], { input: names.map(n => `netns del ${n}\n`).join('') }).catch(() => {})
}

/** Removes everything run `prefix` owns. Safe to call twice and on a half-built world. */
export async function destroyRun (prefix: string, log: Logger): Promise<{ killed: number, namespaces: number }> {
  const names = new WorldNames(prefix)
  const recorded = readRecords(names.pidDir)
  await terminate(recorded)
  // wireguard-go started by a daemon inside the world has no pid file of ours; its socket names it.
  const sockets = uapiSockets(prefix)
  const owners = await socketOwners(new Set(sockets))
  const found = [...owners.values()].flat().map(recordOf).filter((r): r is ProcRecord => r !== null)
  await terminate(found)
  for (const s of sockets) { try { unlinkSync(s) } catch { /* gone */ } }
  const namespaces = runNamespaces(prefix)
  await deleteNamespaces(namespaces)
  removeEtc(prefix)
  rmSync(names.runDir, { recursive: true, force: true })
  restoreScheduling(runIsLive, log)
  const killed = recorded.filter(r => r !== null).length + found.length
  log.info({ event: 'sim.netns.destroy', prefix, killed, namespaces: namespaces.length }, 'netns world removed')
  return { killed, namespaces: namespaces.length }
}

/**
 * Synchronous last-resort cleanup for `process.on('exit')`, where nothing async runs: SIGKILL to recorded
 * pids, then delete the namespaces and the run directory.
 */
export function destroyRunSync (prefix: string, log: Logger): void {
  const names = new WorldNames(prefix)
  signalRecords(readRecords(names.pidDir), 'SIGKILL')
  try {
    const ns = runNamespaces(prefix)
    if (ns.length > 0) execFileSync('ip', ['-force', '-batch', '-'], { input: ns.map(n => `netns del ${n}\n`).join(''), stdio: ['pipe', 'ignore', 'ignore'] })
  } catch { /* best effort at exit */ }
  for (const s of uapiSockets(prefix)) { try { unlinkSync(s) } catch { /* gone */ } }
  removeEtc(prefix)
  rmSync(names.runDir, { recursive: true, force: true })
  restoreScheduling(runIsLive, log)
}

/** The /etc/netns directories of run `prefix`'s namespaces (`ip netns del` leaves them). */
function etcDirs (prefix: string): string[] {
  let names: string[]
  try { names = readdirSync(NETNS_ETC) } catch { return [] }
  return names.filter(n => NETNS_RE.exec(n)?.[1] === prefix).map(n => `${NETNS_ETC}/${n}`)
}

function removeEtc (prefix: string): void {
  for (const d of etcDirs(prefix)) rmSync(d, { recursive: true, force: true })
}

/** Every run prefix that has a namespace, a run directory or a UAPI socket on this machine. */
export function knownPrefixes (): Set<string> {
  const prefixes = new Set<string>()
  for (const n of listNetns()) {
    const m = NETNS_RE.exec(n)
    if (m !== null) prefixes.add(m[1]!)
  }
  try { for (const d of readdirSync(RUN_ROOT)) if (PREFIX_RE.test(d)) prefixes.add(d) } catch { /* no runs yet */ }
  try {
    for (const d of readdirSync(NETNS_ETC)) {
      const m = NETNS_RE.exec(d)
      if (m !== null) prefixes.add(m[1]!)
    }
  } catch { /* no /etc/netns */ }
  try {
    for (const s of readdirSync(UAPI_DIR)) {
      const m = /^(wf[a-z0-9]{4})w\d+\.sock$/.exec(s)
      if (m !== null) prefixes.add(m[1]!)
    }
  } catch { /* no sockets */ }
  return prefixes
}

/** True when run `prefix` has a live owner process (so it is someone's running test, not debris). */
export function runIsLive (prefix: string): boolean {
  const owner = readRecord(`${new WorldNames(prefix).runDir}/owner`)
  return owner !== null && recordAlive(owner)
}

/** Removes every run whose owner is gone, except `keep`. Resolves with the prefixes removed. */
export async function cleanupStale (log: Logger, keep?: string): Promise<string[]> {
  const removed: string[] = []
  for (const prefix of knownPrefixes()) {
    if (prefix === keep || runIsLive(prefix)) continue
    await destroyRun(prefix, log)
    removed.push(prefix)
  }
  if (removed.length > 0) log.info({ event: 'sim.netns.stale', removed }, 'removed leftovers of crashed runs')
  // A run that crashed between removing its directory and restoring the setting left only the saved value.
  restoreScheduling(runIsLive, log)
  return removed
}
