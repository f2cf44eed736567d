/**
 * What a subnet router does on its own host: forward IPv4 between the Weft interface and the rest of the host,
 * and (by default) source-NAT what it forwards from the mesh, so hosts on the routed LAN answer to the router's
 * address and need no route back to the mesh.
 *
 * The NAT rule lives in its own nftables table per interface (`ip weft_<ifname>`), replaced whole in one
 * transaction, so a restart re-applies it without a moment without NAT and nothing else's rules are touched.
 */
import { readFile, writeFile } from 'node:fs/promises'
import type { Logger } from '../log.js'
import { inNetns, run, type Netns } from './wg/exec.js'

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward'

/** The nftables table that holds the router's NAT for `ifname`. */
export function natTable (ifname: string): string {
  return `weft_${ifname.replace(/[^A-Za-z0-9_]/g, '_')}`
}

/**
 * The nft script that makes the NAT table exactly what `snat` asks: masquerade packets that came in on `ifname`
 * and leave by another interface, or (snat false) no table at all. Adding the table before deleting it makes
 * the delete succeed on a host that has none; all of it is one transaction.
 */
export function natScript (ifname: string, snat: boolean): string {
  const t = natTable(ifname)
  const lines = [`table ip ${t} {}`, `delete table ip ${t}`]
  if (snat) {
    lines.push(
      `table ip ${t} {`,
      '  chain postrouting {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      `    iifname "${ifname}" oifname != "${ifname}" masquerade`,
      '  }',
      '}'
    )
  }
  return lines.join('\n') + '\n'
}

/**
 * Turns IPv4 forwarding on (saying so when it was off) and sets the NAT table for `ifname`. `netns`: run in that
 * namespace (tests); the daemon itself works in its own. Throws DeviceError when nft fails.
 */
export async function enableForwarding (o: { ifname: string, snat: boolean, netns?: Netns, log: Logger }): Promise<void> {
  if (o.netns === undefined) {
    const was = (await readFile(IP_FORWARD, 'utf8')).trim()
    if (was !== '1') {
      await writeFile(IP_FORWARD, '1\n')
      o.log.warn({ event: 'routes.forwarding', sysctl: 'net.ipv4.ip_forward', from: Number(was), to: 1 },
        'turned IPv4 forwarding on (net.ipv4.ip_forward=1) to route the advertised subnets; it stays on when the daemon stops')
    }
  } else {
    await run(inNetns(o.netns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']))
  }
  await run(inNetns(o.netns, ['nft', '-f', '-']), { input: natScript(o.ifname, o.snat) })
  o.log.info({ event: 'routes.nat', ifname: o.ifname, snat: o.snat, table: natTable(o.ifname) },
    o.snat ? `source NAT on for traffic forwarded from ${o.ifname}` : 'no source NAT: forwarded traffic keeps its mesh source address')
}
