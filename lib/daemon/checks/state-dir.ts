/**
 * Whether the daemon can use its state directory, decided before anything is written: it must belong to the
 * user the daemon runs as (so must every file Weft keeps there), that user must be able to write it, and,
 * when it does not exist yet, to create it. A directory open to other users is closed (0700) when it holds
 * only Weft's files, and refused otherwise: Weft does not change the mode of a directory others use.
 */
import { readdir, stat, lstat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { DataDirError } from '../../errors.js'
import { DEFAULTS } from '../config.js'
import { fileFacts, mayReadWrite, mayWrite, octal, type FileFacts } from './files.js'
import type { ProcessFacts } from './process.js'

/** The files Weft keeps in the state directory. */
export const STATE_FILES: readonly string[] = ['private.key', 'node.json', 'netmap.json', 'swim.json', 'weft.sock']

/** A temporary file of an atomic write (atomic-file.ts) that a crash left. */
const TEMP_FILE = /^\.(private\.key|node\.json|netmap\.json|swim\.json)\.[0-9a-f]{8}\.tmp$/

/** What the filesystem says about the state directory. */
export interface StateDirFacts {
  dir: string
  /** The directory itself; null when it does not exist. */
  self: FileFacts | null
  /** When it does not exist: the nearest existing ancestor, where it would be created. */
  ancestor: { path: string, facts: FileFacts } | null
  /** Names of its entries (when it exists and can be read). */
  names: string[]
  /** Weft's own files among them (STATE_FILES). */
  files: Array<{ name: string, facts: FileFacts }>
}

/** What to do to the directory once every check has passed. */
export interface StateDirVerdict {
  /** It does not exist: create it (0700). */
  create: boolean
  /** It is open to other users and holds only Weft's files: chmod 0700. */
  tighten: boolean
}

/** Decides whether `p` may use the state directory described by `f`; throws DataDirError saying what to fix. */
export function checkStateDir (f: StateDirFacts, p: ProcessFacts): StateDirVerdict {
  const runAs = `run the daemon as its owner, or chown -R ${p.account} ${f.dir}`
  if (f.self === null) {
    const a = f.ancestor
    if (a === null || a.facts.kind !== 'dir') {
      throw new DataDirError(`state directory ${f.dir} cannot be created: ` +
        `${a?.path ?? 'its parent'} is not a directory`)
    }
    if (!mayWrite(a.facts, p)) {
      throw new DataDirError(`state directory ${f.dir} does not exist, and ${p.user} may not create it in ` +
        `${a.path} (owned by ${a.facts.owner}, mode ${octal(a.facts.mode)}): ` +
        `create it for the daemon (install -d -m 700 -o ${p.account} ${f.dir}; a systemd unit can say StateDirectory=weft), or run the daemon as root`)
    }
    return { create: true, tighten: false }
  }
  if (f.self.kind !== 'dir') throw new DataDirError(`state directory ${f.dir} is not a directory: remove it, or choose another --state`)
  if (f.self.uid !== p.uid) throw new DataDirError(`state directory ${f.dir} belongs to ${f.self.owner}, but the daemon runs as ${p.user}: ${runAs}`)
  if (!mayWrite(f.self, p)) throw new DataDirError(`state directory ${f.dir} is not writable by its owner (mode ${octal(f.self.mode)}): chmod 700 ${f.dir}`)
  for (const e of f.files) {
    const path = join(f.dir, e.name)
    if (e.facts.uid !== p.uid) throw new DataDirError(`${path} belongs to ${e.facts.owner}, but the daemon runs as ${p.user}: ${runAs}`)
    if (e.facts.kind === 'file' && !mayReadWrite(e.facts, p)) {
      throw new DataDirError(`${path} is not readable and writable by its owner (mode ` +
        `${octal(e.facts.mode)}): chmod 600 ${path}`)
    }
  }
  if ((f.self.mode & 0o077) === 0) return { create: false, tighten: false }
  const foreign = f.names.filter(n => !STATE_FILES.includes(n) && !TEMP_FILE.test(n)).sort()
  if (foreign.length > 0) {
    const shown = foreign.length > 3 ? `${foreign.slice(0, 3).join(', ')}...` : foreign.join(', ')
    throw new DataDirError(`state directory ${f.dir} is open to other users (mode ${octal(f.self.mode)}) and holds files Weft did not put there (${shown}): ` +
      `give Weft a directory of its own (the default is ${DEFAULTS.stateDir}), or chmod 700 ${f.dir}`)
  }
  return { create: false, tighten: true }
}

/** Reads the facts checkStateDir decides on. Changes nothing. */
export async function inspectStateDir (dir: string): Promise<StateDirFacts> {
  const s = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null
    throw new DataDirError(`state directory ${dir} cannot be used: ${err.message}`, { cause: err })
  })
  if (s === null) {
    for (let p = dirname(dir); ; p = dirname(p)) {
      const a = await stat(p).catch(() => null)
      if (a !== null) return { dir, self: null, ancestor: { path: p, facts: await fileFacts(a) }, names: [], files: [] }
      if (p === dirname(p)) return { dir, self: null, ancestor: null, names: [], files: [] }
    }
  }
  const names = s.isDirectory() ? await readdir(dir).catch(() => []) : []
  const files: StateDirFacts['files'] = []
  for (const name of names.filter(n => STATE_FILES.includes(n))) {
    const e = await lstat(join(dir, name)).catch(() => null)
    if (e !== null) files.push({ name, facts: await fileFacts(e) })
  }
  return { dir, self: await fileFacts(s), ancestor: null, names, files }
}
