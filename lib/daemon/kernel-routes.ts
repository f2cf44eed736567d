/**
 * The kernel's routes for other nodes' subnet routes: each enabled route of another node points at the
 * Weft interface, whichever peer carries it (route-choice.ts decides that, in AllowedIPs). The routes stay while
 * a route is enabled, even with no live router: WireGuard then drops the packets ("no peer for the
 * destination") instead of the host sending them out its default route, so a dead router fails closed.
 *
 * Weft's routes carry their own protocol number (WEFT_ROUTE_PROTO), so a restarted daemon finds the ones it
 * installed and removes those no longer wanted, and never touches a route an operator added by hand.
 */
import type { Logger } from '../log.js'
import { ipCmd, run, type Netns } from './wg/exec.js'

/** `proto` of every route Weft installs (`ip route show proto 87`); no routing daemon uses it. */
export const WEFT_ROUTE_PROTO = 87

/** Keeps the interface's Weft routes equal to a wanted list, with one `ip -batch` per change. */
export class KernelRoutes {
  /** What is installed, once read; null until the first sync reads the kernel. */
  private installed: Set<string> | null

  /** `fresh`: the interface was created by this start, so it holds no route yet and nothing needs reading. */
  constructor (private readonly o: { ifname: string, netns?: Netns, log: Logger, fresh?: boolean }) {
    this.installed = o.fresh === true ? new Set() : null
  }

  /** The routes installed now (sorted); empty before the first sync. */
  get routes (): string[] { return [...(this.installed ?? [])].sort() }

  /** Makes the Weft routes on the interface exactly `want`. Throws DeviceError when `ip` fails; the next sync reads again. */
  async sync (want: readonly string[]): Promise<void> {
    const ip = (...args: string[]): string[] => ipCmd(this.o.netns, ...args)
    if (this.installed === null) {
      const out = (await run(ip('-j', '-4', 'route', 'show', 'dev', this.o.ifname, 'proto', String(WEFT_ROUTE_PROTO)))).stdout
      this.installed = new Set((JSON.parse(out === '' ? '[]' : out) as Array<{ dst: string }>).map(r => r.dst))
    }
    const have = this.installed
    const wanted = new Set(want)
    const add = want.filter(r => !have.has(r))
    const del = [...have].filter(r => !wanted.has(r))
    if (add.length === 0 && del.length === 0) return
    const lines = [
      ...add.map(r => `route replace ${r} dev ${this.o.ifname} proto ${WEFT_ROUTE_PROTO}`),
      ...del.map(r => `route del ${r} dev ${this.o.ifname} proto ${WEFT_ROUTE_PROTO}`)
    ]
    try {
      await run(ip('-batch', '-'), { input: lines.join('\n') + '\n' })
    } catch (err) {
      this.installed = null
      throw err
    }
    for (const r of add) have.add(r)
    for (const r of del) have.delete(r)
    this.o.log.info({ event: 'routes.kernel', ifname: this.o.ifname, added: add, removed: del },
      `kernel routes via ${this.o.ifname}: +${add.join(',') || 'none'} -${del.join(',') || 'none'}`)
  }
}
