/** File ownership and permission questions, answered from stat() and the process's ids and capabilities. */
import type { Stats } from 'node:fs'
import { CAP, hasCap, labelOf, type ProcessFacts } from './process.js'

/** What stat() says about a path, with its owner named for messages. */
export interface FileFacts {
  uid: number
  gid: number
  /** Permission bits (mode & 0o7777). */
  mode: number
  kind: 'dir' | 'file' | 'socket' | 'other'
  /** "uid 0 (root)". */
  owner: string
}

/** The permission bits (rwx) that apply to `p` on `f`: owner's, group's or others'. */
function classBits (f: FileFacts, p: ProcessFacts): number {
  if (f.uid === p.uid) return (f.mode >> 6) & 7
  if (f.gid === p.gid || p.groups.includes(f.gid)) return (f.mode >> 3) & 7
  return f.mode & 7
}

/** Whether `p` may create and remove entries in directory `f` (write and search), CAP_DAC_OVERRIDE included. */
export function mayWrite (f: FileFacts, p: ProcessFacts): boolean {
  return hasCap(p.effective, CAP.DAC_OVERRIDE) || (classBits(f, p) & 3) === 3
}

/** Whether `p` may open file `f` for reading and writing, CAP_DAC_OVERRIDE included. */
export function mayReadWrite (f: FileFacts, p: ProcessFacts): boolean {
  return hasCap(p.effective, CAP.DAC_OVERRIDE) || (classBits(f, p) & 6) === 6
}

/** `0755`. */
export function octal (mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`
}

/** FileFacts of a stat() result, its owner named from /etc/passwd. */
export async function fileFacts (s: Stats): Promise<FileFacts> {
  const kind = s.isDirectory() ? 'dir' : s.isFile() ? 'file' : s.isSocket() ? 'socket' : 'other'
  return { uid: s.uid, gid: s.gid, mode: s.mode & 0o7777, kind, owner: await labelOf(s.uid) }
}
