/**
 * Mesh names (docs/dns.md): each node is `<label>.<domain>`. The label is a DNS label in its LDH form (letters,
 * digits, hyphens; lower case), so every resolver and every shell takes it as it is.
 */

/** The domain of mesh names unless the controller is given `--dns-domain`: `.internal` is reserved for private use. */
export const DEFAULT_DNS_DOMAIN = 'weft.internal'

/** Longest label DNS allows. */
export const MAX_LABEL = 63

/** Longest domain accepted: a full name is at most 253 characters, and a label of up to 63 comes in front. */
export const MAX_DOMAIN = 253 - MAX_LABEL - 1

/** The label of a node whose hostname has nothing usable in it. */
const FALLBACK_LABEL = 'node'

const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

/** True when `s` is a DNS label as mesh names use them: 1-63 of a-z, 0-9 and `-`, not starting or ending with `-`. */
export function isLabel (s: string): boolean {
  return LABEL_RE.test(s)
}

/**
 * The label a node's hostname gives: its first dot-separated part, lower case, every run of other characters
 * (`_`, say) as one `-`, no `-` at either end, at most 63 characters; `node` when nothing is left.
 */
export function labelOf (hostname: string): string {
  const first = hostname.split('.')[0] ?? ''
  const s = first.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, MAX_LABEL).replace(/^-+|-+$/g, '')
  return s === '' ? FALLBACK_LABEL : s
}

/**
 * The first of `base`, `base-2`, `base-3`, ... that `taken` refuses, shortening `base` so that the label stays
 * within 63 characters. The first-come node keeps the plain label; the order of registrations decides the rest.
 */
export function freeLabel (base: string, taken: (label: string) => boolean): string {
  if (!taken(base)) return base
  for (let i = 2; ; i++) {
    const suffix = `-${i}`
    const label = base.slice(0, MAX_LABEL - suffix.length).replace(/-+$/, '') + suffix
    if (!taken(label)) return label
  }
}

/**
 * Why `domain` cannot be the mesh's DNS domain, or null when it can: dot-separated labels (lower case), no
 * trailing dot, at most MAX_DOMAIN characters, and not `local` (mDNS) or anything under `arpa` (reverse lookups).
 */
export function domainProblem (domain: string): string | null {
  if (domain === '' || domain.length > MAX_DOMAIN) return `must be 1-${MAX_DOMAIN} characters`
  const labels = domain.split('.')
  const bad = labels.find(l => !isLabel(l))
  if (bad !== undefined) return `"${bad}" is not a lower-case DNS label (a-z, 0-9 and -, 1-63 characters, no - at either end)`
  const top = labels[labels.length - 1]
  if (top === 'local') return 'names under .local belong to mDNS'
  if (top === 'arpa') return 'names under .arpa are for reverse lookups'
  return null
}

/** The full name of a node labelled `label` in `domain`. */
export function fqdn (label: string, domain: string): string {
  return `${label}.${domain}`
}
