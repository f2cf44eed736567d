/**
 * Loss and partitions with nftables inside one namespace (this kernel has no netem). Each effect lives in a
 * table of its own, so loss and partition can be set and undone independently, and re-setting replaces.
 */
import { isIP } from 'node:net'
import { run, inNetns } from '../../lib/daemon/wg/exec.js'

const LOSS_TABLE = 'weft_loss'
const PART_TABLE = 'weft_part'

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
