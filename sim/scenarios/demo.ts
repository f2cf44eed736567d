import type { Scenario } from './scenario.js'

/** `demo` (the README's quick start): ping every pair, crash one node, show it removed everywhere, bring it back. */
export const demo: Scenario = {
  name: 'demo',
  summary: 'ping every pair, crash one node, see it removed everywhere, bring it back',
  async run (ctx) {
    ctx.phase('pinging every pair over the mesh')
    let r = await ctx.pingAll()
    ctx.say(`every pair pings: ${r.ok}/${r.total} pairs answered`)
    const [victim] = ctx.pick(1, [0])
    if (victim === undefined) return
    ctx.phase(`crashing node ${victim} (kill -9 of its daemon and wireguard-go)`)
    const t = ctx.now()
    await ctx.crash([victim])
    if (await ctx.settle(`node ${victim} removed everywhere`)) {
      ctx.say(`node ${victim} removed from the WireGuard config of all ${ctx.nodes - 1} live nodes ${((ctx.now() - t) / 1000).toFixed(1)} s after the crash`)
    }
    const row = (await ctx.mesh.tryStatus(0))?.peers.find(p => p.meshIp === ctx.ipOf.get(victim))
    if (row !== undefined) {
      ctx.say('weft status on node 0 says: ' +
        `node-${victim} ${row.meshIp} swim=${row.swim} health=${row.health} inWireGuard=${row.inWireGuard}`)
    }
    ctx.phase(`restarting node ${victim}`)
    const t2 = ctx.now()
    await ctx.restart([victim])
    if (await ctx.settle(`node ${victim} re-added everywhere`)) {
      ctx.say(`node ${victim} back in every config ${((ctx.now() - t2) / 1000).toFixed(1)} s after its restart`)
    }
    ctx.phase('pinging every pair again')
    r = await ctx.pingAll()
    ctx.say(`every pair pings: ${r.ok}/${r.total} pairs answered`)
  }
}
