import t from 'tap'
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { silentLogger } from '../../lib/log.js'
import { waitFor } from '../../sim/wait.js'
import { uapiSocketPath } from '../../lib/daemon/wg/uapi-socket.js'
import { pidAlive, socketOwners } from '../../lib/daemon/wg/wireguard-go.js'
import { NetnsWorld } from '../../sim/netns/world.js'
import { cleanupStale, listNetns, runIsLive } from '../../sim/netns/cleanup.js'
import { WorldNames } from '../../sim/netns/names.js'
import { AUTOGROUP_PATHS } from '../../sim/netns/autogroup.js'

const log = silentLogger()
const execFileP = promisify(execFile)
const N = 10

async function pingUnderlay (from: string, to: string, count: number): Promise<number> {
  // ping exits non-zero when replies are missing; its summary on stdout is what counts.
  const res = await execFileP('ip', [
    'netns',
    'exec',
    from,
    'ping',
    '-q',
    '-n',
    '-c',
    String(count),
    '-i',
    '0.01',
    '-W',
    '1',
    to
  ], { timeout: 30_000, encoding: 'utf8' })
    .catch((err: { stdout?: string, message: string }) => ({ stdout: err.stdout ?? err.message }))
  const m = /(\d+) packets transmitted, (\d+) received/.exec(res.stdout)
  if (m === null) throw new Error(`no ping summary in: ${res.stdout}`)
  return Number(m[2])
}

const t0 = Date.now()
const world = await NetnsWorld.create({ nodes: N, controller: true, log })
const setupMs = Date.now() - t0
const prefix = world.names.prefix
t.teardown(async () => { await world.destroy() })

t.test(`harness builds ${N} nodes and a controller, wired to one underlay`, async (t) => {
  t.comment(`set-up of ${N} nodes + controller + bridge: ${setupMs} ms`)
  const mine = listNetns().filter(n => n.startsWith(prefix + '-')).sort()
  t.equal(mine.length, N + 2)
  t.ok(mine.includes(world.names.bridgeNs) && mine.includes(world.names.controllerNs))
  for (let i = 0; i < N; i++) {
    const addrs = JSON.parse((await world.exec(world.names.nodeNs(i), ['ip', '-j', '-4', 'addr', 'show', 'dev', world.names.nodeEth(i)])).stdout)
    t.equal(addrs[0].addr_info[0].local, world.names.nodeAddr(i))
    t.ok(world.names.nodeWg(i).length <= 15 && world.names.nodeEth(i).length <= 15 && world.names.nodePort(i).length <= 15)
  }
  t.equal(await pingUnderlay(world.names.nodeNs(0), world.names.nodeAddr(N - 1), 3), 3, 'node 0 reaches the last node')
  t.equal(await pingUnderlay(world.names.nodeNs(N - 1), world.names.controllerAddr, 3), 3, 'nodes reach the controller')
  t.equal(await pingUnderlay(world.names.nodeNs(0), '127.0.0.1', 1), 1, 'loopback up in node namespaces')
  const resolvConf = (await world.exec(world.names.nodeNs(N - 1), ['cat', '/etc/resolv.conf'])).stdout
  t.equal(resolvConf, `nameserver ${world.names.controllerAddr}\n`, 'a node\'s resolv.conf points inside the world')
  t.not(readFileSync('/etc/resolv.conf', 'utf8'), resolvConf, 'the machine\'s own is untouched')
})

t.test('loss injection measurably drops packets, and undoing it restores delivery', async (t) => {
  const from = world.names.nodeNs(0)
  const to = world.names.nodeAddr(1)
  t.equal(await pingUnderlay(from, to, 100), 100, 'no loss before')
  await world.setLoss(0, 50)
  const lossy = await pingUnderlay(from, to, 200)
  // 50% out and 50% in: a round trip survives 25% of the time; 200 tries put the count near 50.
  t.comment(`with 50% loss each way: ${lossy}/200 round trips`)
  t.ok(lossy > 10 && lossy < 100, `about a quarter survive (${lossy}/200)`)
  await world.setLoss(0, 30)
  const nft = (await world.exec(from, ['nft', 'list', 'table', 'inet', 'weft_loss'])).stdout
  t.match(nft, /numgen random mod 100 < 30/, 'setting again replaces the rule')
  t.notMatch(nft, /< 50/)
  await world.setLoss(0, 0)
  t.equal(await pingUnderlay(from, to, 100), 100, 'no loss after undo')
  await t.rejects(world.setLoss(0, 101))
})

