/**
 * A file's identity as `stat` shows it on both sides of a bind mount, such as the /etc/netns/NS files
 * `ip netns exec` mounts over /etc (NetnsWorld.writeEtc): a test checks that code inside wrote the very file it
 * made, in place.
 */
import { statSync } from 'node:fs'

/** The file's identity: `dev:ino`. */
export function fileIdentity (path: string): string {
  const st = statSync(path)
  return `${st.dev}:${st.ino}`
}
