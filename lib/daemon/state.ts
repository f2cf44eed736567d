import { mkdir, chmod, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Clock } from '../clock.js'
import { DataDirError, InvalidNetmapError } from '../errors.js'
import { generateKeyPair, isWireGuardKey, publicKeyFor, type KeyPair } from '../wire/keys.js'
import type { Netmap } from '../wire/netmap.js'
import { isIncarnation } from '../swim/incarnation.js'
import { readFileIfExists, writeFileAtomic, writeFileAtomicSync } from './atomic-file.js'
import { checkNetmap } from './netmap-check.js'
import { checkPrefs, type RoutePrefs } from './prefs.js'

/**
 * The daemon's saved state in `--state DIR`, every file written atomically:
 * - `private.key` (0600): the WireGuard private key, base64.
 * - `node.json` (0600, holds the credential): who the controller says we are.
 * - `netmap.json` (0600): the last netmap applied, so the mesh comes up with the controller down.
 * - `swim.json`: a bound on the SWIM incarnations this node has signed, so a restart starts above all of them.
 * - `prefs.json`: the route preferences last set by a flag or `weft set` (prefs.ts).
 */

/**
 * Default pacing of netmap writes: 2000 ms. At 200 nodes one synced write costs ~3 ms of CPU and ~50 ms of
 * disk, and a node flapping between health states sends every daemon a version a second. What a crash can
 * lose is the last 2 s of endpoint and health changes, which the controller sends again at reconnect; any
 * change to who is in the mesh is written at once (mustSaveAtOnce).
 */
export const NETMAP_WRITE_INTERVAL_MS = 2000

/** Options of StateDir.open. */
export interface StateDirOptions {
  /** Least time between two netmap writes that are not urgent. Default: NETMAP_WRITE_INTERVAL_MS. */
  netmapIntervalMs?: number
  /** Paces the netmap writes. */
  clock: Clock
}

/**
 * Whether `next` must be on disk at once rather than at the paced interval: it is the first map, or it adds
 * or removes a node, takes one out (left, removed), changes a node's key, mesh IP or tags, or changes the access
 * policy. A daemon restarted from an older file would otherwise bring back a peer the controller took away,
 * remove a live peer that was added since (seen in the kill -9 e2e test: two pings lost), or enforce a policy
 * the admin replaced. Only health, endpoint and route changes wait.
 */
export function mustSaveAtOnce (prev: Netmap | null, next: Netmap): boolean {
  if (prev === null || prev.epoch !== next.epoch || prev.nodes.length !== next.nodes.length) return true
  if (prev.policy?.version !== next.policy?.version) return true
  const byId = new Map(next.nodes.map(n => [n.id, n]))
  for (const p of prev.nodes) {
    const n = byId.get(p.id)
    if (n === undefined || n.publicKey !== p.publicKey || n.meshIp !== p.meshIp) return true
    if ((n.tags ?? []).join(',') !== (p.tags ?? []).join(',')) return true
    if (n.health !== p.health && (n.health === 'left' || n.health === 'removed')) return true
  }
  return false
}

/** Identity the controller gave us at registration. */
export interface NodeIdentity {
  nodeId: string
  meshIp: string
  cidr: string
  credential: string
  controllerPublicKey: string
  /** When the controller told us an admin removed this node (ms since epoch): the node stays out, even across restarts. */
  removedAt?: number
}

const FILES = { key: 'private.key', node: 'node.json', netmap: 'netmap.json', swim: 'swim.json', prefs: 'prefs.json' } as const

/** The daemon's state directory. */
export class StateDir {
  /** The newest netmap not yet being written, and the write loop while one runs (see saveNetmap). */
  private nextNetmap: Netmap | null = null
  private netmapWrites: Promise<void> | null = null

  /** Set when a pending map must not wait for the interval (see saveNetmap); wakes the waiting write loop. */
  private netmapUrgent = false
  private wakeNetmapWrite: (() => void) | null = null
  private lastNetmapWriteAt = -Infinity

  private constructor (readonly dir: string, private readonly opts: StateDirOptions) {}