t.test('partition blocks traffic between groups, not within, and heals', async (t) => {
  await world.partition([0, 1], [2, 3])
  t.equal(await pingUnderlay(world.names.nodeNs(0), world.names.nodeAddr(2), 5), 0, '0 -> 2 blocked')
  t.equal(await pingUnderlay(world.names.nodeNs(3), world.names.nodeAddr(1), 5), 0, '3 -> 1 blocked')
  t.equal(await pingUnderlay(world.names.nodeNs(0), world.names.nodeAddr(1), 5), 5, '0 -> 1 same side')
  t.equal(await pingUnderlay(world.names.nodeNs(2), world.names.nodeAddr(3), 5), 5, '2 -> 3 same side')
  t.equal(await pingUnderlay(world.names.nodeNs(0), world.names.nodeAddr(4), 5), 5, '0 -> 4 outside the partition')
  await world.heal()
  t.equal(await pingUnderlay(world.names.nodeNs(0), world.names.nodeAddr(2), 5), 5, 'healed')
  t.equal(await pingUnderlay(world.names.nodeNs(3), world.names.nodeAddr(1), 5), 5, 'healed both ways')
})

t.test('stale cleanup removes a crashed run (namespaces, recorded and unrecorded wireguard-go) and spares live runs', async (t) => {
  // A real crash: a child builds a world, starts wireguard-go with and without pid files, then SIGKILLs itself.
  const worldJs = fileURLToPath(new URL('../../sim/netns/world.js', import.meta.url))
  const openJs = fileURLToPath(new URL('../../lib/daemon/wg/open.js', import.meta.url))
  const keysJs = fileURLToPath(new URL('../../lib/wire/keys.js', import.meta.url))
  const logJs = fileURLToPath(new URL('../../lib/log.js', import.meta.url))
  const script = `
    const { NetnsWorld } = await import(${JSON.stringify(worldJs)})
    const { openDevice } = await import(${JSON.stringify(openJs)})
    const { generateKeyPair } = await import(${JSON.stringify(keysJs)})
    const { silentLogger } = await import(${JSON.stringify(logJs)})
    const log = silentLogger()
    const w = await NetnsWorld.create({ nodes: 2, log, cleanStale: false })
    await w.openWireguard(0, { privateKey: generateKeyPair().privateKey, listenPort: 51820 })
    await openDevice({
      driver: 'userspace',
      ifname: w.names.nodeWg(1),
      privateKey: generateKeyPair().privateKey,
      listenPort: 51820,
      netns: w.names.nodeNs(1),
      log
    })
    const sleeper = w.spawn(w.names.nodeNs(1), ['sleep', '600'], { name: 'sleep' })
    process.stdout.write(JSON.stringify({ prefix: w.names.prefix, sleeper: sleeper.pid }) + '\\n')
    process.kill(process.pid, 'SIGKILL')
  `
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 })
  t.equal(child.signal, 'SIGKILL', 'the child crashed hard')
  const { prefix: crashed, sleeper } = JSON.parse(child.stdout.trim()) as { prefix: string, sleeper: number }
  const names = new WorldNames(crashed)
  const socks = [0, 1].map(i => uapiSocketPath(names.nodeWg(i)))
  const owners = await socketOwners(new Set(socks))
  const wgPids = socks.map(s => owners.get(s)?.[0])
  t.ok(wgPids.every(p => p !== undefined && pidAlive(p)), 'both wireguard-go outlived the crash')
  t.ok(pidAlive(sleeper), 'spawned process outlived the crash')
  t.equal(listNetns().filter(n => n.startsWith(crashed + '-')).length, 3, 'its namespaces are left over')
  t.notOk(runIsLive(crashed))
  t.ok(runIsLive(prefix), 'this run counts as live')

  const removed = await cleanupStale(log)
  t.ok(removed.includes(crashed))
  t.notOk(removed.includes(prefix), 'live run spared')
  t.same(listNetns().filter(n => n.startsWith(crashed + '-')), [], 'crashed namespaces gone')
  t.ok(wgPids.every(p => !pidAlive(p!)), 'wireguard-go with pid file and without both ended')
  t.notOk(pidAlive(sleeper), 'spawned process ended')
  t.ok(socks.every(s => !existsSync(s)), 'sockets removed')
  t.notOk(existsSync(names.runDir), 'run dir removed')
  t.notOk(existsSync(`/etc/netns/${names.nodeNs(0)}`), 'its /etc/netns directories removed')
  t.equal(listNetns().filter(n => n.startsWith(prefix + '-')).length, N + 2, 'our namespaces untouched')
})

