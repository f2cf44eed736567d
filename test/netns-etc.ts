/**
 * Per-namespace /etc files: `ip netns exec NS` bind-mounts each /etc/netns/NS/<name> over /etc/<name>, so a test
 * can give a namespace its own /etc/resolv.conf and let code inside write "/etc/resolv.conf" for real without
 * touching the host's. The world that owns NS removes its /etc/netns directory (sim/netns/cleanup.ts), also
 * after a crash.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs'
import { NETNS_ETC, NETNS_RE } from '../sim/netns/names.js'

/** The file's identity as `stat` shows it on both sides of the bind mount: `dev:ino`. */
export function fileIdentity (path: string): string {
  const st = statSync(path)
  return `${st.dev}:${st.ino}`
}

/** Writes /etc/netns/NS/NAME (what NS sees as /etc/NAME) and returns its path. */
export function writeNetnsEtc (ns: string, name: string, text: string): string {
  if (NETNS_RE.exec(ns) === null) throw new Error(`namespace "${ns}" is not a run's (sim/netns/names.ts): its /etc files could not be cleaned up`)
  mkdirSync(`${NETNS_ETC}/${ns}`, { recursive: true })
  const path = `${NETNS_ETC}/${ns}/${name}`
  writeFileSync(path, text, { mode: 0o644 })
  return path
}