  /** The state directory at `dir`, touching nothing: the daemon reads it before its checks allow a write. */
  static at (dir: string, opts: StateDirOptions): StateDir {
    return new StateDir(dir, opts)
  }

  /** Opens (creating with mode 0700 if needed) the state directory. */
  static async open (dir: string, opts: StateDirOptions): Promise<StateDir> {
    const state = StateDir.at(dir, opts)
    await state.prepare()
    return state
  }

  /** Creates the directory (0700) when it is missing and closes it to other users (0700) when it is open; says which. */
  async prepare (): Promise<{ created: boolean, tightened: boolean }> {
    try {
      const created = await mkdir(this.dir, { recursive: true, mode: 0o700 }) !== undefined
      const s = await stat(this.dir)
      if (!s.isDirectory()) throw new Error('not a directory')
      const tightened = (s.mode & 0o077) !== 0
      if (tightened) await chmod(this.dir, 0o700)
      return { created, tightened }
    } catch (err) {
      throw new DataDirError(`state directory ${this.dir} cannot be used: ${(err as Error).message}`, { cause: err })
    }
  }

  /** Path of a file inside the directory. */
  path (name: string): string { return join(this.dir, name) }

  /** Loads the key pair, generating and saving one (0600) on first start. A corrupt key file is fatal. */
  async loadOrCreateKey (): Promise<KeyPair & { created: boolean }> {
    const saved = await this.loadKey()
    if (saved !== null) return { ...saved, created: false }
    const kp = generateKeyPair()
    await this.saveKey(kp)
    return { ...kp, created: true }
  }

  /** The saved key pair, or null when there is none yet. A corrupt or unreadable key file is fatal (DataDirError). */
  async loadKey (): Promise<KeyPair | null> {
    const raw = await this.read(FILES.key)
    if (raw === null) return null
    const privateKey = raw.trim()
    if (!isWireGuardKey(privateKey)) {
      throw new DataDirError(`${this.path(FILES.key)} does not hold a WireGuard private key; ` +
        'restore it from backup or remove the state directory and join again with a new token')
    }
    return { privateKey, publicKey: publicKeyFor(privateKey) }
  }

  /** Saves the private key (0600). */
  async saveKey (kp: KeyPair): Promise<void> {
    await writeFileAtomic(this.path(FILES.key), kp.privateKey + '\n', 0o600)
  }

  /** A file's text, or null when it does not exist; DataDirError when it cannot be read. */
  private async read (name: string): Promise<string | null> {
    try {
      return await readFileIfExists(this.path(name))
    } catch (err) {
      throw new DataDirError(`cannot read ${this.path(name)}: ${(err as Error).message}`, { cause: err })
    }
  }

  /** The saved identity, or null before the first registration. Throws DataDirError when the file is corrupt. */
  async loadIdentity (): Promise<NodeIdentity | null> {
    const raw = await this.read(FILES.node)
    if (raw === null) return null
    try {
      const v = JSON.parse(raw) as NodeIdentity
      for (const k of ['nodeId', 'meshIp', 'cidr', 'credential', 'controllerPublicKey'] as const) {
        if (typeof v[k] !== 'string' || v[k].length === 0) throw new Error(`field ${k} missing`)
      }
      if (v.removedAt !== undefined && !Number.isInteger(v.removedAt)) throw new Error('field removedAt is not a time')
      return v
    } catch (err) {
      throw new DataDirError(`${this.path(FILES.node)} is corrupt (${(err as Error).message}); start again with --join-token to re-register the same key`)
    }
  }

  /** Saves the identity (0600: it holds the node credential). */
  async saveIdentity (id: NodeIdentity): Promise<void> {
    await writeFileAtomic(this.path(FILES.node), JSON.stringify(id, null, 2) + '\n', 0o600)
  }

