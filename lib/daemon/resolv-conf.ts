/**
 * The /etc/resolv.conf Weft writes when it manages the file (host-dns.ts), pure: what it holds, and telling it
 * from one someone else wrote since. Parsing is lib/dns/resolv-conf.ts.
 */
import { parseResolvConf, type ResolvConf } from '../dns/resolv-conf.js'

/** How the file Weft writes begins; a file starting so is Weft's. */
export const MANAGED_MARK = '# Managed by Weft'

/** What Weft puts in /etc/resolv.conf: its server for `*.domain` first, then everything of `original` that still applies. */
export interface ManagedParams {
  meshIp: string
  domain: string
  /** Where the original is kept; the first line names it so an operator can undo by hand. */
  backupPath: string
}

/**
 * The managed file: the mark line (what it is and how to undo), `nameserver meshIp` first, then the original
 * servers, `search domain` followed by the original search list, and the original options except `rotate`,
 * which would spread mesh names over upstream servers that answer NXDOMAIN for them.
 */
export function renderManaged (original: ResolvConf, p: ManagedParams): string {
  const lines = [
    `${MANAGED_MARK} (weft daemon --dns-manage-resolv-conf): ${p.meshIp} answers *.${p.domain}. ` +
      `Undo: weft leave, or restart the daemon with --accept-dns=false; the original is ${p.backupPath}`,
    ...unique([p.meshIp, ...original.nameservers]).map(s => `nameserver ${s}`),
    `search ${unique([p.domain, ...original.search]).join(' ')}`
  ]
  const options = original.options.filter(o => o !== 'rotate')
  if (options.length > 0) lines.push(`options ${options.join(' ')}`)
  return lines.join('\n') + '\n'
}

/** True when `text` is a file Weft wrote (whatever its settings). */
export function isManaged (text: string): boolean {
  return text.startsWith(MANAGED_MARK)
}

/**
 * True when `current` is exactly the managed file Weft writes from `original` (with the server and domain it
 * names), so nobody has changed it since; false for any edit, however small.
 */
export function managedUnchanged (current: string, original: string, backupPath: string): boolean {
  if (!isManaged(current)) return false
  const mine = parseResolvConf(current)
  const meshIp = mine.nameservers[0]
  const domain = mine.search[0]
  if (meshIp === undefined || domain === undefined) return false
  return renderManaged(parseResolvConf(original), { meshIp, domain, backupPath }) === current
}

/**
 * The settings a managed file was made from, when the original itself is lost (the state directory was wiped
 * while Weft managed the file): the file without its first server, first search domain and mark line.
 */
export function recoverOriginal (managed: string): string {
  const conf = parseResolvConf(managed)
  const lines = ['# Rebuilt by Weft from the file it managed; the original copy was lost',
    ...conf.nameservers.slice(1).map(s => `nameserver ${s}`)]
  if (conf.search.length > 1) lines.push(`search ${conf.search.slice(1).join(' ')}`)
  if (conf.options.length > 0) lines.push(`options ${conf.options.join(' ')}`)
  return lines.join('\n') + '\n'
}

function unique (xs: readonly string[]): string[] {
  return [...new Set(xs)]
}
