/**
 * Loss and partitions with nftables (this kernel has no netem). Loss and a node's blocked addresses live in
 * tables of their own inside the node's namespace; cuts between groups of nodes live in one bridge-family table
 * in the underlay bridge's namespace, so that a whole cut starts and ends in one transaction. Re-setting a
 * table replaces it.
 */
import { isIP } from 'node:net'
import { run, inNetns } from '../../lib/daemon/wg/exec.js'

const LOSS_TABLE = 'weft_loss'
const PART_TABLE = 'weft_part'
const CUT_TABLE = 'weft_cut'

/** nft script replacing the loss table: drop `percent`% of packets in and out of `iface`, chosen at random. */
export function lossScript (iface: string, percent: number): string {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new Error(`loss percent ${percent} is not an integer 0-100`)
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(iface)) throw new Error(`interface name "${iface}" is not valid`)
  // nft refuses `mod 100 < 100` (the right side must be 0-99): total loss is an unconditional drop.
  const match = percent === 100 ? '' : `numgen random mod 100 < ${percent}`
  // Declaring the table before deleting it makes the delete succeed whether or not it existed.
  return [
    `table inet ${LOSS_TABLE}`,
    `delete table inet ${LOSS_TABLE}`,
    `table inet ${LOSS_TABLE} {`,
    '  chain in {',
    '    type filter hook input priority 0; policy accept;',
    `    iifname "${iface}" ${match} drop`,
    '  }',
    '  chain out {',
    '    type filter hook output priority 0; policy accept;',
    `    oifname "${iface}" ${match} drop`,
    '  }',
    '}',
    ''
  ].join('\n')
}

/** nft script replacing the partition table: drop everything from and to `addrs` (IPv4). */
export function partitionScript (addrs: readonly string[]): string {
  for (const a of addrs) if (isIP(a) !== 4) throw new Error(`partition address "${a}" is not IPv4`)
  const lines = [`table inet ${PART_TABLE}`, `delete table inet ${PART_TABLE}`]
  if (addrs.length > 0) {
    lines.push(
      `table inet ${PART_TABLE} {`,
      `  set blocked { type ipv4_addr; elements = { ${addrs.join(', ')} } }`,
      '  chain in {', '    type filter hook input priority 0; policy accept;', '    ip saddr @blocked drop', '  }',
      '  chain out {', '    type filter hook output priority 0; policy accept;', '    ip daddr @blocked drop', '  }',
      '}'
    )
  }
  return lines.join('\n') + '\n'
}

/** One cut: the underlay addresses of its two sides. */
export type Cut = readonly [readonly string[], readonly string[]]

/**
 * nft script for the underlay bridge's namespace replacing every cut: frames from one side of a cut to the
 * other are dropped where the bridge forwards them, both ways. One script, one transaction: every pair of the
 * cut stops (and, with no cuts, starts) at the same instant, however many nodes there are. Per-node rules took
 * tens of seconds to reach all 50 nodes of a loaded host, and meanwhile the pairs not yet cut carried each
 * side's claims to the other.
 */
export function cutScript (cuts: readonly Cut[]): string {
  for (const [a, b] of cuts) for (const addr of [...a, ...b]) if (isIP(addr) !== 4) throw new Error(`cut address "${addr}" is not IPv4`)
  const lines = [`table bridge ${CUT_TABLE}`, `delete table bridge ${CUT_TABLE}`]
  if (cuts.length > 0) {
    lines.push(`table bridge ${CUT_TABLE} {`)
    cuts.forEach(([a, b], k) => {
      lines.push(`  set a${k} { type ipv4_addr; elements = { ${a.join(', ')} } }`, `  set b${k} { type ipv4_addr; elements = { ${b.join(', ')} } }`)
    })
    lines.push('  chain cut {', '    type filter hook forward priority 0; policy accept;')
    cuts.forEach((_, k) => lines.push(`    ip saddr @a${k} ip daddr @b${k} drop`, `    ip saddr @b${k} ip daddr @a${k} drop`))
    lines.push('  }', '}')
  }
  return lines.join('\n') + '\n'
}

function removeScript (table: string): string {
  return `table inet ${table}\ndelete table inet ${table}\n`
}

/**
 * Applies an nft script inside `netns`. 30 s: on a host saturated by the mesh under test (N=50 on two cores,
 * load 50), one of 50 scripts applied together took longer than the default 10 s and failed a `loss` run.
 */
export async function nft (netns: string, script: string): Promise<void> {
  await run(inNetns(netns, ['nft', '-f', '-']), { input: script, timeoutMs: 30_000 })
}

/** Drops `percent`% of packets in and out of `iface` in `netns`; 0 removes the loss. */
export async function setLoss (netns: string, iface: string, percent: number): Promise<void> {
  await nft(netns, percent === 0 ? removeScript(LOSS_TABLE) : lossScript(iface, percent))
}

/** Blocks all traffic between `netns` and `addrs`; an empty list heals. */
export async function setBlocked (netns: string, addrs: readonly string[]): Promise<void> {
  await nft(netns, partitionScript(addrs))
}

/** Replaces every cut in the underlay bridge's namespace `bridgeNs` (cutScript). */
export async function setCuts (bridgeNs: string, cuts: readonly Cut[]): Promise<void> {
  await nft(bridgeNs, cutScript(cuts))
}