  /**
   * The last applied netmap, or null when there is none. A corrupt or invalid file throws InvalidNetmapError
   * so the caller can log it and start without one rather than half-apply it.
   */
  async loadNetmap (): Promise<Netmap | null> {
    const raw = await this.read(FILES.netmap)
    if (raw === null) return null
    let v: unknown
    try { v = JSON.parse(raw) } catch { throw new InvalidNetmapError(`${this.path(FILES.netmap)} is not valid JSON`) }
    return checkNetmap(v)
  }

  /**
   * Saves the netmap just applied. One write at a time, always of the newest map: maps arriving while a write
   * runs or waits are folded into the next one, and an older write can never land after a newer one. Writes
   * are paced to one per `netmapIntervalMs` unless `urgent` (see mustSaveAtOnce): a fleet joining or a node
   * flapping sends about a delta a second, and each write is a synced file. Resolves once `map` or a newer
   * one is on disk.
   */
  saveNetmap (map: Netmap, urgent = true): Promise<void> {
    this.nextNetmap = map
    if (urgent) this.hurryNetmapWrite()
    this.netmapWrites ??= this.writeNetmaps()
    return this.netmapWrites
  }

  /** Writes a netmap still waiting for its interval now (daemon shutdown); resolves once it is on disk. */
  async flushNetmap (): Promise<void> {
    if (this.netmapWrites === null) return
    this.hurryNetmapWrite()
    await this.netmapWrites
  }

  /** The pending map is written without waiting for the interval; a write loop asleep in it wakes now. */
  private hurryNetmapWrite (): void {
    this.netmapUrgent = true
    this.wakeNetmapWrite?.()
  }

  private async writeNetmaps (): Promise<void> {
    const interval = this.opts.netmapIntervalMs ?? NETMAP_WRITE_INTERVAL_MS
    const clock = this.opts.clock
    const now = (): number => clock.now()
    try {
      while (this.nextNetmap !== null) {
        const wait = this.netmapUrgent ? 0 : this.lastNetmapWriteAt + interval - now()
        if (wait > 0) {
          const wake = new AbortController()
          this.wakeNetmapWrite = () => wake.abort()
          await clock.sleep(wait, wake.signal)
          this.wakeNetmapWrite = null
        }
        const m = this.nextNetmap
        this.nextNetmap = null
        this.netmapUrgent = false
        this.lastNetmapWriteAt = now()
        await writeFileAtomic(this.path(FILES.netmap), JSON.stringify(m), 0o600)
      }
    } finally {
      this.netmapWrites = null
    }
  }

  /**
   * The saved bound on the incarnations this node has signed, or null when none was saved (or the file is
   * corrupt or out of range; restartIncarnation then falls back on the wall clock).
   */
  async loadIncarnation (): Promise<number | null> {
    const raw = await readFileIfExists(this.path(FILES.swim))
    if (raw === null) return null
    try {
      const v = JSON.parse(raw) as { incarnation?: unknown }
      return isIncarnation(v.incarnation) ? v.incarnation : null
    } catch {
      return null
    }
  }

  /** Saves `bound` as the highest incarnation this node may sign, durably, before returning. */
  reserveIncarnation (bound: number): void {
    writeFileAtomicSync(this.path(FILES.swim), JSON.stringify({ incarnation: bound }) + '\n', 0o600)
  }

  /**
   * The saved route preferences, null when none are saved. A file that is not valid preferences stops the start
   * (DataDirError): running on defaults could send traffic around a pinned exit node the operator chose.
   */
  async loadPrefs (): Promise<Partial<RoutePrefs> | null> {
    const raw = await readFileIfExists(this.path(FILES.prefs))
    if (raw === null) return null
    try {
      const v = JSON.parse(raw) as unknown
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object')
      return checkPrefs(v as Record<string, unknown>)
    } catch (err) {
      throw new DataDirError(`${this.path(FILES.prefs)} is not valid (${(err as Error).message}); fix it, or delete it and give the route flags again`)
    }
  }

  /** Saves the route preferences, durably, before returning. */
  async savePrefs (p: Readonly<RoutePrefs>): Promise<void> {
    await writeFileAtomic(this.path(FILES.prefs), JSON.stringify(p, null, 2) + '\n', 0o600)
  }
}