t.test('a process that is signalled or simply exits removes its world', async (t) => {
  const worldJs = fileURLToPath(new URL('../../sim/netns/world.js', import.meta.url))
  const logJs = fileURLToPath(new URL('../../lib/log.js', import.meta.url))
  const body = (tail: string): string => `
    const { NetnsWorld } = await import(${JSON.stringify(worldJs)})
    const { silentLogger } = await import(${JSON.stringify(logJs)})
    const w = await NetnsWorld.create({ nodes: 2, log: silentLogger(), cleanStale: false })
    w.spawn(w.names.nodeNs(0), ['sleep', '600'], { name: 'sleep' })
    process.stdout.write(w.names.prefix + '\\n')
    ${tail}
  `
  for (const [how, tail] of [['SIGTERM', 'setInterval(() => {}, 1000)'], ['SIGINT', 'setInterval(() => {}, 1000)'], ['exit', 'process.exit(0)']] as const) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', body(tail)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.setEncoding('utf8')
    const childPrefix = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: string) => { out += d; if (out.includes('\n')) resolve(out.trim()) })
      child.on('exit', () => { if (!out.includes('\n')) reject(new Error('child exited before making its world')) })
    })
    const exited = new Promise<NodeJS.Signals | number | null>(resolve => child.on('exit', (code, signal) => resolve(signal ?? code)))
    if (how !== 'exit') {
      t.equal(listNetns().filter(n => n.startsWith(childPrefix + '-')).length, 3, `${how}: world exists while the child runs`)
      child.kill(how)
    }
    const result = await exited
    if (how !== 'exit') t.equal(result, how, `${how}: the child still ends by the signal`)
    t.same(listNetns().filter(n => n.startsWith(childPrefix + '-')), [], `${how}: namespaces removed`)
    t.notOk(existsSync(new WorldNames(childPrefix).runDir), `${how}: run dir removed`)
  }
})

t.test('flat scheduling turns autogroup off while the world lives and gives the machine its value back, also after a kill -9', async (t) => {
  const setting = (): string | null => existsSync(AUTOGROUP_PATHS.sysctl) ? readFileSync(AUTOGROUP_PATHS.sysctl, 'utf8').trim() : null
  const before = setting()
  const w = await NetnsWorld.create({ nodes: 1, flatScheduling: true, log, cleanStale: false })
  if (before === null) {
    t.equal(w.autogroup, 'unavailable', 'this kernel has no autogroup')
    await w.destroy()
    return
  }
  t.equal(w.autogroup, before === '0' ? 'off' : 'disabled')
  t.equal(setting(), '0', 'off while the world lives')
  await w.destroy()
  t.equal(setting(), before, 'back after destroy()')

  const worldJs = fileURLToPath(new URL('../../sim/netns/world.js', import.meta.url))
  const logJs = fileURLToPath(new URL('../../lib/log.js', import.meta.url))
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    const { NetnsWorld } = await import(${JSON.stringify(worldJs)})
    const { silentLogger } = await import(${JSON.stringify(logJs)})
    const w = await NetnsWorld.create({ nodes: 1, flatScheduling: true, log: silentLogger(), cleanStale: false })
    process.stdout.write(w.names.prefix + '\\n')
    setInterval(() => {}, 1000)
  `], { stdio: ['ignore', 'pipe', 'inherit'] })
  child.stdout.setEncoding('utf8')
  const childPrefix = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d: string) => { out += d; if (out.includes('\n')) resolve(out.trim()) })
    child.on('exit', () => { if (!out.includes('\n')) reject(new Error('child exited before making its world')) })
  })
  const exited = new Promise(resolve => child.on('exit', resolve))
  child.kill('SIGKILL')
  await exited
  t.equal(setting(), '0', 'a killed owner cannot put it back')
  t.ok((await cleanupStale(log)).includes(childPrefix), 'the next stale cleanup finds the crashed run')
  t.equal(setting(), before, 'and puts the setting back')
})

t.test('spawned processes are tracked and destroy() leaves nothing of the run', async (t) => {
  const sleeper = world.spawn(world.names.nodeNs(5), ['sleep', '600'], { name: 'sleep' })
  t.ok(sleeper.pid !== undefined && pidAlive(sleeper.pid))
  // `ip netns exec` is the spawned process until it has entered the namespace and exec'd: ask until it has.
  const identify = (): string => execFileSync('ip', ['netns', 'identify', String(sleeper.pid)], { encoding: 'utf8' }).trim()
  await waitFor('the spawned process to enter its namespace', () => identify() !== '', 5000, 10)
  t.equal(identify(), world.names.nodeNs(5), 'runs inside the node namespace')
  await world.destroy()
  t.same(listNetns().filter(n => n.startsWith(prefix + '-')), [])
  t.notOk(pidAlive(sleeper.pid!), 'spawned process ended')
  t.notOk(existsSync(world.names.runDir))
  t.notOk(existsSync(`/etc/netns/${world.names.nodeNs(5)}`), 'nor its /etc/netns directories')
  await world.destroy() // idempotent
})
