/**
 * resolv.conf(5) as the C library reads it: the host's nameservers (where the mesh resolver forwards other
 * names), its search list and options (which a managed file keeps). Pure; a file that says something odd is
 * read as glibc reads it, never refused: it is the host's, not ours to judge.
 */

/** The directives of a resolv.conf that matter to Weft, in file order. */
export interface ResolvConf {
  /** Every `nameserver` address, as written (IPv4, IPv6, possibly with a `%zone`). */
  nameservers: string[]
  /** The search list: the last `search` or `domain` line wins, as in glibc. */
  search: string[]
  /** Every `options` token, all lines together. */
  options: string[]
}

/** glibc's server when a resolv.conf names none (or is missing): a resolver on the local host. */
export const IMPLIED_NAMESERVER = '127.0.0.1'

/** Parses `text` the way glibc does: `#` and `;` start comments, unknown keywords are ignored. */
export function parseResolvConf (text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], search: [], options: [] }
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const [keyword, ...args] = line.split(/\s+/)
    // A trailing comment after the arguments is allowed by most resolvers and harmless to drop.
    const end = args.findIndex(a => a.startsWith('#') || a.startsWith(';'))
    const words = end === -1 ? args : args.slice(0, end)
    switch (keyword) {
      case 'nameserver':
        if (words[0] !== undefined) out.nameservers.push(words[0])
        break
      case 'search':
        out.search = words
        break
      case 'domain':
        out.search = words.slice(0, 1)
        break
      case 'options':
        out.options.push(...words)
        break
    }
  }
  return out
}

/** The servers a resolver forwarding for this host should use: the file's, each once, without `meshIp`, or glibc's implied one. */
export function upstreamsOf (conf: ResolvConf, meshIp: string | null): string[] {
  if (conf.nameservers.length === 0) return [IMPLIED_NAMESERVER]
  return unique(conf.nameservers.filter(s => s !== meshIp))
}

function unique (xs: readonly string[]): string[] {
  return [...new Set(xs)]
}
