import type { Random } from '../../lib/swim/random.js'

/**
 * Generated access policy documents (docs/policy.md) for the benches: groups of node hostnames, declared tags,
 * host ranges, and accept rules drawn from them. The same `rnd` sequence gives the same document, so a seed
 * names one; every document passes parsePolicy, and names only the hostnames it is given.
 */

/** How big a generated document is. */
export interface PolicyShape {
  rules: number
  /** Groups `group:g<i>`, each of `groupSize` hostnames drawn (with repeats) from the given ones. */
  groups: number
  groupSize: number
  /** Tags `tag:t<i>`, declared in `tagOwners` and used by rules. */
  tags: number
  /** Hosts `h<i>`, the /28s 192.0.2.<16 i>/28 (so at most 16). */
  hosts: number
}

/**
 * A policy document of `shape` over `hostnames`, as pretty JSON. Each rule takes 1-3 sources and 1-2
 * destinations: a tag (45 %), a group (25 %), a hostname (20 %), a host (8 %) or `*`; with one port, a range
 * or a list, and `proto: tcp` half the time.
 */
export function randomPolicy (hostnames: readonly string[], shape: PolicyShape, rnd: Random): string {
  const name = (): string => hostnames[rnd.int(hostnames.length)]!
  const pick = (): string => {
    const r = rnd.next()
    if (r < 0.45) return `tag:t${rnd.int(shape.tags)}`
    if (r < 0.7) return `group:g${rnd.int(shape.groups)}`
    if (r < 0.9) return name()
    if (r < 0.98) return `h${rnd.int(shape.hosts)}`
    return '*'
  }
  const ports = (): string => {
    const r = rnd.next()
    if (r < 0.6) return String(1 + rnd.int(9000))
    if (r < 0.8) { const a = 1000 + rnd.int(8000); return `${a}-${a + rnd.int(100)}` }
    return '80,443,8080'
  }
  const groups = Object.fromEntries(Array.from({ length: shape.groups }, (_, g) => [`group:g${g}`, Array.from({ length: shape.groupSize }, name)]))
  const tagOwners = Object.fromEntries(Array.from({ length: shape.tags }, (_, i) => [`tag:t${i}`, ['autogroup:admin']]))
  const hosts = Object.fromEntries(Array.from({ length: shape.hosts }, (_, h) => [`h${h}`, `192.0.2.${h * 16}/28`]))
  const acls = Array.from({ length: shape.rules }, () => ({
    action: 'accept',
    src: Array.from({ length: 1 + rnd.int(3) }, pick),
    dst: Array.from({ length: 1 + rnd.int(2) }, () => `${pick()}:${ports()}`),
    ...(rnd.next() < 0.5 ? { proto: 'tcp' } : {})
  }))
  return JSON.stringify({ groups, tagOwners, hosts, acls }, null, 1)
}
